"""OPC UA with security policy Basic256Sha256 (SignAndEncrypt) and certificates."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from connectors.models import Device
from connectors.simulators.opcua_server import OpcUaSimulator, SimDevice
from connectors.sources.opcua import run_coroutine
from tests.connectors.helpers import make_connector, run_sync

pytestmark = pytest.mark.django_db(transaction=True)


def make_certificate(folder, name: str) -> tuple[str, str]:
    """A self-signed application certificate (DER) and key (PEM), as asyncua makes them."""
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key, cert = folder / f"{name}-key.pem", folder / f"{name}-cert.der"
    run_coroutine(
        setup_self_signed_certificate(
            key,
            cert,
            f"urn:coe:{name}",
            "127.0.0.1",
            [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH],
            {"commonName": name},
        )
    )
    return str(cert), str(key)


def pem(path: str, *, key: bool = False) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import (
        load_der_private_key,
        load_pem_private_key,
    )

    raw = Path(path).read_bytes()
    if key:
        loaded = (
            load_pem_private_key(raw, None)
            if raw.startswith(b"-----")
            else load_der_private_key(raw, None)
        )
        return loaded.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    cert = (
        x509.load_pem_x509_certificate(raw)
        if raw.startswith(b"-----")
        else x509.load_der_x509_certificate(raw)
    )
    return cert.public_bytes(Encoding.PEM).decode()


def test_basic256sha256_with_certificates(world, tmp_path):
    server_cert = make_certificate(tmp_path, "server")
    client_cert, client_key = make_certificate(tmp_path, "client")
    device = SimDevice("Secure press", "Schuler", "MSD 2500", "SEC-0001", "5.0")
    with OpcUaSimulator([device], load_nodesets=False, certificate=server_cert) as sim:
        plain = make_connector(world.factory_a, name="plain", settings={"endpoint": sim.endpoint})
        assert run_sync(plain).status == "failed"  # the server offers no unsecured endpoint
        secure = make_connector(
            world.factory_a,
            name="secure",
            settings={"endpoint": sim.endpoint, "security_policy": "Basic256Sha256"},
            credentials={
                "certificate": pem(client_cert),
                "private_key": pem(client_key, key=True),
                "server_certificate": pem(server_cert[0]),
            },
        )
        run = run_sync(secure)
    assert run.status == "succeeded", run.message
    assert Device.objects.get(serial_number="SEC-0001").firmware == "5.0"
