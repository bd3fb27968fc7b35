"""What the planner needs to know from the database, each lookup written once.

Key lookups (source records by source id, devices by serial or MAC, device states) are
one SQL statement each whatever the number of keys: on PostgreSQL an index probe per key
(``unnest`` of one array parameter joined laterally, robust whatever the planner's
statistics say right after a bulk load), elsewhere ``IN`` lists in chunks. Row loads
(devices, their source records) go through the ORM with ``= ANY`` / ``IN`` filters.
"""

from __future__ import annotations

from array import array
from datetime import datetime
from itertools import repeat

from django.db import connection
from django.db.models import Lookup

from connectors.ingest.rules import FIELDS
from connectors.models import Device, DeviceSourceRecord

_CHUNK = 500  # keys per statement where each key is a placeholder (SQLite)
DEVICE_TABLE = Device._meta.db_table
RECORD_TABLE = DeviceSourceRecord._meta.db_table


class AnyLookup(Lookup):
    """``field = ANY(%s)`` with the whole list as one array parameter (PostgreSQL): no
    placeholder per value to build and parse for lists of thousands."""

    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        return self.rhs

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # Typed like the column, so PostgreSQL hashes the array (and may use the index).
        base = self.lhs.output_field.db_type(connection).split("(")[0]
        return f"{lhs} = ANY(%s::{base}[])", [*lhs_params, array_literal(self.rhs.values)]


for _model, _field in (
    (DeviceSourceRecord, "id"),
    (DeviceSourceRecord, "device"),
    (Device, "id"),
):
    _model._meta.get_field(_field).register_lookup(AnyLookup)


class _Values:
    """A list Django passes through untouched (it resolves a list element by element)."""

    __slots__ = ("values",)

    def __init__(self, values):
        self.values = list(values)


def _in(field: str, values) -> dict:
    """A filter of ``field`` over ``values``: ``= ANY`` on PostgreSQL, ``IN`` elsewhere."""
    if connection.vendor == "postgresql":
        return {f"{field}__any": _Values(values)}
    return {f"{field}__in": list(values)}


def array_literal(values) -> str:
    """The PostgreSQL array literal of ``values`` (strings or integers), built in one go:
    one text parameter is far cheaper to send than a list adapted element by element."""
    values = list(values)
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    text = "\0".join(map(str, values))  # NUL: the one character PostgreSQL text never holds
    if text.count("\0") != max(len(values) - 1, 0):  # a value holds one: let PostgreSQL refuse
        quoted = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in values)
        return '{"' + '","'.join(quoted) + '"}'
    if '"' in text or "\\" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '{"' + text.replace("\0", '","') + '"}'


def by_keys(
    columns: str, table: str, where: str, key: str, keys, params: list, *, first: str = ""
) -> list[tuple]:
    """``SELECT columns FROM table WHERE where AND key = <each key>`` in one statement.
    ``first``: an ORDER BY; then only the first row per key (``key`` must be the first of
    ``columns``). ``params`` are those of ``where``."""
    keys = list(keys)
    if not keys:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            kind = "bigint" if all(type(k) is int for k in keys) else "text"
            # No ``ORDER BY … LIMIT 1`` per key: the planner may walk the ordering index
            # instead of probing the key's; the first row per key is kept below.
            # ``OFFSET 0`` keeps the subquery a per-key probe: flattened into a join, right
            # after a bulk load (statistics that still count the factory's rows as none)
            # the planner hashes every row of the factory or connector for each batch.
            order = f" ORDER BY r.{first}" if first else ""
            cursor.execute(
                f"SELECT r.* FROM unnest(%s::{kind}[]) AS k(v) CROSS JOIN LATERAL"
                f" (SELECT {columns} FROM {table} WHERE {where} AND {key} = k.v OFFSET 0)"
                f" AS r{order}",
                [array_literal(keys), *params],
            )
            rows = cursor.fetchall()
        else:
            rows = []
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ", ".join(["%s"] * len(chunk))
                order = f" ORDER BY {first}" if first else ""
                cursor.execute(
                    f"SELECT {columns} FROM {table} WHERE {where} AND {key} IN ({marks}){order}",
                    [*params, *chunk],
                )
                rows += cursor.fetchall()
    if first:
        kept: dict = {}
        for row in rows:
            kept.setdefault(row[0], row)
        rows = list(kept.values())
    return rows


def known_records(connector_id: int, source_ids, cutoff: datetime) -> dict[str, tuple]:
    """``{source id: (record id, device id, hash, device status, device seen since
    cutoff)}`` of this connector's records; a record marked missing reads with a blank
    hash (seen again, it is written even when it says the same, which clears its mark)."""
    rows = by_keys(
        "r.source_id, r.id, r.device_id,"
        " CASE WHEN r.missing_since IS NULL THEN r.data_hash ELSE '' END, d.status,"
        " CASE WHEN d.last_seen >= %s THEN 1 ELSE 0 END",
        f"{RECORD_TABLE} r JOIN {DEVICE_TABLE} d ON d.id = r.device_id",
        "r.connector_id = %s",
        "r.source_id",
        source_ids,
        [connection.ops.adapt_datetimefield_value(cutoff), connector_id],
    )
    return {row[0]: row[1:] for row in rows}


_NO_HASH = bytes(16)
_MISSING = "0" * 32  # a record marked missing, as the snapshot's query spells its hash


def _hashes(digests: tuple[str, ...]) -> bytes:
    """The 16-byte forms of lower-case hex digests (as the ingest writes them), end to
    end; a digest that is not one (another scheme, a record marked missing) reads as
    :data:`_NO_HASH` (it matches no record)."""
    text = "".join(digests)
    try:
        # 16 bytes per digest: each was 32 hex digits (a stored digest has at most 32
        # characters, and what is not a hex digit or a space raises).
        raw = bytes.fromhex(text)
        if len(raw) == 16 * len(digests) and text == text.lower():
            return raw
    except ValueError:
        pass
    out = bytearray()
    for digest in digests:
        try:
            one = bytes.fromhex(digest) if digest == digest.lower() else b""
        except ValueError:
            one = b""
        out += one if len(one) == 16 and len(digest) == 32 else _NO_HASH
    return bytes(out)


def _device_states(factory_id: int, cutoff: datetime):
    """``((status, seen since cutoff), [device ids])`` of the factory's devices, in one
    group per state. PostgreSQL groups them (an id array per state); elsewhere they are
    grouped as they arrive in chunks."""
    fresh = "CASE WHEN last_seen >= %s THEN 1 ELSE 0 END"
    params = [connection.ops.adapt_datetimefield_value(cutoff), factory_id]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT status, {fresh}, array_agg(id) FROM {DEVICE_TABLE}"
                f" WHERE factory_id = %s GROUP BY 1, 2",
                params,
            )
            return [((status, seen), ids) for status, seen, ids in cursor.fetchall()]
    groups: dict[tuple, list[int]] = {}
    with connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT id, status, {fresh} FROM {DEVICE_TABLE} WHERE factory_id = %s",
                       params)  # fmt: skip
        while rows := cursor.fetchmany(10000):
            for pk, status, seen in rows:
                groups.setdefault((status, seen), []).append(pk)
    return list(groups.items())


class Snapshot:
    """Every record of a connector and the state of its factory's devices, read in two
    scans: a large sync's alternative to a keyed lookup per batch. Held compactly (an
    index per source id into arrays of ids and 16-byte hashes; a device's state as one of
    a few codes), as a plant's hundreds of thousands of records would otherwise take
    hundreds of megabytes as Python tuples. Rows arrive in chunks through a server-side
    cursor where there is one (never all at once in the driver's memory)."""

    def __init__(self, connector_id: int, factory_id: int, cutoff: datetime):
        # Devices first: each record keeps its device's state as a code beside it, so no
        # map of every device stays behind. (Two scans, not a join: right after a bulk
        # load the planner's statistics may make a join walk one table per row.)
        self.states: list[tuple[str, int]] = []  # (status, seen since cutoff) per code
        state_of: dict[int, int] = {}  # device id → code, while reading
        for (status, fresh), ids in _device_states(factory_id, cutoff):
            state_of.update(zip(ids, repeat(len(self.states))))
            self.states.append((status, fresh))
        self.index: dict[str, int] = {}
        self.ids = array("q")
        self.device_ids = array("q")
        self.codes = array("b")  # the device's state; -1: not a device of the factory
        hashes = bytearray()
        # The hex digests are turned into bytes here, a chunk at a time (one call): the
        # database checking and decoding each (a pattern match per row) took ten times
        # as long as reading the rows. Another scheme's digest, or a record marked
        # missing, reads as :data:`_NO_HASH`.
        with connection.chunked_cursor() as cursor:
            cursor.execute(
                f"SELECT source_id, id, device_id,"
                f" CASE WHEN missing_since IS NULL THEN data_hash ELSE %s END"
                f" FROM {RECORD_TABLE} WHERE connector_id = %s",
                [_MISSING, connector_id],
            )
            while rows := cursor.fetchmany(10000):
                source_ids, pks, device_ids, digests = zip(*rows, strict=True)
                start = len(self.ids)
                self.index.update(zip(source_ids, range(start, start + len(rows)), strict=True))
                self.ids.extend(pks)
                self.device_ids.extend(device_ids)
                self.codes.extend(map(state_of.get, device_ids, repeat(-1)))
                hashes += _hashes(digests)
        self.hashes = bytes(hashes)

    def known(self, source_ids, skip_records: set[int], skip_devices: set[int], make):
        """``({source id: make(row)}, [source ids to read by key])``: a row like one of
        :func:`known_records` (record id, device id, hash or "" when marked missing,
        device status, seen since cutoff) for each source id the snapshot holds, unless
        its record or device is in ``skip_records`` / ``skip_devices`` (written since);
        the others (and those whose device is not the factory's) are to be read."""
        index, ids, device_ids, hashes = self.index, self.ids, self.device_ids, self.hashes
        codes, states = self.codes, self.states
        found, missing = {}, []
        for source_id in source_ids:
            i = index.get(source_id)
            if i is not None:
                device_id = device_ids[i]
                code = codes[i]
                pk = ids[i]
                if code >= 0 and pk not in skip_records and device_id not in skip_devices:
                    raw = hashes[16 * i : 16 * i + 16]
                    status, fresh = states[code]
                    digest = "" if raw == _NO_HASH else raw.hex()
                    found[source_id] = make((pk, device_id, digest, status, fresh))
                    continue
            missing.append(source_id)
        return found, missing

    def unreported(self, reported: set[str]) -> list[int]:
        """The ids of the records the snapshot holds, not marked missing when it was
        read, whose source ids are not in ``reported``."""
        ids, hashes = self.ids, self.hashes
        return [
            ids[i]
            for source_id, i in self.index.items()
            if source_id not in reported and hashes[16 * i : 16 * i + 16] != _NO_HASH
        ]


def devices_by_serial(factory_id: int, serials) -> dict[str, int]:
    """``{normalised serial: device id}`` within the factory (junk never stored as one)."""
    rows = by_keys(
        "serial_normalised, id",
        DEVICE_TABLE,
        # Spelled like the partial unique index's condition, so the index serves it.
        "factory_id = %s AND NOT (serial_normalised = '')",
        "serial_normalised",
        serials,
        [factory_id],
    )
    return dict(rows)


def devices_by_mac(factory_id: int, macs) -> dict[str, tuple[int, str]]:
    """``{MAC: (device id, its normalised serial)}`` within the factory; the lowest id
    when several devices share a MAC."""
    rows = by_keys(
        "mac, id, serial_normalised",
        DEVICE_TABLE,
        "factory_id = %s",
        "mac",
        macs,
        [factory_id],
        first="id",
    )
    return {mac: (pk, serial) for mac, pk, serial in rows}


DEVICE_ROW = ("id", "status", "first_seen", "last_seen", "serial_normalised", *FIELDS)
SOURCE_ROW = (
    "id", "device_id", "source_kind", "connector_id", "source_id", "data", "data_hash",
    "last_seen", "missing_since",
)  # fmt: skip


def device_rows(ids) -> dict[int, dict]:
    """The rows of the devices ``ids`` (their reconciled fields, status, times)."""
    if not ids:
        return {}
    return {
        row["id"]: row
        for row in Device.objects.filter(**_in("id", ids)).order_by().values(*DEVICE_ROW)
    }


def source_rows(device_ids) -> list[tuple]:
    """Every source record of the devices ``device_ids``, as :data:`SOURCE_ROW` tuples."""
    if not device_ids:
        return []
    return list(
        DeviceSourceRecord.objects.filter(**_in("device", device_ids))
        .order_by()
        .values_list(*SOURCE_ROW)
    )


def factory_has_devices(factory_id: int) -> bool:
    return Device.objects.filter(factory_id=factory_id).exists()


def connector_has_records(connector_id: int) -> bool:
    return DeviceSourceRecord.objects.filter(connector_id=connector_id).exists()


def device_of_sources(connector_id: int, source_ids) -> dict[str, int]:
    """``{source id: device id}`` of this connector's records (metric samples' devices)."""
    rows = by_keys(
        "source_id, device_id", RECORD_TABLE, "connector_id = %s", "source_id", source_ids,
        [connector_id],
    )  # fmt: skip
    return dict(rows)
