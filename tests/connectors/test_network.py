"""Pinned outbound connections: resolved once, checked against the allowlist, connected to
the checked address — against real local HTTP(S) servers and a resolver that rebinds."""

from __future__ import annotations

import datetime
import re
import socket
import ssl

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from werkzeug import Response

from coe.network import TargetBlocked, pinned_client, resolve_pinned
from connectors.models import Device
from connectors.services import connector_create
from tests.connectors.helpers import run_sync
from tests.connectors.test_inventory_sources import netbox_device

REAL_GETADDRINFO = socket.getaddrinfo


class RebindingDNS:
    """``socket.getaddrinfo`` for made-up names: the first answer of a name is ``first``,
    every later answer ``then`` (DNS rebinding); other names go to the real resolver."""

    def __init__(self, names: dict[str, tuple[str, str]]):
        self.names = names
        self.calls: dict[str, int] = {}

    def __call__(self, host, port, *args, **kwargs):
        if host not in self.names:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        self.calls[host] = self.calls.get(host, 0) + 1
        first, then = self.names[host]
        address = first if self.calls[host] == 1 else then
        return REAL_GETADDRINFO(address, port, *args, **kwargs)


@pytest.fixture
def two_servers():
    """A legitimate server on 127.0.0.1 and an attacker's on 127.0.0.2, on the same port."""
    good = HTTPServer(host="127.0.0.1", port=0)
    good.start()
    evil = HTTPServer(host="127.0.0.2", port=good.port)
    evil.start()
    evil.expect_request(re.compile(".*")).respond_with_json({"results": [], "next": None})
    yield good, evil
    for server in (good, evil):
        server.clear()
        server.stop()


def _allow_only_the_good_server(factory):
    factory.network_allowlist = ["127.0.0.1/32"]
    factory.save(update_fields=["network_allowlist"])


def test_a_rebinding_name_cannot_redirect_a_sync_or_its_token(world, two_servers, monkeypatch):
    good, evil = two_servers
    port = good.port
    base = f"http://rebind.test:{port}"
    pages = {
        0: ([netbox_device(1, "SN-1", "press-1")], f"{base}/api/dcim/devices/?page=1"),
        1: ([netbox_device(2, "SN-2", "press-2")], f"{base}/api/dcim/devices/?page=2"),
        2: ([netbox_device(3, "SN-3", "press-3")], None),
    }
    seen = []

    def page(request):
        seen.append((request.headers.get("Host"), request.headers.get("Authorization")))
        results, following = pages[int(request.args.get("page", 0))]
        return Response(
            httpx.Response(200, json={"results": results, "next": following}).content,
            content_type="application/json",
        )

    good.expect_request("/api/dcim/devices/").respond_with_handler(page)
    dns = RebindingDNS({"rebind.test": ("127.0.0.1", "127.0.0.2")})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    _allow_only_the_good_server(world.factory_a)
    connector = connector_create(
        factory=world.factory_a,
        name="netbox",
        kind="netbox",
        settings={"base_url": f"{base}/", "retries": 0},
        credentials={"token": "nb-token-123"},
    )

    run = run_sync(connector)

    assert run.status == "succeeded", run.message
    assert Device.objects.filter(factory=world.factory_a).count() == 3
    assert seen == [(f"rebind.test:{port}", "Token nb-token-123")] * 3
    assert evil.log == []
    assert dns.calls == {"rebind.test": 1}
    # The resolver really rebinds: a client that resolves again lands on the other server.
    httpx.get(f"{base}/anything", headers={"Authorization": "Token leaked"})
    assert len(evil.log) == 1


def test_every_redirect_hop_is_checked_against_the_allowlist(two_servers, monkeypatch):
    good, evil = two_servers
    dns = RebindingDNS(
        {"good.test": ("127.0.0.1", "127.0.0.1"), "evil.test": ("127.0.0.2", "127.0.0.2")}
    )
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    good.expect_request("/away").respond_with_response(
        Response(status=302, headers={"Location": f"http://evil.test:{good.port}/steal"})
    )
    good.expect_request("/here").respond_with_response(
        Response(status=302, headers={"Location": f"http://localhost:{good.port}/landed"})
    )
    good.expect_request("/landed").respond_with_data("ok")
    target = resolve_pinned("good.test", good.port, ["127.0.0.1/32"])

    with pinned_client(target, follow_redirects=True) as client:
        with pytest.raises(TargetBlocked, match="evil.test"):
            client.get(f"http://good.test:{good.port}/away")
        assert client.get(f"http://good.test:{good.port}/here").text == "ok"
    assert evil.log == []


def _resolver(table: dict[str, list[str]]):
    return lambda host, port: table[host]


@pytest.mark.parametrize(
    ("answer", "allowed"),
    [
        (["10.20.0.5"], True),  # a plant's private address: allowed by name
        (["203.0.113.7"], True),
        (["127.0.0.1"], False),  # loopback: a name never vouches for it
        (["169.254.169.254"], False),  # link-local: the cloud metadata address
        (["::ffff:127.0.0.1"], False),
        (["0.0.0.0"], False),
        (["224.0.0.1"], False),
    ],
)
def test_a_host_name_entry_is_checked_against_what_the_name_resolves_to(answer, allowed):
    resolver = _resolver({"plc.plant.local": answer})
    if allowed:
        target = resolve_pinned("plc.plant.local", 502, ["plc.plant.local"], resolver=resolver)
        assert target.address == answer[0]
    else:
        with pytest.raises(TargetBlocked, match="not on the factory's network allowlist"):
            resolve_pinned("plc.plant.local", 502, ["plc.plant.local"], resolver=resolver)


def test_an_address_entry_allows_what_a_name_entry_does_not():
    resolver = _resolver({"plc.plant.local": ["127.0.0.1"]})
    target = resolve_pinned(
        "plc.plant.local", 502, ["plc.plant.local", "127.0.0.0/8"], resolver=resolver
    )
    assert (target.host, target.address, target.port) == ("plc.plant.local", "127.0.0.1", 502)


def test_the_first_allowed_address_is_pinned_and_ports_are_checked():
    resolver = _resolver({"multi.test": ["192.0.2.9", "10.1.1.1"]})
    assert resolve_pinned("multi.test", 80, ["10.0.0.0/8"], resolver=resolver).address == (
        "10.1.1.1"
    )
    with pytest.raises(TargetBlocked):
        resolve_pinned("multi.test", 81, ["10.0.0.0/8:80"], resolver=resolver)
    with pytest.raises(TargetBlocked, match="no network allowlist"):
        resolve_pinned("multi.test", 80, [], resolver=resolver)
    with pytest.raises(TargetBlocked, match="cannot be resolved"):
        resolve_pinned("does-not-exist.invalid", 80, ["0.0.0.0/0"])


def _certificate(name: str, directory) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_tls_keeps_the_host_name_for_sni_and_the_certificate_check(tmp_path, monkeypatch):
    cert, key = _certificate("plant-api.test", tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    names = []
    server_context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_context)
    server.start()
    try:
        server.expect_request("/ping").respond_with_data("pong")
        monkeypatch.setattr(
            socket, "getaddrinfo", RebindingDNS({"plant-api.test": ("127.0.0.1", "127.0.0.2")})
        )
        target = resolve_pinned("plant-api.test", server.port, ["127.0.0.1/32"])
        trust = ssl.create_default_context(cafile=cert)
        with pinned_client(target, verify=trust) as client:
            response = client.get(f"https://plant-api.test:{server.port}/ping")
        assert response.text == "pong"
        assert names == ["plant-api.test"]
        assert server.log[0][0].headers["Host"] == f"plant-api.test:{server.port}"
        # Verification is on: the same certificate does not pass for the bare address.
        by_address = resolve_pinned("127.0.0.1", server.port, ["127.0.0.1/32"])
        with pinned_client(by_address, verify=trust) as client, pytest.raises(httpx.ConnectError):
            client.get(f"https://127.0.0.1:{server.port}/ping")
    finally:
        server.clear()
        server.stop()
