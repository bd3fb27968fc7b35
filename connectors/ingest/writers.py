"""Writing a batch plan, through the project's bulk-write module (``coe.bulk``): on
PostgreSQL new rows are copied (binary ``COPY``, ids drawn from the sequences up front)
and changed rows applied with one set-based ``UPDATE … FROM`` a staging table per table;
elsewhere ``bulk_create`` and ``executemany``. History rows are append-only."""

from __future__ import annotations

import json

from coe import bulk
from connectors.ingest.planner import BatchPlan
from connectors.ingest.rules import FIELDS
from connectors.models import Device, DeviceChange, DeviceSourceRecord, MetricSample

DEVICE_COLUMNS = [
    "factory_id", *FIELDS, "serial_normalised", "status", "first_seen", "last_seen", "updated_at",
]  # fmt: skip
DEVICE_UPDATE_COLUMNS = [c for c in DEVICE_COLUMNS if c != "first_seen"]
RECORD_COLUMNS = [
    "device_id", "connector_id", "source_kind", "source_id", "data", "data_hash",
    "first_seen", "last_seen",
]  # fmt: skip
RECORD_UPDATE_COLUMNS = ["device_id", "data", "data_hash", "last_seen", "missing_since"]
CHANGE_COLUMNS = ["device_id", "field", "old", "new", "source", "run_id", "at"]

# A record's data is a flat dict of strings, always with the same keys in the same order:
# its JSON is a template filled with the escaped values, several times cheaper than a
# general encoder call per row. The templates are per key order (there is one in use).
# Values that need no escaping (printable ASCII without quotes or backslashes: nearly
# all) fill a template with the quotes in place, without an escaping call per value.
_JSON_TEMPLATES: dict[tuple, tuple[str, str]] = {}
_escape = json.encoder.encode_basestring_ascii


def _templates(keys: tuple) -> tuple[str, str]:
    fields = [_escape(k).replace("%", "%%") for k in keys]
    escaped = "\x01{" + ",".join(f + ":%s" for f in fields) + "}"
    plain = "\x01{" + ",".join(f + ':"%s"' for f in fields) + "}"
    _JSON_TEMPLATES[keys] = (escaped, plain)
    return escaped, plain


def jsonb(data: dict) -> bytes:
    """``data`` in jsonb's binary COPY format: version 1, then the JSON text."""
    keys = tuple(data)
    escaped, plain = _JSON_TEMPLATES.get(keys) or _templates(keys)
    values = tuple(data.values())
    try:
        text = "".join(values)
    except TypeError:  # a value that is not a string
        return b"\x01" + json.dumps(data).encode()
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return (plain % values).encode()
    return (escaped % tuple(map(_escape, values))).encode()


_DATA = {"data": ("bytea", jsonb)}  # the data column sent as pre-built jsonb bytes


def write_batch(plan: BatchPlan) -> None:
    """Write a batch plan. New devices are keyed ``"new:N"`` in the plan; their ids come
    back from the insert and the source records and changes that point at them are
    rewritten to the real ids."""
    if plan.is_empty():
        return
    ids = bulk.insert_rows(Device, plan.new_devices, DEVICE_COLUMNS)
    keys = {row["key"]: pk for row, pk in zip(plan.new_devices, ids, strict=True)}
    for row in (*plan.new_records, *plan.changed_records, *plan.changes):
        if type(row["device_id"]) is str:
            row["device_id"] = keys[row["device_id"]]
    bulk.update_rows(Device, plan.changed_devices, DEVICE_UPDATE_COLUMNS)
    bulk.insert_rows(
        DeviceSourceRecord, plan.new_records, RECORD_COLUMNS, encoders=_DATA, ids=False
    )
    bulk.update_rows(
        DeviceSourceRecord, plan.changed_records, RECORD_UPDATE_COLUMNS, encoders=_DATA
    )
    if plan.merges:
        _merge(plan.merges)
    bulk.insert_rows(DeviceChange, plan.changes, CHANGE_COLUMNS, ids=False)


def _merge(merges: list[tuple[int, int]]) -> None:
    """Samples and history of merged devices move to the device they merged into; the
    merged devices go (nothing points at them any more). Merges are rare: per merge."""
    for merged, into in merges:
        MetricSample.objects.filter(device_id=merged).update(device_id=into)
        DeviceChange.objects.filter(device_id=merged).update(device_id=into)
    Device.objects.filter(id__in=[m for m, _ in merges]).delete()
