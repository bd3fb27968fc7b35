"""Network targets of connectors: the allowlist, checked on an address resolved once.

An allowlist entry is a host name, an IP address or a CIDR, optionally with ``:port``
(``10.20.0.0/16``, ``10.20.0.5:4840``, ``plc-7.plant.local:502``, ``[fd00::1]:1883``). A
factory without entries uses ``CONNECTOR_DEFAULT_ALLOWLIST``. Private ranges are not
blocked as such: plants live on private addresses, so the allowlist decides.

Every outbound connection is *pinned*: the host name is resolved once
(:func:`resolve_pinned`), the addresses it gave are checked against the allowlist, and the
connection goes to the checked address — never to a second answer of the resolver, so a
DNS answer that changes between check and connect (DNS rebinding) cannot redirect it.
OPC UA, MQTT and Modbus adapters connect to ``Target.address``; HTTP goes through
:func:`pinned_client`, whose transport keeps the host name for the ``Host`` header and TLS (SNI,
certificate verification) while it connects to the checked address, and checks every
other host a client reaches (a redirect hop, a page on another host) the same way.

Host-name entries are checked against the resolved address too: a name entry allows its
name when the name resolves to an ordinary unicast address (private ranges included).
A loopback, link-local (e.g. the cloud metadata address 169.254.169.254), unspecified,
multicast or reserved address is reached only when an IP or CIDR entry covers it: a
name does not vouch for those, whatever it resolves to.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpcore
import httpx
from django.conf import settings


@dataclass(frozen=True)
class Target:
    """A network target after the allowlist check: the name asked for and the address used.

    ``allowlist`` is the list it was checked against; an HTTP client checks any other host
    it reaches (a redirect hop) against the same list (``coe.network``).
    """

    host: str
    address: str
    port: int
    allowlist: tuple[str, ...] = ()


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the name resolves to, in the resolver's order.
Resolver = Callable[[str, int], list[str]]


class TargetBlocked(Exception):
    """The target is not on the allowlist (or cannot be resolved); never retried."""


@dataclass(frozen=True)
class Rule:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    host: str
    port: int | None

    def matches(self, host: str, address: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return _ip(address) in self.network
        return self.host == host.lower().rstrip(".") and not _special(_ip(address))


def _ip(address: str) -> IPAddress:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _special(ip: IPAddress) -> bool:
    """Addresses a host-name entry never vouches for (an IP or CIDR entry must)."""
    return (
        ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip.is_reserved
    )


def parse_rule(entry: str) -> Rule:
    """One allowlist entry; ValueError when it is not host/IP/CIDR[:port]."""
    text = entry.strip()
    port: int | None = None
    if text.startswith("["):  # [v6]:port
        inner, _, rest = text[1:].partition("]")
        text = inner
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        text, _, port_text = text.partition(":")
        port = int(port_text)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{entry}: bad port")
    try:
        return Rule(ipaddress.ip_network(text, strict=False), "", port)
    except ValueError:
        if not text or any(c in text for c in "/ "):
            raise ValueError(f"{entry}: not a host, IP or CIDR") from None
        return Rule(None, text.lower().rstrip("."), port)


def allowlist_for(factory) -> list[str]:
    return list(factory.network_allowlist or settings.CONNECTOR_DEFAULT_ALLOWLIST)


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of ``host`` from the operating system's resolver (one call)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def resolve_pinned(
    host: str, port: int, allowlist: Iterable[str], *, resolver: Resolver | None = None
) -> Target:
    """``host:port`` resolved once and checked: the Target whose ``address`` to connect to.

    The first resolved address the allowlist allows is chosen; TargetBlocked when the
    allowlist is empty, the name does not resolve, or no address is allowed. Every
    adapter (and any later outbound client, e.g. webhooks) connects to ``address`` only.
    """
    entries = tuple(allowlist)
    if not entries:
        raise TargetBlocked(
            f"{host}:{port} is blocked: the factory has no network allowlist and "
            "CONNECTOR_DEFAULT_ALLOWLIST is empty"
        )
    rules = []
    for entry in entries:
        try:
            rules.append(parse_rule(entry))
        except ValueError:
            continue  # a bad entry allows nothing
    try:
        addresses = (resolver or system_resolver)(host, port)
    except (OSError, UnicodeError) as exc:
        raise TargetBlocked(f"{host}: cannot be resolved ({exc})") from exc
    for address in addresses:
        if any(rule.matches(host, address, port) for rule in rules):
            return Target(host=host, address=address, port=port, allowlist=entries)
    shown = ", ".join(addresses) or "no address"
    raise TargetBlocked(f"{host}:{port} ({shown}) is not on the factory's network allowlist")


def resolve_target(factory, host: str, port: int) -> Target:
    """The allowlisted address to connect to for ``host:port``; TargetBlocked otherwise."""
    return resolve_pinned(host, port, allowlist_for(factory))


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, connecting each host to its checked, pinned address.

    httpcore passes the URL's host to ``connect_tcp`` and still uses it for TLS (SNI and
    certificate checks) and the ``Host`` header; only the socket goes to the address.
    """

    def __init__(self, first: Target, *, resolver: Resolver | None = None):
        self.allowlist = first.allowlist
        self.resolver = resolver
        self.pins: dict[tuple[str, int], str] = {(first.host.lower(), first.port): first.address}
        self._backend = httpcore.SyncBackend()

    def address_of(self, host: str, port: int) -> str:
        key = (host.lower(), port)
        if key not in self.pins:
            self.pins[key] = resolve_pinned(
                host, port, self.allowlist, resolver=self.resolver
            ).address
        return self.pins[key]

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = self.address_of(host, port)
        return self._backend.connect_tcp(address, port, timeout, local_address, socket_options)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise TargetBlocked("unix sockets are not a connector target")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through a :class:`PinnedBackend`."""

    def __init__(self, first: Target, *, verify=True, resolver: Resolver | None = None):
        super().__init__(verify=verify, trust_env=False)
        self.backend = PinnedBackend(first, resolver=resolver)
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        limits = httpx.Limits()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )


def pinned_client(target: Target, *, verify=True, **options) -> httpx.Client:
    """An httpx client pinned to ``target`` (and the allowlist for any other host).

    Proxies from the environment are not used (``trust_env=False``): a proxy would make the
    connection, and the pinning would check the proxy instead of the target.
    """
    return httpx.Client(
        transport=PinnedTransport(target, verify=verify), trust_env=False, **options
    )
