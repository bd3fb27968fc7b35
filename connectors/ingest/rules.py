"""The rules of identity and precedence, as plain functions (no database, no ORM).

- :func:`normalise` cleans what a source says and derives its comparable identity
  (normalised serial, MAC); junk serials and MACs normalise to "".
- :func:`identity_changed` tells whether a source id now names another machine than
  before: another real serial, another MAC, or another manufacturer and model.
- :func:`keep_real_identity` keeps a record's real serial and MAC when it now reports
  junk for the same machine (a junk identifier never replaces a real one).
- :func:`reconcile` computes a device's fields from its source records: per field, the
  best-ranked source; ties go to the most recently seen record; records marked missing
  take no part while any record still reports the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import md5
from typing import NamedTuple

from django.conf import settings

from connectors.choices import DeviceStatus
from connectors.normalise import clean_text, normalise_mac, normalise_serial
from connectors.records import DeviceRecord

# Fields reconciled from the source records, with their column limits.
FIELDS: dict[str, int] = {
    "serial_number": 120,
    "mac": 17,
    "manufacturer": 200,
    "model": 200,
    "firmware": 120,
    "hardware_revision": 120,
    "name": 200,
}
# Highest first. Kinds not listed rank after the listed ones (alphabetically).
DEFAULT_PRECEDENCE = ["opcua", "modbus", "mqtt", "netbox", "snipeit", "cmdb", "upload"]
FIELD_PRECEDENCE: dict[str, list[str]] = {
    "firmware": DEFAULT_PRECEDENCE,
    "hardware_revision": DEFAULT_PRECEDENCE,
    "serial_number": DEFAULT_PRECEDENCE,
    # Naming and MAC are curated in the CMDB; prefer it over the machine's own claims.
    "name": ["netbox", "snipeit", "cmdb", "upload", "opcua", "modbus", "mqtt"],
    "mac": ["netbox", "snipeit", "cmdb", "opcua", "modbus", "mqtt", "upload"],
}
ACTIVE = DeviceStatus.ACTIVE.value
OFFLINE = DeviceStatus.OFFLINE.value
STALE = DeviceStatus.STALE.value
_EPOCH = datetime(1970, 1, 1).timestamp()


def precedence_table() -> dict[str, dict[str, int]]:
    """``{field: {source kind: rank}}`` (0 = wins), ``CONNECTOR_FIELD_PRECEDENCE`` applied."""
    table = {**FIELD_PRECEDENCE, **getattr(settings, "CONNECTOR_FIELD_PRECEDENCE", {})}
    return {
        name: {kind: rank for rank, kind in enumerate(table.get(name, DEFAULT_PRECEDENCE))}
        for name in FIELDS
    }


def last_seen_resolution() -> timedelta:
    return timedelta(seconds=settings.CONNECTOR_LAST_SEEN_RESOLUTION)


@dataclass(slots=True)
class Norm:
    """A device record after normalisation: its field values, the hash of what it said,
    its comparable serial and MAC, and its status."""

    source_id: str
    data: dict
    digest: str
    serial: str
    mac: str
    status: str


class Source(NamedTuple):
    """One source record as reconciling sees it."""

    kind: str
    connector_id: int
    source_id: str
    data: dict
    last_seen: datetime | None = None
    missing: bool = False


def raw_text(record: DeviceRecord) -> str:
    """What the record says, before normalisation, as one string (what is hashed)."""
    return "\x1f".join(
        (
            record.serial_number or "",
            record.mac or "",
            record.manufacturer or "",
            record.model or "",
            record.firmware or "",
            record.hardware_revision or "",
            record.name or "",
            "0" if record.online is False else "1",
        )
    )


def raw_digest(record: DeviceRecord) -> str:
    """A hash of what the record says, before normalisation (which is deterministic, so the
    same raw record always normalises the same): unchanged records skip normalising."""
    return md5(raw_text(record).encode(), usedforsecurity=False).hexdigest()


def record_status(record: DeviceRecord) -> str:
    return OFFLINE if record.online is False else ACTIVE


def normalise(record: DeviceRecord, digest: str, raw: str = "") -> Norm:
    """The record's field values cleaned, its comparable serial and its status. ``raw``:
    the record's :func:`raw_text` when the caller has it; without a NUL in it, a field
    that is a string is cleaned by stripping and cutting alone (what :func:`clean_text`
    does to a string without NULs), without a call per field."""
    status = OFFLINE if record.online is False else ACTIVE
    if not raw or "\x00" in raw:
        return _normalise(record, digest, status)
    s, m, ma, mo, f, h, n = (
        record.serial_number, record.mac, record.manufacturer, record.model,
        record.firmware, record.hardware_revision, record.name,
    )  # fmt: skip
    serial = s.strip()[:120] if s.__class__ is str else clean_text(s, 120)
    mac = normalise_mac(m)
    data = {
        "serial_number": serial,
        "mac": mac,
        "manufacturer": ma.strip()[:200] if ma.__class__ is str else clean_text(ma, 200),
        "model": mo.strip()[:200] if mo.__class__ is str else clean_text(mo, 200),
        "firmware": f.strip()[:120] if f.__class__ is str else clean_text(f, 120),
        "hardware_revision": h.strip()[:120] if h.__class__ is str else clean_text(h, 120),
        "name": n.strip()[:200] if n.__class__ is str else clean_text(n, 200),
        "status": status,
    }
    return Norm(record.source_id, data, digest, normalise_serial(serial), mac, status)


def _normalise(record: DeviceRecord, digest: str, status: str) -> Norm:
    serial = clean_text(record.serial_number, 120)
    mac = normalise_mac(record.mac)
    data = {
        "serial_number": serial,
        "mac": mac,
        "manufacturer": clean_text(record.manufacturer, 200),
        "model": clean_text(record.model, 200),
        "firmware": clean_text(record.firmware, 120),
        "hardware_revision": clean_text(record.hardware_revision, 120),
        "name": clean_text(record.name, 200),
        "status": status,
    }
    return Norm(record.source_id, data, digest, normalise_serial(serial), mac, status)


def _make(data: dict) -> tuple[str, str]:
    return (
        (data.get("manufacturer") or "").strip().casefold(),
        (data.get("model") or "").strip().casefold(),
    )


def identity_changed(before: dict, after: Norm) -> bool:
    """Whether a source id that said ``before`` now names another machine: another real
    serial, another MAC, or another manufacturer and model (compared when both say one).
    Junk and blank values compare with nothing."""
    old_serial = normalise_serial(before.get("serial_number"))
    if old_serial and after.serial and old_serial != after.serial:
        return True
    old_mac = normalise_mac(before.get("mac"))
    if old_mac and after.mac and old_mac != after.mac:
        return True
    old_make, new_make = _make(before), _make(after.data)
    return any(old_make) and any(new_make) and old_make != new_make


def same_identity(before: dict, norm: Norm) -> bool:
    """Whether a record that said ``before`` names the same machine as ``norm`` by what
    identifies it: the same real serial, or (neither having one) the same MAC, with no
    conflicting manufacturer and model."""
    old_serial = normalise_serial(before.get("serial_number"))
    if old_serial or norm.serial:
        same = old_serial == norm.serial
    else:
        same = bool(norm.mac) and normalise_mac(before.get("mac")) == norm.mac
    return same and not identity_changed(before, norm)


def keep_real_identity(before: dict, norm: Norm) -> None:
    """The same machine now reporting a junk (or no) serial or MAC keeps the real one it
    reported before: a junk identifier never replaces a real one."""
    if not norm.serial:
        old = before.get("serial_number") or ""
        if normalise_serial(old):
            norm.data["serial_number"] = old
            norm.serial = normalise_serial(old)
    if not norm.mac:
        old_mac = normalise_mac(before.get("mac"))
        if old_mac:
            norm.data["mac"] = old_mac
            norm.mac = old_mac


def _value(name: str, data: dict) -> str:
    value = data.get(name) or ""
    if name == "serial_number" and value and not normalise_serial(value):
        return ""  # a junk serial never wins over a real one (nor stands for one)
    return value


def reconcile(records, ranks: dict[str, dict[str, int]]) -> tuple[dict, dict]:
    """The device's field values from its source records (:class:`Source`, or tuples
    ``(kind, connector_id, source_id, data[, last_seen, missing])``): per field, the
    non-empty value of the best-ranked source kind; ties go to the most recently seen
    record, then the lowest connector id and source id. Records marked missing take part
    only when every record is missing. Also which kind gave each value. Independent of the
    records' order."""
    sources = [r if isinstance(r, Source) else Source(*r) for r in records]
    present = [s for s in sources if not s.missing] or sources
    values: dict[str, str] = {}
    winners: dict[str, str] = {}
    if len(present) == 1:  # one source: it wins every field it fills
        only = present[0]
        for name in FIELDS:
            values[name] = _value(name, only.data)
            winners[name] = only.kind if values[name] else ""
        return values, winners
    for name in FIELDS:
        rank = ranks[name]
        best = None
        for s in present:
            value = _value(name, s.data)
            if not value:
                continue
            seen = -(s.last_seen.timestamp() if s.last_seen is not None else _EPOCH)
            key = (rank.get(s.kind, len(rank)), s.kind, seen, s.connector_id, s.source_id)
            if best is None or key < best[0]:
                best = (key, value, s.kind)
        values[name] = best[1] if best else ""
        winners[name] = best[2] if best else ""
    return values, winners


def serial_of(value: str) -> str:
    """The comparable serial a device row stores next to its serial number."""
    return normalise_serial(value)
