"""MQTT source (paho-mqtt 1.x): Sparkplug B via pysparkplug, or plain JSON topics.

Settings: ``{host, port (1883), mode: sparkplug|json, group_id?, topics?, mapping?,
metrics?, listen_seconds?, rebirth?}``; credentials ``{username?, password?}``.

Sparkplug B: a sync subscribes to ``spBv1.0/<group_id or +>/#`` for ``listen_seconds``
(default 3), asks every edge node it hears of for a rebirth (``Node Control/Rebirth``)
unless ``rebirth`` is false, and turns NBIRTH/DBIRTH into device records (source id
``group/edge node[/device]``; identity from ``Properties/Manufacturer``, ``…/Model``,
``…/Serial Number``, ``…/Firmware`` unless ``mapping`` = ``{field: metric name}`` says
otherwise), DDATA/NDATA numeric metrics into metric samples (``metrics`` = ``{metric
name: metric key}`` picks and renames; default every numeric non-``Properties/``
metric), NDEATH/DDEATH into offline devices. Birth data is kept in the connector cursor
so a later death is reported with the device's identity.

JSON: subscribes to ``topics``; every message is an object (or a list of objects) mapped
by ``mapping`` = ``{field: json key}`` (``source_id`` defaults to the topic), numeric
keys named in ``metrics`` become metric samples.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from connectors.records import DEVICE_FIELDS as DEVICE_RECORD_FIELDS
from connectors.records import DeviceRecord, MetricRecord, RecordError, SourceIncomplete
from connectors.sources.base import Adapter, Item, only_keys, port_of, require

DEFAULT_MAPPING = {
    "manufacturer": "Properties/Manufacturer",
    "model": "Properties/Model",
    "serial_number": "Properties/Serial Number",
    "firmware": "Properties/Firmware",
    "hardware_revision": "Properties/Hardware Revision",
    "mac": "Properties/MAC",
}
DEVICE_FIELDS = set(DEVICE_RECORD_FIELDS)
REBIRTH = "Node Control/Rebirth"


def _ms_to_datetime(ms: int | None) -> datetime:
    if not ms:
        return datetime.now(UTC).replace(microsecond=0)
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


class MqttAdapter(Adapter):
    """Listens to a broker for a short window and reports births, deaths and data."""

    kind = "mqtt"
    default_port = 1883

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        only_keys(
            settings,
            {
                "host",
                "port",
                "mode",
                "group_id",
                "topics",
                "mapping",
                "metrics",
                "listen_seconds",
                "rebirth",
            },
        )
        clean = {"host": require(settings, "host"), "port": port_of(settings, cls.default_port)}
        mode = settings.get("mode", "sparkplug")
        if mode not in ("sparkplug", "json"):
            raise ValueError("mode: sparkplug or json")
        clean["mode"] = mode
        if settings.get("group_id"):
            group = settings["group_id"]
            if not isinstance(group, str) or any(c in group for c in "/+#"):
                raise ValueError("group_id: a Sparkplug group id (no / + #)")
            clean["group_id"] = group
        topics = settings.get("topics") or []
        if not isinstance(topics, list) or not all(isinstance(t, str) and t for t in topics):
            raise ValueError("topics: a list of topic filters")
        if mode == "json" and not topics:
            raise ValueError("topics: required in json mode")
        if topics:
            clean["topics"] = topics
        for key in ("mapping", "metrics"):
            value = settings.get(key) or {}
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ValueError(f"{key}: an object of strings")
            if key == "mapping" and set(value) - DEVICE_FIELDS:
                raise ValueError(f"mapping: fields are {', '.join(sorted(DEVICE_FIELDS))}")
            if value:
                clean[key] = value
        listen = settings.get("listen_seconds", 3)
        if not isinstance(listen, int | float) or not 0 < listen <= 120:
            raise ValueError("listen_seconds: 0–120")
        clean["listen_seconds"] = listen
        clean["rebirth"] = bool(settings.get("rebirth", True))
        return clean

    def fetch(self) -> Iterator[Item]:
        import paho.mqtt.client as mqtt

        self._lock = threading.Lock()
        self._devices: dict[str, DeviceRecord] = {}
        self._items: list[Item] = []
        self._births: dict[str, object] = {}
        self._asked: set[str] = set()
        self._known = dict(self.cursor.get("births", {}))
        connected = threading.Event()
        lost: list[int] = []
        client = mqtt.Client(client_id=f"coe-{uuid.uuid4().hex[:12]}", clean_session=True)
        if self.credentials.get("username"):
            client.username_pw_set(self.credentials["username"], self.credentials.get("password"))

        def on_connect(client, userdata, flags, rc):
            if rc != 0:
                lost.append(rc)
                connected.set()
                return
            for topic in self._subscriptions():
                client.subscribe(topic, qos=0)
            if self.settings["mode"] == "sparkplug" and self.settings.get("rebirth", True):
                for node in self.cursor.get("nodes", []):
                    self._request_rebirth(client, node)
            connected.set()

        def on_disconnect(client, userdata, rc):
            if rc != 0:
                lost.append(rc)

        def on_message(client, userdata, message):
            with self._lock:
                try:
                    if self.settings["mode"] == "sparkplug":
                        self._on_sparkplug(client, message)
                    else:
                        self._on_json(message)
                except Exception as exc:  # one bad message is a rejected record, not a crash
                    self._items.append(RecordError(message.topic, f"undecodable message: {exc}"))

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        client.connect(self.target.address, self.target.port, keepalive=30)
        client.loop_start()
        try:
            if not connected.wait(10) or lost:
                raise ConnectionError(f"MQTT broker {self.target.host} refused: {lost}")
            deadline = time.monotonic() + self.settings.get("listen_seconds", 3)
            while time.monotonic() < deadline and not lost:
                time.sleep(0.05)
        finally:
            client.disconnect()
            client.loop_stop()
        with self._lock:
            items = list(self._devices.values()) + self._items
        yield from items
        if lost:
            if not self._devices:
                raise ConnectionError(f"MQTT connection lost (rc={lost[0]})")
            raise SourceIncomplete(f"MQTT connection lost after {len(self._devices)} devices")
        if self.settings["mode"] == "sparkplug":
            self.cursor["births"] = {
                sid: {k: getattr(r, k) for k in DEFAULT_MAPPING if getattr(r, k)} | {"name": r.name}
                for sid, r in self._devices.items()
            } | {k: v for k, v in self._known.items() if k not in self._devices}
            nodes = {"/".join(sid.split("/")[:2]) for sid in self.cursor["births"]}
            self.cursor["nodes"] = sorted(nodes)

    def _subscriptions(self) -> list[str]:
        if self.settings["mode"] == "json":
            return self.settings["topics"]
        return [f"spBv1.0/{self.settings.get('group_id', '+')}/#"]

    # --- Sparkplug B --------------------------------------------------------------------
    def _request_rebirth(self, client, node: str) -> None:
        from pysparkplug import DataType, Metric, NCmd, get_current_timestamp

        if node in self._asked:
            return
        self._asked.add(node)
        group, edge = node.split("/", 1)
        payload = NCmd(
            timestamp=get_current_timestamp(),
            metrics=(
                Metric(
                    timestamp=get_current_timestamp(),
                    name=REBIRTH,
                    datatype=DataType.BOOLEAN,
                    value=True,
                ),
            ),
        )
        client.publish(f"spBv1.0/{group}/NCMD/{edge}", payload.encode(include_dtypes=True), qos=1)

    def _on_sparkplug(self, client, message) -> None:
        from pysparkplug import DBirth, DData, DDeath, MessageType, NBirth, NData, NDeath, Topic

        topic = Topic.from_str(message.topic)
        kind = topic.message_type
        node = f"{topic.group_id}/{topic.edge_node_id}"
        source_id = f"{node}/{topic.device_id}" if topic.device_id else node
        if kind in (MessageType.NCMD, MessageType.DCMD, MessageType.STATE):
            return
        rebirth = self.settings.get("rebirth", True)
        if rebirth and kind in (MessageType.NDATA, MessageType.DDATA) and node not in self._births:
            self._request_rebirth(client, node)
        if kind in (MessageType.NBIRTH, MessageType.DBIRTH):
            payload = (NBirth if kind == MessageType.NBIRTH else DBirth).decode(message.payload)
            self._births[source_id] = payload
            if kind == MessageType.NBIRTH:
                self._births[node] = payload
            values = {m.name: m.value for m in payload.metrics}
            mapping = {**DEFAULT_MAPPING, **self.settings.get("mapping", {})}
            fields = {
                f: str(values.get(name) or "").strip()
                for f, name in mapping.items()
                if f in DEVICE_FIELDS and f != "source_id"
            }
            fields.setdefault("name", "")
            fields["name"] = fields["name"] or (topic.device_id or topic.edge_node_id)
            self._devices[source_id] = DeviceRecord(source_id=source_id, online=True, **fields)
            self._metrics_of(payload.metrics, payload.timestamp, source_id)
        elif kind in (MessageType.NDATA, MessageType.DDATA):
            if source_id not in self._births:
                return  # data before its birth cannot be decoded: the rebirth will tell
            cls = NData if kind == MessageType.NDATA else DData
            payload = cls.decode(message.payload, birth=self._births.get(source_id))
            self._metrics_of(payload.metrics, payload.timestamp, source_id)
        elif kind in (MessageType.NDEATH, MessageType.DDEATH):
            (NDeath if kind == MessageType.NDEATH else DDeath).decode(message.payload)
            prefix = source_id if kind == MessageType.DDEATH else node
            for sid in {*self._devices, *self._known}:
                if sid == prefix or (kind == MessageType.NDEATH and sid.startswith(node + "/")):
                    record = self._devices.get(sid) or DeviceRecord(
                        source_id=sid, **self._known[sid]
                    )
                    record.online = False
                    self._devices[sid] = record

    def _metrics_of(self, metrics, timestamp: int | None, source_id: str) -> None:
        wanted = self.settings.get("metrics")
        for metric in metrics:
            name = metric.name or ""
            if name.startswith(("Properties/", "Node Control/", "bdSeq")):
                continue
            if wanted is not None and name not in wanted:
                continue
            value = _number(metric.value)
            if value is None:
                continue
            at = _ms_to_datetime(metric.timestamp or timestamp)
            self._items.append(
                MetricRecord(
                    metric=(wanted or {}).get(name, name),
                    value=value,
                    period_start=at,
                    period_end=at,
                    device_source_id=source_id,
                )
            )

    # --- plain JSON ---------------------------------------------------------------------
    def _on_json(self, message) -> None:
        body = json.loads(message.payload)
        rows = body if isinstance(body, list) else [body]
        mapping = self.settings.get("mapping", {})
        wanted = self.settings.get("metrics", {})
        for row in rows:
            if not isinstance(row, dict):
                self._items.append(RecordError(message.topic, "not a JSON object"))
                continue
            source_id = str(row.get(mapping.get("source_id", "source_id")) or message.topic)
            fields = {
                f: str(row.get(mapping.get(f, f)) or "").strip()
                for f in DEVICE_FIELDS - {"source_id"}
            }
            self._devices[source_id] = DeviceRecord(source_id=source_id, **fields)
            at = datetime.now(UTC).replace(microsecond=0)
            if row.get("timestamp"):
                try:
                    at = datetime.fromisoformat(str(row["timestamp"]))
                except ValueError:
                    self._items.append(RecordError(source_id, "timestamp: not ISO 8601"))
            for key, metric in wanted.items():
                value = _number(row.get(key))
                if value is not None:
                    self._items.append(
                        MetricRecord(
                            metric=metric,
                            value=value,
                            period_start=at,
                            period_end=at,
                            device_source_id=source_id,
                        )
                    )
