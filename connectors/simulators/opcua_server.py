"""An asyncua server with the DI, Machinery and Machinery Examples nodesets and demo devices.

The nodesets are read from ``../shared/data/opcua/`` (beside the checkout). Demo devices
are added under DI's ``DeviceSet`` with their identification properties directly, or —
like Machinery machines — under an ``Identification`` child in the ``Machines`` folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from connectors.simulators.base import LoopThread, free_port

NODESETS = [
    "Opc.Ua.Di.NodeSet2.xml",
    "Opc.Ua.Machinery.NodeSet2.xml",
    "Opc.Ua.Machinery.Examples.NodeSet2.xml",
]
DI_URI = "http://opcfoundation.org/UA/DI/"
MACHINERY_URI = "http://opcfoundation.org/UA/Machinery/"


def nodeset_dir() -> Path:
    return Path(settings.BASE_DIR).parent / "shared" / "data" / "opcua"


@dataclass
class SimDevice:
    """A device the simulator adds: identification, where it hangs, optional counter."""

    name: str
    manufacturer: str
    model: str
    serial_number: str
    firmware: str = ""
    hardware_revision: str = ""
    machine: bool = False  # under Machines with an Identification child
    counters: dict[str, float] = field(default_factory=dict)


class OpcUaSimulator:
    """``with OpcUaSimulator(devices) as sim: sim.endpoint`` — a real OPC UA server."""

    def __init__(
        self,
        devices: list[SimDevice] | None = None,
        *,
        load_nodesets: bool = True,
        port: int | None = None,
        users: dict[str, str] | None = None,
        certificate: tuple[str, str] | None = None,
    ):
        self.devices = devices or []
        self.load_nodesets = load_nodesets
        self.port = port or free_port()
        self.endpoint = f"opc.tcp://127.0.0.1:{self.port}/coe/"
        self.users = users
        # (certificate, private key) paths: serve Basic256Sha256 (SignAndEncrypt) only.
        self.certificate = certificate
        self.counter_nodes: dict[str, str] = {}  # "device/counter" → node id
        self._loop: LoopThread | None = None
        self._server = None

    def __enter__(self) -> OpcUaSimulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        logging.getLogger("asyncua").setLevel(logging.ERROR)
        self._loop = LoopThread("opcua-simulator")
        self._loop.call(self._start())

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call(self._server.stop())
            self._loop.close()
            self._loop = None

    async def _start(self) -> None:
        from asyncua import Server, ua

        server = Server(user_manager=_UserManager(self.users) if self.users is not None else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("CoE OPC UA simulator")
        if self.certificate:
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
            await server.load_certificate(self.certificate[0])
            await server.load_private_key(self.certificate[1])
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self.load_nodesets:
            for name in NODESETS:
                await server.import_xml(str(nodeset_dir() / name))
        await self._add_devices(server)
        await server.start()
        self._server = server

    async def _add_devices(self, server) -> None:
        from asyncua import ua

        ns = await server.register_namespace("urn:coe:demo")
        objects = server.nodes.objects
        device_set = machines = None
        if self.load_nodesets:
            di = await server.get_namespace_index(DI_URI)
            machinery = await server.get_namespace_index(MACHINERY_URI)
            device_set = server.get_node(ua.NodeId(5001, di))
            machines = server.get_node(ua.NodeId(1001, machinery))
        device_set = device_set or await objects.add_folder(ns, "DeviceSet")
        machines = machines or await objects.add_folder(ns, "Machines")
        for i, dev in enumerate(self.devices):
            parent = machines if dev.machine else device_set
            node = await parent.add_object(
                ua.NodeId(f"dev-{i}", ns), ua.QualifiedName(dev.name, ns)
            )
            holder = await node.add_object(ns, "Identification") if dev.machine else node
            for prop, value in (
                ("Manufacturer", ua.LocalizedText(dev.manufacturer)),
                ("Model", ua.LocalizedText(dev.model)),
                ("SerialNumber", dev.serial_number),
                ("SoftwareRevision", dev.firmware),
                ("HardwareRevision", dev.hardware_revision),
            ):
                await holder.add_property(ns, prop, value)
            for counter, value in dev.counters.items():
                var = await node.add_variable(ns, counter, float(value))
                self.counter_nodes[f"{dev.name}/{counter}"] = var.nodeid.to_string()


class _UserManager:
    """Username/password check for the simulator (anonymous refused when users are set)."""

    def __init__(self, users: dict[str, str]):
        self.users = users

    def get_user(self, iserver, username=None, password=None, certificate=None):
        from asyncua.crypto.permission_rules import User, UserRole

        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None
