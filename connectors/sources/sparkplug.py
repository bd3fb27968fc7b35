"""Sparkplug B and plain-JSON MQTT messages turned into records (paho-free, no database).

One decoder serves the short sync (``connectors.sources.mqtt``) and the long-lived host
application (``connectors.mqtt_host``): it keeps the births it needs to decode data (metric
aliases), the devices born since it started or since their node's last NBIRTH, and the
identity of every device it has ever seen, so a death is reported with the device's
serial and model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.records import DEVICE_FIELDS as DEVICE_RECORD_FIELDS
from connectors.records import DeviceRecord, MetricRecord, RecordError

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
NAMESPACE = "spBv1.0"


def state_topic(host_id: str) -> str:
    """The Sparkplug 3.0 STATE topic of a host application."""
    return f"{NAMESPACE}/STATE/{host_id}"


def state_payload(online: bool, timestamp: int) -> bytes:
    """A Sparkplug 3.0 STATE payload: ``{"online": …, "timestamp": …}`` (ms since epoch)."""
    return json.dumps({"online": online, "timestamp": timestamp}).encode()


def rebirth_request(node: str) -> tuple[str, bytes]:
    """Topic and payload of an NCMD asking edge node ``group/node`` for a rebirth."""
    from pysparkplug import DataType, Metric, NCmd, get_current_timestamp

    group, edge = node.split("/", 1)
    now = get_current_timestamp()
    payload = NCmd(
        timestamp=now,
        metrics=(Metric(timestamp=now, name=REBIRTH, datatype=DataType.BOOLEAN, value=True),),
    )
    return f"{NAMESPACE}/{group}/NCMD/{edge}", payload.encode(include_dtypes=True)


def ms_to_datetime(ms: int | None) -> datetime:
    if not ms:
        return datetime.now(UTC).replace(microsecond=0)
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _number(value) -> float | None:
    if isinstance(value, bool | int | float):
        return float(value)
    return None


def record_fields(record: DeviceRecord) -> dict:
    """What is kept of a born device to report it again (a death, the host's state)."""
    return {k: getattr(record, k) for k in (*DEFAULT_MAPPING, "name") if getattr(record, k)}


@dataclass
class Decoded:
    """What one message said: records for the ingest, and what happened to which node."""

    items: list = field(default_factory=list)
    node: str = ""  # "group/edge node" of a Sparkplug message, "" otherwise
    event: str = ""  # birth, death, data, or "" (commands, STATE, ignored deaths)
    rebirth: bool = False  # data from a node whose birth this decoder has not seen


class SparkplugDecoder:
    """Sparkplug B messages → device and metric records, keeping births across messages.

    ``current`` holds the devices born since the decoder started (a device leaves it when
    its node is re-born without it, and is marked offline on its death); ``known`` holds
    the identity of every device seen, seeded from earlier syncs or the host's state.
    """

    def __init__(self, *, mapping: dict | None = None, metrics: dict | None = None):
        self.mapping = {**DEFAULT_MAPPING, **(mapping or {})}
        self.wanted = metrics
        self.births: dict[str, object] = {}  # source id → birth payload (decodes aliases)
        self.bd_seq: dict[str, int] = {}  # node → bdSeq of its NBIRTH
        self.current: dict[str, DeviceRecord] = {}
        self.known: dict[str, dict] = {}

    def remember(self, known: dict[str, dict]) -> None:
        for source_id, fields in known.items():
            self.known.setdefault(source_id, dict(fields))

    def decode(self, topic_text: str, raw: bytes) -> Decoded:
        from pysparkplug import MessageType, Topic

        topic = Topic.from_str(topic_text)
        kind = topic.message_type
        if kind in (MessageType.NCMD, MessageType.DCMD, MessageType.STATE):
            return Decoded()
        node = f"{topic.group_id}/{topic.edge_node_id}"
        source_id = f"{node}/{topic.device_id}" if topic.device_id else node
        out = Decoded(node=node)
        if kind in (MessageType.NBIRTH, MessageType.DBIRTH):
            self._birth(kind == MessageType.NBIRTH, node, source_id, topic, raw, out)
        elif kind in (MessageType.NDATA, MessageType.DDATA):
            self._data(kind == MessageType.NDATA, node, source_id, raw, out)
        elif kind == MessageType.NDEATH:
            self._node_death(node, raw, out)
        elif kind == MessageType.DDEATH:
            from pysparkplug import DDeath

            DDeath.decode(raw)
            out.event = "death"
            self._offline([source_id], out)
        return out

    def _birth(self, is_node: bool, node: str, source_id: str, topic, raw: bytes, out) -> None:
        from pysparkplug import DBirth, NBirth

        payload = (NBirth if is_node else DBirth).decode(raw)
        values = {m.name: m.value for m in payload.metrics}
        if is_node:
            # A node's birth invalidates its devices' births; they follow as DBIRTHs.
            for sid in [s for s in self.current if s.startswith(node + "/")]:
                del self.current[sid]
                self.births.pop(sid, None)
            if isinstance(values.get("bdSeq"), int):
                self.bd_seq[node] = values["bdSeq"]
        self.births[source_id] = payload
        fields = {
            f: str(values.get(name) or "").strip()
            for f, name in self.mapping.items()
            if f in DEVICE_FIELDS and f != "source_id"
        }
        fields["name"] = fields.get("name") or (topic.device_id or topic.edge_node_id)
        record = DeviceRecord(source_id=source_id, online=True, **fields)
        self.current[source_id] = record
        self.known[source_id] = record_fields(record)
        out.event = "birth"
        out.items.append(record)
        out.items += self.metrics_of(payload.metrics, payload.timestamp, source_id)

    def _data(self, is_node: bool, node: str, source_id: str, raw: bytes, out) -> None:
        from pysparkplug import DData, NData

        out.event = "data"
        if source_id not in self.births:
            out.rebirth = True  # data before its birth cannot be decoded: ask for a rebirth
            return
        payload = (NData if is_node else DData).decode(raw, birth=self.births[source_id])
        out.items += self.metrics_of(payload.metrics, payload.timestamp, source_id)

    def _node_death(self, node: str, raw: bytes, out) -> None:
        from pysparkplug import NDeath

        death = NDeath.decode(raw)
        bd_seq = death.bd_seq_metric.value if death.bd_seq_metric else None
        if node in self.bd_seq and isinstance(bd_seq, int) and bd_seq != self.bd_seq[node]:
            return  # the will of an earlier session, delivered after the node was re-born
        out.event = "death"
        self.births = {
            s: b for s, b in self.births.items() if s != node and not s.startswith(node + "/")
        }
        sids = {*self.current, *self.known}
        self._offline([s for s in sids if s == node or s.startswith(node + "/")], out)

    def _offline(self, source_ids: list[str], out: Decoded) -> None:
        for sid in sorted(source_ids):
            fields = (
                record_fields(self.current[sid]) if sid in self.current else self.known.get(sid)
            )
            if fields is None:
                continue
            record = DeviceRecord(source_id=sid, online=False, **fields)
            self.current[sid] = record
            out.items.append(record)

    def metrics_of(self, metrics, timestamp: int | None, source_id: str) -> list[MetricRecord]:
        """Numeric metrics as samples (``metrics`` setting picks and renames)."""
        out = []
        for metric in metrics:
            name = metric.name or ""
            if name.startswith(("Properties/", "Node Control/", "bdSeq")):
                continue
            if self.wanted is not None and name not in self.wanted:
                continue
            value = _number(metric.value)
            if value is None:
                continue
            at = ms_to_datetime(metric.timestamp or timestamp)
            out.append(
                MetricRecord(
                    metric=(self.wanted or {}).get(name, name),
                    value=value,
                    period_start=at,
                    period_end=at,
                    device_source_id=source_id,
                )
            )
        return out


def json_items(topic: str, raw: bytes, mapping: dict, wanted: dict) -> list:
    """A plain-JSON message (an object or a list of objects) → device and metric records."""
    body = json.loads(raw)
    rows = body if isinstance(body, list) else [body]
    items: list = []
    for row in rows:
        if not isinstance(row, dict):
            items.append(RecordError(topic, "not a JSON object"))
            continue
        source_id = str(row.get(mapping.get("source_id", "source_id")) or topic)
        fields = {
            f: str(row.get(mapping.get(f, f)) or "").strip() for f in DEVICE_FIELDS - {"source_id"}
        }
        items.append(DeviceRecord(source_id=source_id, **fields))
        at = datetime.now(UTC).replace(microsecond=0)
        if row.get("timestamp"):
            try:
                at = datetime.fromisoformat(str(row["timestamp"]))
            except ValueError:
                items.append(RecordError(source_id, "timestamp: not ISO 8601"))
        for key, metric in wanted.items():
            value = _number(row.get(key))
            if value is not None:
                items.append(
                    MetricRecord(
                        metric=metric,
                        value=value,
                        period_start=at,
                        period_end=at,
                        device_source_id=source_id,
                    )
                )
    return items
