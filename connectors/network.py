"""Network targets of connectors: the factory's allowlist, resolved once.

An allowlist entry is a host name, an IP address or a CIDR, optionally with ``:port``
(``10.20.0.0/16``, ``10.20.0.5:4840``, ``plc-7.plant.local:502``, ``[fd00::1]:1883``). A
factory without entries uses ``CONNECTOR_DEFAULT_ALLOWLIST``. Private ranges are not
blocked as such: plants live on private addresses, so only the allowlist decides. The name
is resolved once; the adapter connects to that address, so a DNS answer that changes
between check and connect cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from django.conf import settings

from connectors.sources.base import Target


class TargetBlocked(Exception):
    """The connector's target is not on the factory's allowlist (or cannot be resolved)."""


@dataclass(frozen=True)
class Rule:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    host: str
    port: int | None

    def matches(self, host: str, address: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return ipaddress.ip_address(address) in self.network
        return self.host == host.lower()


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
        return Rule(None, text.lower(), port)


def allowlist_for(factory) -> list[str]:
    return list(factory.network_allowlist or settings.CONNECTOR_DEFAULT_ALLOWLIST)


def resolve_target(factory, host: str, port: int) -> Target:
    """The allowlisted address to connect to for ``host:port``; TargetBlocked otherwise."""
    entries = allowlist_for(factory)
    if not entries:
        raise TargetBlocked(
            f"{host}:{port} is blocked: the factory has no network allowlist and "
            "CONNECTOR_DEFAULT_ALLOWLIST is empty"
        )
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetBlocked(f"{host}: cannot be resolved ({exc})") from exc
    address = infos[0][4][0]
    rules = []
    for entry in entries:
        try:
            rules.append(parse_rule(entry))
        except ValueError:
            continue  # a bad entry allows nothing
    if any(rule.matches(host, address, port) for rule in rules):
        return Target(host=host, address=address, port=port)
    raise TargetBlocked(f"{host}:{port} ({address}) is not on the factory's network allowlist")
