"""OPC UA source (asyncua): devices are objects carrying the DI identification properties.

Settings: ``{endpoint, root?, metric_map?, max_nodes?, security_policy?, security_mode?}``;
credentials: ``{username?, password?, certificate?, private_key?, server_certificate?}``
(PEM text). Browses from ``root`` (default the Objects folder, which includes DI's
``DeviceSet`` and Machinery's ``Machines`` folder) along hierarchical references, each
node once (the same machine is reachable by several paths: dedupe by node id). A device
is an object with Manufacturer / Model / SerialNumber / SoftwareRevision /
HardwareRevision / DeviceRevision properties directly or under an ``Identification``
child. ``metric_map`` = ``{node id: metric key}`` reads production counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from django.utils import timezone

from connectors.records import DeviceRecord, MetricRecord, RecordError, SourceIncomplete
from connectors.sources.base import Adapter, Item, only_keys

IDENTIFICATION = {
    "Manufacturer": "manufacturer",
    "Model": "model",
    "SerialNumber": "serial_number",
    "SoftwareRevision": "firmware",
    "HardwareRevision": "hardware_revision",
}
EXTRA = {"DeviceRevision", "ProductCode", "ProductInstanceUri"}
SERVER_NODE = "i=2253"  # the Server object: diagnostics, never devices
OBJECT, VARIABLE = 1, 2  # ua.NodeClass values


def run_coroutine(coro):
    """``asyncio.run(coro)``, in a fresh thread when this thread already runs an event loop
    (e.g. under an async server or a browser-test driver)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed back to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="opcua-client")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def _value_text(value) -> str:
    text = getattr(value, "Text", value)
    return "" if text is None else str(text).strip()


class OpcUaAdapter(Adapter):
    """Browses an OPC UA server for DI-identified devices and reads mapped counters."""

    kind = "opcua"
    default_port = 4840

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        only_keys(
            settings,
            {"endpoint", "root", "metric_map", "max_nodes", "security_policy", "security_mode"},
        )
        endpoint = settings.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith("opc.tcp://"):
            raise ValueError("endpoint: required, opc.tcp://host:port[/path]")
        parts = urlsplit(endpoint)
        if not parts.hostname:
            raise ValueError("endpoint: no host")
        clean: dict = {"endpoint": endpoint, "root": str(settings.get("root") or "i=85")}
        metric_map = settings.get("metric_map") or {}
        if not isinstance(metric_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in metric_map.items()
        ):
            raise ValueError("metric_map: {node id: metric key}")
        if metric_map:
            clean["metric_map"] = metric_map
        max_nodes = settings.get("max_nodes", 20000)
        if not isinstance(max_nodes, int) or max_nodes < 1:
            raise ValueError("max_nodes: a positive integer")
        clean["max_nodes"] = max_nodes
        policy = settings.get("security_policy", "None")
        if policy not in ("None", "Basic256Sha256"):
            raise ValueError("security_policy: None or Basic256Sha256")
        clean["security_policy"] = policy
        mode = settings.get("security_mode", "SignAndEncrypt")
        if mode not in ("Sign", "SignAndEncrypt"):
            raise ValueError("security_mode: Sign or SignAndEncrypt")
        if policy != "None":
            clean["security_mode"] = mode
        return clean

    @classmethod
    def target_of(cls, settings: dict) -> tuple[str, int]:
        parts = urlsplit(settings["endpoint"])
        return parts.hostname, parts.port or cls.default_port

    def connection_errors(self) -> tuple[type[BaseException], ...]:
        from asyncua.ua.uaerrors import BadConnectionClosed, BadSessionClosed

        return (
            *super().connection_errors(),
            asyncio.TimeoutError,
            BadConnectionClosed,
            BadSessionClosed,
        )

    def connect_url(self) -> str:
        """The endpoint with its host replaced by the resolved, allowlisted address."""
        parts = urlsplit(self.settings["endpoint"])
        host = f"[{self.target.address}]" if ":" in self.target.address else self.target.address
        return parts._replace(netloc=f"{host}:{self.target.port}").geturl()

    def fetch(self) -> Iterator[Item]:
        items: list[Item] = []
        error = run_coroutine(self._collect(items))
        devices = sum(isinstance(i, DeviceRecord) for i in items)
        yield from items
        if error is not None:
            if not devices:
                raise ConnectionError(f"OPC UA source failed: {error}") from error
            raise SourceIncomplete(f"OPC UA connection lost after {devices} devices: {error}")

    async def _collect(self, items: list[Item]) -> BaseException | None:
        from asyncua import Client

        client = Client(self.connect_url(), timeout=5)
        creds = self.credentials
        if creds.get("username"):
            client.set_user(creds["username"])
            client.set_password(creds.get("password", ""))
        with tempfile.TemporaryDirectory() as tmp:
            if self.settings.get("security_policy", "None") != "None":
                await self._secure(client, Path(tmp))
            try:
                await client.connect()
            except Exception as exc:  # unreachable or refused: nothing read at all
                return exc
            try:
                await self._browse(client, items)
                await self._read_metrics(client, items)
            except self.connection_errors() as exc:
                return exc
            finally:
                with contextlib.suppress(Exception):  # the connection may already be gone
                    await client.disconnect()
        return None

    async def _secure(self, client, folder: Path) -> None:
        from asyncua import ua
        from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

        paths = {}
        for key in ("certificate", "private_key", "server_certificate"):
            if self.credentials.get(key):
                path = folder / f"{key}.pem"
                path.write_text(self.credentials[key])
                paths[key] = str(path)
        if "certificate" not in paths or "private_key" not in paths:
            raise ConnectionError("Basic256Sha256 needs certificate and private_key credentials")
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            certificate=paths["certificate"],
            private_key=paths["private_key"],
            server_certificate=paths.get("server_certificate"),
            mode=getattr(ua.MessageSecurityMode, self.settings["security_mode"]),
        )

    async def _browse(self, client, items: list[Item]) -> None:
        root = client.get_node(self.settings.get("root", "i=85"))
        seen = {root.nodeid}
        queue: list[tuple[object, str]] = [(root, "")]
        budget = self.settings.get("max_nodes", 20000)
        while queue and budget > 0:
            node, name = queue.pop(0)
            budget -= 1
            refs = await node.get_children_descriptions(refs=33)
            props = {}
            identification = None
            for ref in refs:
                browse_name = ref.BrowseName.Name
                if ref.NodeClass == VARIABLE and (
                    browse_name in IDENTIFICATION or browse_name in EXTRA
                ):
                    props[browse_name] = ref.NodeId
                elif ref.NodeClass == OBJECT:
                    if browse_name == "Identification":
                        identification = ref.NodeId
                    if ref.NodeId not in seen and ref.NodeId.to_string() != SERVER_NODE:
                        seen.add(ref.NodeId)
                        queue.append((client.get_node(ref.NodeId), ref.DisplayName.Text or ""))
            if identification is not None:
                for ref in await client.get_node(identification).get_children_descriptions(refs=46):
                    if ref.BrowseName.Name in IDENTIFICATION:
                        props.setdefault(ref.BrowseName.Name, ref.NodeId)
            if name == "Identification" or not (set(props) & set(IDENTIFICATION)):
                continue
            names = list(props)
            values = await client.read_values([client.get_node(props[n]) for n in names])
            fields = {
                IDENTIFICATION[n]: _value_text(v)
                for n, v in zip(names, values, strict=True)
                if n in IDENTIFICATION
            }
            source_id = node.nodeid.to_string()
            if not any(fields.values()):
                continue  # an empty identification template, not a device
            items.append(DeviceRecord(source_id=source_id, name=name, **fields))

    async def _read_metrics(self, client, items: list[Item]) -> None:
        metric_map = self.settings.get("metric_map") or {}
        if not metric_map:
            return
        now = timezone.now().replace(microsecond=0)
        for node_id, metric in metric_map.items():
            try:
                value = await client.get_node(node_id).read_value()
                number = float(value)
            except (ValueError, TypeError) as exc:
                items.append(RecordError(node_id, f"{metric}: not a number ({exc})"))
                continue
            except Exception as exc:
                if isinstance(exc, self.connection_errors()):
                    raise
                items.append(RecordError(node_id, f"{metric}: {exc}"))
                continue
            items.append(
                MetricRecord(
                    metric=metric, value=number, period_start=now, period_end=now, series=node_id
                )
            )
