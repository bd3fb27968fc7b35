"""The one ingest step every adapter feeds: identify, reconcile, write, history, staleness.

Adapters yield plain records; an :class:`IngestSession` takes them in batches:

1. normalise each device record and hash what it says;
2. a record whose source record exists with the same hash, on a device that is in the
   right status and was seen recently, is *unchanged* and costs nothing to write;
3. the others are identified within the factory by normalised serial number (junk values
   never match), then MAC, then the connector's source id, else a new device;
4. each touched device is recomputed from *all* its source records with per-field source
   precedence (so the arrival order of sources does not matter), and every changed field
   is recorded as a :class:`DeviceChange`;
5. the batch is written by :func:`write_batch` — ``COPY`` into staging tables and one
   set-based upsert per table on PostgreSQL, ``bulk_create``/``bulk_update`` elsewhere.

After a complete, successful full sync, :meth:`IngestSession.mark_stale` marks the
connector's records of the devices it did not see as missing, and a device no source
still reports as stale (never deleted). Re-ingesting the same
data writes nothing: ``last_seen`` only moves when older than
``CONNECTOR_LAST_SEEN_RESOLUTION`` seconds (default one hour).
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    Lookup,
    OuterRef,
    Q,
    Value,
    When,
)
from django.utils import timezone

from connectors.choices import ConnectorKind, DeviceStatus
from connectors.models import (
    Connector,
    Device,
    DeviceChange,
    DeviceSourceRecord,
    MetricSample,
    SyncRun,
)
from connectors.normalise import clean_text, normalise_mac, normalise_serial
from connectors.records import DeviceRecord, MetricRecord, RecordError

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
MAX_ERRORS = 1000
SOURCE_ID_MAX = DeviceSourceRecord._meta.get_field("source_id").max_length


def precedence_table() -> dict[str, dict[str, int]]:
    """``{field: {source kind: rank}}`` (0 = wins), ``CONNECTOR_FIELD_PRECEDENCE`` applied."""
    table = {**FIELD_PRECEDENCE, **getattr(settings, "CONNECTOR_FIELD_PRECEDENCE", {})}
    return {
        name: {kind: rank for rank, kind in enumerate(table.get(name, DEFAULT_PRECEDENCE))}
        for name in FIELDS
    }


def last_seen_resolution() -> timedelta:
    return timedelta(seconds=settings.CONNECTOR_LAST_SEEN_RESOLUTION)


def default_batch_size() -> int:
    """``CONNECTOR_INGEST_BATCH_SIZE``, else 10,000 records on PostgreSQL and 500 elsewhere."""
    if settings.CONNECTOR_INGEST_BATCH_SIZE > 0:
        return settings.CONNECTOR_INGEST_BATCH_SIZE
    return 10000 if connection.vendor == "postgresql" else 500


@dataclass(slots=True)
class _Norm:
    """A device record after normalisation."""

    source_id: str
    data: dict
    digest: str
    serial: str
    mac: str
    status: str


@dataclass
class BatchPlan:
    """Rows one batch writes. Device and source-record rows are dicts of column values."""

    new_devices: list[dict] = field(default_factory=list)
    changed_devices: list[dict] = field(default_factory=list)
    new_records: list[dict] = field(default_factory=list)
    changed_records: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    # Devices merged into another: (merged device, device it is merged into).
    merges: list[tuple[int, int]] = field(default_factory=list)
    # What the plan read or writes, for the pipeline's overlap check (see ``overlaps``):
    # the batch's source ids, the serials and MACs it looked up or writes, and the
    # existing devices it read or writes.
    source_ids: set[str] = field(default_factory=set)
    serials: set[str] = field(default_factory=set)
    macs: set[str] = field(default_factory=set)
    device_ids: set[int] = field(default_factory=set)

    def overlaps(self, other: BatchPlan) -> bool:
        """Whether the two plans share a source id, serial, MAC or existing device: then
        the later one must be planned after the earlier one is committed."""
        return not (
            self.source_ids.isdisjoint(other.source_ids)
            and self.serials.isdisjoint(other.serials)
            and self.macs.isdisjoint(other.macs)
            and self.device_ids.isdisjoint(other.device_ids)
        )

    def is_empty(self) -> bool:
        return not (
            self.new_devices
            or self.changed_devices
            or self.new_records
            or self.changed_records
            or self.changes
            or self.merges
        )


class AnyLookup(Lookup):
    """``field = ANY(%s)`` with the whole list as one array parameter (PostgreSQL): no
    placeholder per value to build and parse for lists of thousands."""

    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        return self.rhs

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # Typed like the column, so PostgreSQL hashes the array (and may use the index)
        # instead of comparing every row with every element (a cross-type smallint[]).
        base = self.lhs.output_field.db_type(connection).split("(")[0]
        return f"{lhs} = ANY(%s::{base}[])", [*lhs_params, _array_literal(self.rhs.values)]


def _array_literal(values: list) -> str:
    """The PostgreSQL array literal of ``values`` (strings or integers), built in one go:
    one text parameter is far cheaper to send than a list adapted element by element."""
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    text = "\0".join(map(str, values))  # NUL: the one character PostgreSQL text never holds
    if text.count("\0") != max(len(values) - 1, 0):  # a value holds one: let PostgreSQL refuse
        quoted = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in values)
        return '{"' + '","'.join(quoted) + '"}'
    if '"' in text or "\\" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '{"' + text.replace("\0", '","') + '"}'


for _model, _field in (
    (DeviceSourceRecord, "source_id"),
    (DeviceSourceRecord, "device"),
    (Device, "id"),
    (Device, "serial_normalised"),
    (Device, "mac"),
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


def _fetch(queryset) -> list[tuple]:
    """The rows of a ``values_list`` queryset. On PostgreSQL its SQL runs on a plain cursor
    and the rows come back in one ``fetchall`` (these columns need no conversion), not in
    chunks of 100 through the ORM's iterator; elsewhere the ORM iterates."""
    if connection.vendor != "postgresql":
        return list(queryset)
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _probe(select: str, keys, params: list) -> list[tuple]:
    """PostgreSQL: ``SELECT <select> … LIMIT 1`` once per key (``k.v``), as one statement.

    A lateral subquery per key is an index probe whatever the planner's statistics say
    (right after a bulk load they are stale, and a plain ``= ANY`` then scans the whole
    factory's rows for every batch). The keys go as one array literal."""
    keys = list(keys)
    if not keys:
        return []
    kind = "bigint" if all(type(k) is int for k in keys) else "text"
    sql = (
        f"SELECT r.* FROM unnest(%s::{kind}[]) AS k(v)"
        f" CROSS JOIN LATERAL (SELECT {select} LIMIT 1) AS r"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_array_literal(keys), *params])
        return cursor.fetchall()


def raw_digest(record: DeviceRecord) -> str:
    """A hash of what the record says, before normalisation (which is deterministic, so the
    same raw record always normalises the same): unchanged records skip normalising."""
    raw = "\x1f".join(
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
    return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()


_ACTIVE = DeviceStatus.ACTIVE.value
_OFFLINE = DeviceStatus.OFFLINE.value


def _normalise(record: DeviceRecord, digest: str) -> _Norm:
    """The record's field values cleaned, its comparable serial and its status."""
    serial = clean_text(record.serial_number, 120)
    mac = normalise_mac(record.mac)
    status = _OFFLINE if record.online is False else _ACTIVE
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
    return _Norm(record.source_id, data, digest, normalise_serial(serial), mac, status)


def reconcile(records: Iterable[tuple[str, int, str, dict]], ranks: dict[str, dict[str, int]]):
    """The device's field values from its source records ``(kind, connector_id, source_id,
    data)``: per field, the non-empty value of the best-ranked source (ties: lowest connector
    id, then source id), and which kind gave it. Independent of arrival order."""
    values: dict[str, str] = {}
    winners: dict[str, str] = {}
    ordered = sorted(records, key=lambda r: (r[1], r[2]))
    if len(ordered) == 1:  # one source: it wins every field it fills
        kind, _, _, data = ordered[0]
        for name in FIELDS:
            values[name] = data.get(name) or ""
            winners[name] = kind if values[name] else ""
        return values, winners
    for name in FIELDS:
        rank = ranks[name]
        best = None
        for kind, connector_id, source_id, data in ordered:
            value = data.get(name) or ""
            if not value:
                continue
            key = (rank.get(kind, len(rank)), kind, connector_id, source_id)
            if best is None or key < best[0]:
                best = (key, value, kind)
        values[name] = best[1] if best else ""
        winners[name] = best[2] if best else ""
    return values, winners


@contextmanager
def _gc_paused():
    """No cyclic garbage collection while a batch is planned and written: the batch
    allocates hundreds of thousands of small, acyclic objects, and the collector would
    traverse them over and over. It runs again (if it was on) when the batch is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(slots=True)
class _InFlight:
    """A batch being written in the background: what to count once it is committed."""

    batch: list[DeviceRecord]
    plan: BatchPlan
    counts: dict
    seen: set[int]
    future: Future


class _BatchWriter:
    """One background thread with its own database connection that writes planned
    batches, each in its own transaction, while the session plans the next batch: the
    database's work (COPY, index upkeep, foreign-key checks at commit) overlaps Python's
    (normalising, hashing, identifying)."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")

    def submit(self, plan: BatchPlan) -> Future:
        return self._pool.submit(self._write, plan)

    @staticmethod
    def _write(plan: BatchPlan) -> None:
        with transaction.atomic():
            write_batch(plan)

    def close(self) -> None:
        try:
            # ``connection`` is looked up in the writer's thread: its own connection.
            self._pool.submit(lambda: connection.close()).result()
        finally:
            self._pool.shutdown(wait=True)


class IngestSession:
    """Ingests one sync run's records in batches and keeps its counts and errors."""

    def __init__(
        self,
        *,
        connector: Connector,
        run: SyncRun | None = None,
        batch_size: int | None = None,
        now: datetime | None = None,
    ):
        self.connector = connector
        self.run = run
        self.factory_id = connector.factory_id
        self.kind = connector.kind
        self.batch_size = batch_size or default_batch_size()
        self.now = now or timezone.now()
        self.resolution = last_seen_resolution()
        self.ranks = precedence_table()
        self.counts = {"created": 0, "updated": 0, "unchanged": 0, "stale": 0, "rejected": 0}
        self.metrics = 0
        self.errors: list[dict] = []
        self.processed = 0
        self.seen_device_ids: set[int] = set()
        self._devices: dict[str, DeviceRecord] = {}
        self._metrics: list[MetricRecord] = []
        self.on_batch = None  # called with the session after each written device batch
        self._optimistic: bool | None = None  # a first load: see _first_load()
        self._writers: list[_BatchWriter] = []  # see _writer_count()
        self._in_flight: list[_InFlight] = []  # oldest first
        self.background_batches = 0  # batches handed to a background writer
        self.replanned_batches = 0  # writes that met a unique constraint and were planned again

    # --- feeding ------------------------------------------------------------------------
    def add(self, item: DeviceRecord | MetricRecord | RecordError) -> None:
        """Take one record from an adapter; a full batch is written at once."""
        if isinstance(item, DeviceRecord):
            if not item.source_id:
                self.reject("", "device record without a source id")
                return
            if len(item.source_id) > SOURCE_ID_MAX or "\x00" in item.source_id:
                self.reject(
                    item.source_id[:SOURCE_ID_MAX].replace("\x00", ""),
                    f"source id longer than {SOURCE_ID_MAX} characters or holding a NUL",
                )
                return
            self._devices[item.source_id] = item  # the last word of a source wins
            if len(self._devices) >= self.batch_size:
                self._flush_devices()
        elif isinstance(item, MetricRecord):
            self._metrics.append(item)
            if len(self._metrics) >= self.batch_size:
                self.flush()
        elif isinstance(item, RecordError):
            self.reject(item.source_id, item.message)

    def extend(self, items: Iterable) -> None:
        for item in items:
            self.add(item)

    def reject(self, source_id: str, message: str) -> None:
        self.counts["rejected"] += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"source_id": source_id, "message": message})

    def flush(self) -> None:
        """Write the buffered device records and wait until every device batch is
        committed, then write the buffered metric samples (which point at devices)."""
        self._flush_devices()
        self.close()
        if self._metrics:
            batch, self._metrics = self._metrics, []
            self._ingest_metrics(batch)

    def close(self) -> None:
        """Wait for the batches being written in the background, then end the writer
        threads and their database connections. Raises what a write raised."""
        try:
            self._drain()
        finally:
            writers, self._writers = self._writers, []
            for writer in writers:
                writer.close()

    def _flush_devices(self) -> None:
        if self._devices:
            batch = list(self._devices.values())
            self._devices = {}
            self._ingest_devices(batch)

    # --- devices ------------------------------------------------------------------------
    def _writer_count(self) -> int:
        """How many batches may be written in the background while the next is planned:
        ``CONNECTOR_INGEST_WRITERS`` on PostgreSQL, outside a caller's transaction (each
        batch commits on its own, on a writer's connection, so a caller's atomic block
        could not hold them); else 0, and every batch is written in turn."""
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return 0
        return max(0, settings.CONNECTOR_INGEST_WRITERS)

    def _ingest_devices(self, batch: list[DeviceRecord]) -> None:
        writers = self._writer_count()
        if not writers:
            self._drain()
            self._write_now(batch)
            return
        with _gc_paused():
            plan, counts, seen = self._plan(batch, self._first_load())
        if any(pending.plan.overlaps(plan) for pending in self._in_flight):
            # A batch being written touches what this one read: plan it again on what
            # that batch commits, with every lookup.
            self._drain()
            self._write_now(batch, lookups=True)
            return
        while len(self._in_flight) >= writers:
            if self._wait_oldest():
                # A batch failed its optimistic write and was planned again in full:
                # this plan may rest on what that batch was going to write.
                self._write_now(batch)
                return
        if plan.is_empty():
            self._done(batch, counts, seen)
            return
        while len(self._writers) < writers:
            self._writers.append(_BatchWriter())
        # Round robin: the writer of the batch just waited for (or an idle one).
        writer = self._writers[self.background_batches % writers]
        self.background_batches += 1
        self._in_flight.append(_InFlight(batch, plan, counts, seen, writer.submit(plan)))

    def _wait_oldest(self) -> bool:
        """Wait for the oldest batch in flight and count it; on a failure, wait for all
        (see :meth:`_drain`). Returns whether a batch had to be written again."""
        pending = self._in_flight[0]
        if pending.future.exception() is not None:
            return self._drain()
        self._in_flight.pop(0)
        self._done(pending.batch, pending.counts, pending.seen, pending.plan)
        return False

    def _drain(self) -> bool:
        """Wait for every batch in flight and count it. A batch whose (optimistic) write
        met a unique constraint is planned again in full and written here, once all are
        committed. Returns whether one was; raises any other error of a write."""
        failed: list[_InFlight] = []
        error: BaseException | None = None
        while self._in_flight:
            pending = self._in_flight.pop(0)
            exc = pending.future.exception()
            if isinstance(exc, IntegrityError):
                failed.append(pending)
            elif exc is not None:
                error = error or exc
            else:
                self._done(pending.batch, pending.counts, pending.seen, pending.plan)
        if error is not None:
            raise error
        if failed:
            self._optimistic = False
            self.replanned_batches += len(failed)
        for pending in failed:
            self._write_now(pending.batch)
        return bool(failed)

    def _write_now(self, batch: list[DeviceRecord], *, lookups: bool = False) -> None:
        """Plan and write one batch in one transaction on this thread's connection;
        ``lookups``: with every lookup even on a first load (the batch met others)."""
        for attempt in range(2):
            try:
                with _gc_paused(), transaction.atomic():
                    optimistic = not attempt and not lookups and self._first_load()
                    plan, counts, seen = self._plan(batch, optimistic)
                    write_batch(plan)
                break
            except IntegrityError:
                # Another connector of the factory created one of these serials meanwhile
                # (or, optimistically planned, the data met itself again): identify again
                # against what is committed, with every lookup from now on.
                self._optimistic = False
                self.replanned_batches += 1
                if attempt:
                    raise
        self._done(batch, counts, seen, plan)

    def _done(self, batch, counts: dict, seen: set[int], plan: BatchPlan | None = None) -> None:
        """Count a committed batch and report progress."""
        for key, value in counts.items():
            self.counts[key] += value
        self.seen_device_ids |= seen
        if plan is not None:
            self.seen_device_ids.update(row["id"] for row in plan.new_devices)
        self.processed += len(batch)
        if self.on_batch is not None:
            self.on_batch(self)

    def _first_load(self) -> bool:
        """Whether the factory had no devices when this session's first batch came: then
        batches are planned optimistically (see :meth:`_plan`) until a conflict says not."""
        if self._optimistic is None:
            self._optimistic = not Device.objects.filter(factory_id=self.factory_id).exists()
        return self._optimistic

    def _plan(
        self, batch: list[DeviceRecord], optimistic: bool = False
    ) -> tuple[BatchPlan, dict, set[int]]:
        """The rows one batch writes, its counts and the existing devices it saw.

        ``optimistic`` (a first load into a factory without devices) skips the lookups the
        unique constraints stand in for: this connector's source records (a record that
        exists after all makes its insert fail) and, when no device matched by MAC, the
        serials. A conflict raises ``IntegrityError`` and the batch is planned again in
        full, so the outcome is the same either way."""
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        seen: set[int] = set()
        cutoff = self.now - self.resolution
        # Two index lookups rather than a join: robust whatever the planner's statistics.
        # A record a full sync missed reads with a blank hash: seen again, it is written
        # (and its missing_since cleared) even when it says the same.
        if optimistic:
            records = []
        elif connection.vendor == "postgresql":
            records = _probe(
                "source_id, id, device_id,"
                " CASE WHEN missing_since IS NULL THEN data_hash ELSE '' END"
                " FROM connectors_devicesourcerecord"
                " WHERE connector_id = %s AND source_id = k.v",
                [r.source_id for r in batch],
                [self.connector.pk],
            )
        else:
            records = _fetch(
                DeviceSourceRecord.objects.filter(
                    connector_id=self.connector.pk,
                    **_in("source_id", [r.source_id for r in batch]),
                )
                .order_by()
                .annotate(
                    hash_if_present=Case(
                        When(missing_since__isnull=True, then=F("data_hash")), default=Value("")
                    )
                )
                .values_list("source_id", "id", "device_id", "hash_if_present")
            )
        state = {}
        if records and connection.vendor == "postgresql":
            state = {
                pk: (status, is_fresh)
                for pk, status, is_fresh in _probe(
                    "id, status, last_seen >= %s FROM connectors_device WHERE id = k.v",
                    {r[2] for r in records},
                    [cutoff],
                )
            }
        elif records:
            fresh = ExpressionWrapper(Q(last_seen__gte=cutoff), output_field=BooleanField())
            state = {
                pk: (status, is_fresh)
                for pk, status, is_fresh in _fetch(
                    Device.objects.filter(**_in("id", {r[2] for r in records}))
                    .order_by()
                    .annotate(fresh=fresh)
                    .values_list("id", "status", "fresh")
                )
            }
        existing = {r[0]: (*r, *state.get(r[2], ("", False))) for r in records}
        dirty: list[_Norm] = []
        offline = DeviceStatus.OFFLINE.value
        active = DeviceStatus.ACTIVE.value
        for record in batch:
            digest = raw_digest(record)
            row = existing.get(record.source_id)
            if (
                row
                and row[3] == digest
                and row[5]
                and row[4] == (offline if record.online is False else active)
            ):
                counts["unchanged"] += 1
                seen.add(row[2])
            else:
                dirty.append(_normalise(record, digest))
        plan = BatchPlan(source_ids={r.source_id for r in batch}, device_ids=set(seen))
        if not dirty:
            return plan, counts, seen

        # Identity: serial, then MAC, then this connector's source id.
        serials = {n.serial for n in dirty if n.serial}
        macs = {n.mac for n in dirty if n.mac}
        plan.serials |= serials
        plan.macs |= macs
        by_serial: dict[str, int] = {}
        by_mac: dict[str, int] = {}
        mac_serial: dict[str, str] = {}  # the serial of the device a MAC found
        if macs and connection.vendor == "postgresql":
            found = _probe(
                "mac, id, serial_normalised FROM connectors_device"
                " WHERE factory_id = %s AND mac = k.v ORDER BY id",
                macs,
                [self.factory_id],
            )
        elif macs:
            found = _fetch(
                Device.objects.filter(factory_id=self.factory_id, **_in("mac", macs))
                .order_by("-id")  # the lowest id last: it wins below
                .values_list("mac", "id", "serial_normalised")
            )
        else:
            found = []
        for mac, pk, device_serial in found:
            by_mac[mac] = pk
            mac_serial[mac] = device_serial
        # Optimistic (a first load): with no MAC match, every target is a new device whose
        # serial the partial unique index guards, so the serial lookup can be skipped.
        if optimistic and not by_mac:
            serials = set()
        if serials and connection.vendor == "postgresql":
            by_serial = dict(
                _probe(
                    "serial_normalised, id FROM connectors_device WHERE factory_id = %s"
                    " AND serial_normalised = k.v AND NOT (serial_normalised = '')",
                    serials,
                    [self.factory_id],
                )
            )
        elif serials:
            by_serial = dict(
                _fetch(
                    Device.objects.filter(
                        factory_id=self.factory_id, **_in("serial_normalised", serials)
                    )
                    # Spelled like the partial unique index's condition, so the index serves it.
                    .exclude(serial_normalised="")
                    .order_by()
                    .values_list("serial_normalised", "id")
                )
            )
        # Serial / MAC → temporary key of a device new in this batch, and how many of the
        # batch's records feed each new device.
        new_by_serial: dict[str, str] = {}
        new_by_mac: dict[str, str] = {}
        new_serials: dict[str, str] = {}  # new device → its serial
        feeds: dict[str, int] = {}
        targets: list[tuple[_Norm, int | str]] = []
        # A device found by MAC but with no serial, when the record's serial found another
        # device: the same machine, seen before without its serial. It is merged into the
        # device of the serial (its source records, samples and history move there).
        merges: dict[int, int] = {}
        merge_keys: dict[int, tuple[str, str]] = {}  # what told the two apart, and joined them
        # The same within the batch: a device new in it folds into the one it turned out to
        # be (its records follow): a serial-less new one into the device of the serial, a
        # new one with a serial into an existing serial-less device with its MAC.
        folded: dict[str, int | str] = {}

        def resolve(key):
            while key in folded:
                key = folded[key]
            return key

        for norm in dirty:
            target: int | str | None = None
            serial, mac = norm.serial, norm.mac
            if serial:
                target = by_serial.get(serial) or resolve(new_by_serial.get(serial))
            if mac and mac in by_mac:
                by_this_mac = by_mac[mac]
                if target is None:
                    # Two serials that differ are two machines, whatever their MACs (a
                    # gateway's MAC, a cloned image): the MAC only identifies when one
                    # side has no serial.
                    if not serial or not mac_serial[mac]:
                        target = by_this_mac
                elif type(target) is int and by_this_mac != target and not mac_serial[mac]:
                    merges[by_this_mac] = target
                    merge_keys[by_this_mac] = (f"MAC {mac}", f"serial {serial}")
            if target is None and mac:
                new = resolve(new_by_mac.get(mac))
                if new is not None and (not serial or not new_serials.get(new)):
                    target = new
            elif serial and mac and target is not None:
                new = resolve(new_by_mac.get(mac))
                if new is not None and new != target and not new_serials.get(new):
                    folded[new] = target
                elif (
                    type(target) is str
                    and mac in by_mac
                    and not mac_serial[mac]
                    and by_mac[mac] not in merges
                ):
                    folded[target] = by_mac[mac]
                    target = by_mac[mac]
            if target is None and norm.source_id in existing:
                target = existing[norm.source_id][2]
            if target is None:
                target = f"new:{len(targets)}"
                feeds[target] = 1
            elif type(target) is str:
                feeds[target] = feeds.get(target, 0) + 1
            if type(target) is str:
                if serial:
                    new_by_serial.setdefault(serial, target)
                    new_serials.setdefault(target, serial)
                if mac:
                    new_by_mac.setdefault(mac, target)
            targets.append((norm, target))
        if folded:
            targets = [(n, resolve(t)) for n, t in targets]
            feeds = {}
            for _, t in targets:
                if type(t) is str:
                    feeds[t] = feeds.get(t, 0) + 1
        if merges:  # records that found a merged device (by MAC, by source id) follow it
            targets = [(n, merges.get(t, t)) for n, t in targets]

        existing_ids = {t for _, t in targets if isinstance(t, int)}
        # The devices read below, and those a moving record leaves.
        plan.device_ids |= existing_ids
        plan.device_ids |= {existing[n.source_id][2] for n in dirty if n.source_id in existing}
        plan.device_ids |= merges.keys()
        # Devices a record of this batch leaves (it now identifies another machine): they
        # are recomputed from the records they keep, and go stale when none is left.
        left = {
            existing[n.source_id][2]
            for n, t in targets
            if n.source_id in existing and existing[n.source_id][2] != t
        } - existing_ids.union(merges)
        devices = {
            row["id"]: row
            for row in Device.objects.filter(**_in("id", existing_ids | left))
            .order_by()
            .values("id", "status", "first_seen", "last_seen", "serial_normalised", *FIELDS)
        }
        records: dict[int | str, dict[tuple[int, str], tuple[str, int, str, dict]]] = {}
        for kind, cid, sid, data, device_id in (
            DeviceSourceRecord.objects.filter(**_in("device", existing_ids | left))
            .order_by()
            .values_list("source_kind", "connector_id", "source_id", "data", "device_id")
        ):
            records.setdefault(device_id, {})[(cid, sid)] = (kind, cid, sid, data)
        if merges:
            self._plan_merges(plan, merges, merge_keys, records, {n.source_id for n in dirty})

        status_by_target: dict[int | str, tuple[str, str]] = {}
        record_source: dict[int | str, str] = {}
        # A new device fed by one new record only needs no reconciling: the record wins
        # every field it fills. Such devices take the lean path below.
        lean: dict[str, dict] = {}
        connector_id = self.connector.pk
        kind = self.kind
        now = self.now
        factory_id = self.factory_id
        for norm, target in targets:
            if feeds.get(target) == 1 and norm.source_id not in existing:
                data = norm.data
                lean[target] = {
                    "key": target,
                    "factory_id": factory_id,
                    "serial_number": data["serial_number"],
                    "mac": data["mac"],
                    "manufacturer": data["manufacturer"],
                    "model": data["model"],
                    "firmware": data["firmware"],
                    "hardware_revision": data["hardware_revision"],
                    "name": data["name"],
                    "serial_normalised": norm.serial,
                    "status": norm.status,
                    "first_seen": now,
                    "last_seen": now,
                    "updated_at": now,
                }
                plan.new_devices.append(lean[target])
                plan.new_records.append(
                    {
                        "device_id": target,
                        "connector_id": connector_id,
                        "source_kind": kind,
                        "source_id": norm.source_id,
                        "data": data,
                        "data_hash": norm.digest,
                        "first_seen": now,
                        "last_seen": now,
                    }
                )
                continue
            # A record that moved to another device leaves its old one.
            old = existing.get(norm.source_id)
            if old and old[2] != target and old[2] in records:
                records[old[2]].pop((self.connector.pk, norm.source_id), None)
            records.setdefault(target, {})[(self.connector.pk, norm.source_id)] = (
                self.kind,
                self.connector.pk,
                norm.source_id,
                norm.data,
            )
            status_by_target[target] = (norm.status, self.kind)
            record_source[target] = self.kind
            if old:
                if old[3] != norm.digest or old[2] != target:
                    plan.changed_records.append(
                        {
                            "id": old[1],
                            "device_id": target,
                            "data": norm.data,
                            "data_hash": norm.digest,
                            "last_seen": self.now,
                            "missing_since": None,
                        }
                    )
            else:
                plan.new_records.append(
                    {
                        "device_id": target,
                        "connector_id": self.connector.pk,
                        "source_kind": self.kind,
                        "source_id": norm.source_id,
                        "data": norm.data,
                        "data_hash": norm.digest,
                        "first_seen": self.now,
                        "last_seen": self.now,
                    }
                )

        touched: dict[int | str, bool] = {}
        serial_forms = {n.data["serial_number"]: n.serial for n in dirty}
        for target, status_info in status_by_target.items():
            values, winners = reconcile(records[target].values(), self.ranks)
            serial = values["serial_number"]
            values["serial_normalised"] = (
                serial_forms[serial] if serial in serial_forms else normalise_serial(serial)
            )
            status, status_source = status_info
            if isinstance(target, str):
                plan.new_devices.append(
                    {
                        "key": target,
                        "factory_id": self.factory_id,
                        **values,
                        "status": status,
                        "first_seen": self.now,
                        "last_seen": self.now,
                        "updated_at": self.now,
                    }
                )
                touched[target] = True
                continue
            current = devices[target]
            changed = self._apply(plan, current, values, winners)
            if current["status"] != status:
                plan.changes.append(
                    self._change(target, "status", current["status"], status, {}, status_source)
                )
                current["status"] = status
                changed = True
            if changed or current["last_seen"] < cutoff:
                current["last_seen"] = self.now
                current["updated_at"] = self.now
                current["factory_id"] = self.factory_id
                plan.changed_devices.append(current)
            touched[target] = changed
        for pk in sorted(left):
            current = devices.get(pk)
            if current is None:
                continue
            if records.get(pk):
                values, winners = reconcile(records[pk].values(), self.ranks)
                values["serial_normalised"] = normalise_serial(values["serial_number"])
                changed = self._apply(plan, current, values, winners)
            else:
                changed = current["status"] != DeviceStatus.STALE
                if changed:
                    plan.changes.append(
                        self._change(pk, "status", current["status"], DeviceStatus.STALE, {})
                    )
                    current["status"] = DeviceStatus.STALE.value
            if changed:
                current["updated_at"] = self.now
                current["factory_id"] = self.factory_id
                plan.changed_devices.append(current)
        counts["created"] += len(lean)
        for norm, target in targets:
            if target in lean:
                continue
            if isinstance(target, str):
                counts["created" if touched.get(target) else "updated"] += 1
                touched[target] = False  # later records of the same new device: updates
            else:
                old = existing.get(norm.source_id)
                record_changed = not old or old[3] != norm.digest or old[2] != target
                counts["updated" if touched[target] or record_changed else "unchanged"] += 1
                seen.add(target)
        for row in plan.changed_devices:  # the serials and MACs the devices end with
            if row["serial_normalised"]:
                plan.serials.add(row["serial_normalised"])
            if row["mac"]:
                plan.macs.add(row["mac"])
        return plan, counts, seen

    def _plan_merges(self, plan: BatchPlan, merges: dict, keys: dict, records: dict, batch_ids):
        """Move the merged devices' source records to the devices they merge into (those of
        this batch's own records move with them anyway) and mark each merge in history."""
        columns = ("id", "device_id", "connector_id", "source_id", "source_kind", "data")
        moved = DeviceSourceRecord.objects.filter(**_in("device", merges.keys())).values_list(
            *columns, "data_hash", "last_seen", "missing_since"
        )
        for pk, device_id, cid, sid, kind, data, digest, last_seen, missing in moved:
            into = merges[device_id]
            records.setdefault(into, {})[(cid, sid)] = (kind, cid, sid, data)
            if cid == self.connector.pk and sid in batch_ids:
                continue
            plan.changed_records.append(
                {
                    "id": pk,
                    "device_id": into,
                    "data": data,
                    "data_hash": digest,
                    "last_seen": last_seen,
                    "missing_since": missing,
                }
            )
        for merged, into in sorted(merges.items()):
            plan.merges.append((merged, into))
            # History: "merged: MAC aa:… → serial SN…" (the merged device's id is gone).
            plan.changes.append(self._change(into, "merged", *keys[merged], {}, self.kind))

    def _apply(self, plan: BatchPlan, current: dict, values: dict, winners: dict) -> bool:
        """Set a device row's reconciled ``values``, recording each change. Whether any."""
        changed = False
        for name, new in values.items():
            old = current[name] or ""
            if old != new:
                current[name] = new
                changed = True
                if name != "serial_normalised":
                    plan.changes.append(self._change(current["id"], name, old, new, winners))
        return changed

    def _change(self, device, name, old, new, winners, source: str = "") -> dict:
        return {
            "device_id": device,
            "field": name,
            "old": old,
            "new": new,
            "source": source or winners.get(name, "") or self.kind,
            "run_id": self.run.pk if self.run else None,
            "at": self.now,
        }

    # --- metrics ------------------------------------------------------------------------
    def _ingest_metrics(self, batch: list[MetricRecord]) -> None:
        source_ids = {m.device_source_id for m in batch if m.device_source_id}
        device_of = dict(
            DeviceSourceRecord.objects.filter(
                connector_id=self.connector.pk, source_id__in=source_ids
            ).values_list("source_id", "device_id")
        )
        rows = []
        for m in batch:
            if m.period_end < m.period_start:
                self.reject(m.device_source_id, f"{m.metric}: period ends before it starts")
                continue
            rows.append(
                MetricSample(
                    factory_id=self.factory_id,
                    metric=clean_text(m.metric, 120),
                    series=clean_text(m.series or m.device_source_id or m.line, 200),
                    period_start=m.period_start,
                    period_end=m.period_end,
                    value=float(m.value),
                    unit=clean_text(m.unit, 40),
                    source=self.kind,
                    line=clean_text(m.line, 120),
                    device_id=device_of.get(m.device_source_id),
                )
            )
        MetricSample.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        self.metrics += len(rows)

    # --- staleness ----------------------------------------------------------------------
    def mark_stale(self) -> int:
        """After a complete, full sync: this connector's records of the devices it did not
        see are *missing*; such a device becomes stale when no source still reports it (a
        record of a synced source that is not missing: an upload says a device existed,
        not that it is still there). Returns how many devices became stale."""
        self.flush()
        known = set(
            DeviceSourceRecord.objects.filter(connector_id=self.connector.pk).values_list(
                "device_id", flat=True
            )
        )
        candidates = sorted(known - self.seen_device_ids)
        reported = DeviceSourceRecord.objects.filter(
            device_id=OuterRef("pk"), missing_since__isnull=True
        ).exclude(source_kind=ConnectorKind.UPLOAD)
        stale: list[int] = []
        for start in range(0, len(candidates), 1000):
            chunk = candidates[start : start + 1000]
            with transaction.atomic():
                DeviceSourceRecord.objects.filter(
                    connector_id=self.connector.pk, device_id__in=chunk, missing_since=None
                ).update(missing_since=self.now)
                before = dict(
                    Device.objects.filter(id__in=chunk)
                    .exclude(status=DeviceStatus.STALE)
                    .exclude(Exists(reported))
                    .values_list("id", "status")
                )
                stale += before
                Device.objects.filter(id__in=before).update(
                    status=DeviceStatus.STALE, updated_at=self.now
                )
                DeviceChange.objects.bulk_create(
                    [
                        DeviceChange(
                            device_id=pk,
                            field="status",
                            old=old,
                            new=DeviceStatus.STALE,
                            source=self.kind,
                            run=self.run,
                            at=self.now,
                        )
                        for pk, old in before.items()
                    ]
                )
        self.counts["stale"] += len(stale)
        return len(stale)


# --- writing one batch ------------------------------------------------------------------
DEVICE_COLUMNS = [
    "id",
    "factory_id",
    *FIELDS,
    "serial_normalised",
    "status",
    "first_seen",
    "last_seen",
    "updated_at",
]
RECORD_COLUMNS = [
    "id",
    "device_id",
    "connector_id",
    "source_kind",
    "source_id",
    "data",
    "data_hash",
    "first_seen",
    "last_seen",
]
CHANGE_COLUMNS = ["device_id", "field", "old", "new", "source", "run_id", "at"]
_DEVICE_ROW = itemgetter(*DEVICE_COLUMNS)
_CHANGE_ROW = itemgetter(*CHANGE_COLUMNS)


_RECORD_ROW = itemgetter(*RECORD_COLUMNS)
_RECORD_CHANGE_COLUMNS = ["id", "device_id", "data", "data_hash", "last_seen", "missing_since"]
_RECORD_CHANGE_ROW = itemgetter(*_RECORD_CHANGE_COLUMNS)
_DATA = RECORD_COLUMNS.index("data")

# A record's data is a flat dict of strings, always with the same keys in the same order:
# its JSON is a template filled with the escaped values, several times cheaper than a
# general encoder call per row. The templates are per key order (there is one in use).
_JSON_TEMPLATES: dict[tuple, str] = {}
_escape = json.encoder.encode_basestring_ascii


def _jsonb(data: dict) -> bytes:
    """``data`` in jsonb's binary COPY format: version 1, then the JSON text."""
    keys = tuple(data)
    template = _JSON_TEMPLATES.get(keys)
    if template is None:
        fields = (_escape(k).replace("%", "%%") + ":%s" for k in keys)
        template = "\x01{" + ",".join(fields) + "}"
        _JSON_TEMPLATES[keys] = template
    try:
        return (template % tuple(map(_escape, data.values()))).encode()
    except TypeError:  # a value that is not a string
        return b"\x01" + json.dumps(data).encode()


def _with_jsonb(rows: Iterable[dict], getter, position: int):
    for row in rows:
        values = list(getter(row))
        values[position] = _jsonb(values[position])
        yield values


def write_batch(plan: BatchPlan) -> None:
    """Write a batch plan: the PostgreSQL fast path (COPY + set-based upsert) or bulk ORM.

    New devices are keyed ``"new:N"`` in the plan; their ids are assigned here and the
    source records and changes that point at them are rewritten to the real ids.
    """
    if plan.is_empty():
        return
    if connection.vendor == "postgresql":
        _write_postgresql(plan)
    else:
        _write_portable(plan)


def _resolve(plan: BatchPlan, ids: dict[str, int]) -> None:
    for row in (*plan.new_records, *plan.changed_records, *plan.changes):
        if isinstance(row["device_id"], str):
            row["device_id"] = ids[row["device_id"]]


def _write_portable(plan: BatchPlan) -> None:
    devices = [Device(**{k: v for k, v in row.items() if k != "key"}) for row in plan.new_devices]
    Device.objects.bulk_create(devices, batch_size=200)
    for row, device in zip(plan.new_devices, devices, strict=True):
        row["id"] = device.pk
    _resolve(plan, {row["key"]: d.pk for row, d in zip(plan.new_devices, devices, strict=True)})
    if plan.changed_devices:
        Device.objects.bulk_update(
            [Device(**{k: row[k] for k in DEVICE_COLUMNS}) for row in plan.changed_devices],
            [c for c in DEVICE_COLUMNS if c not in ("id", "first_seen")],
            batch_size=200,
        )
    DeviceSourceRecord.objects.bulk_create(
        [DeviceSourceRecord(**row) for row in plan.new_records], batch_size=200
    )
    if plan.changed_records:
        DeviceSourceRecord.objects.bulk_update(
            [DeviceSourceRecord(**row) for row in plan.changed_records],
            ["device_id", "data", "data_hash", "last_seen", "missing_since"],
            batch_size=200,
        )
    DeviceChange.objects.bulk_create([DeviceChange(**row) for row in plan.changes], batch_size=200)
    for merged, into in plan.merges:
        MetricSample.objects.filter(device_id=merged).update(device_id=into)
        DeviceChange.objects.filter(device_id=merged).update(device_id=into)
        Device.objects.filter(id=merged).delete()  # nothing points at it any more


_SEQUENCES: dict[str, str] = {}


def _next_ids(cursor, table: str, count: int) -> list[int]:
    """``count`` fresh ids of ``table`` drawn from its sequence in one round trip."""
    if not count:
        return []
    if table not in _SEQUENCES:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        _SEQUENCES[table] = cursor.fetchone()[0]
    cursor.execute(
        "SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)",
        [_SEQUENCES[table], count],
    )
    return cursor.fetchone()[0]


_PG_TYPES = {
    "BigAutoField": "int8",
    "ForeignKey": "int8",
    "CharField": "text",
    "TextField": "text",
    "DateTimeField": "timestamptz",
    "JSONField": "jsonb",
}


def _column_types(model, columns: list[str]) -> list[str]:
    """The PostgreSQL types of ``model``'s ``columns`` as binary COPY sends them."""
    by_column = {f.column: f for f in model._meta.concrete_fields}
    return [_PG_TYPES[by_column[c].get_internal_type()] for c in columns]


def _copy(cursor, table: str, columns: list[str], types: list[str], rows: Iterable) -> None:
    """COPY ``rows`` into ``table`` in the binary format: the server reads integers,
    timestamps and JSON without parsing their text, and the driver writes them in C."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        write = copy.write_row
        for row in rows:
            write(row)


def _write_postgresql(plan: BatchPlan) -> None:
    """COPY new rows (ids drawn from the sequences up front) straight into their tables;
    COPY changed rows into temporary staging tables and apply them with one set-based
    ``UPDATE … FROM`` per table. Changes (history) are append-only: COPY."""
    device_table = Device._meta.db_table
    device_types = _column_types(Device, DEVICE_COLUMNS)
    # The data goes as jsonb's binary form built here (see _jsonb): bytes as they are.
    record_types = _column_types(DeviceSourceRecord, RECORD_COLUMNS)
    record_types[_DATA] = "bytea"
    record_table = DeviceSourceRecord._meta.db_table
    # The driver's errors (a unique violation in a COPY) surface as Django's IntegrityError.
    with connection.cursor() as wrapper, connection.wrap_database_errors:
        cursor = wrapper.cursor  # the psycopg 3 cursor, for COPY
        ids = _next_ids(cursor, device_table, len(plan.new_devices))
        _resolve(plan, {row["key"]: pk for row, pk in zip(plan.new_devices, ids, strict=True)})
        for row, pk in zip(plan.new_devices, ids, strict=True):
            row["id"] = pk
        record_ids = _next_ids(cursor, record_table, len(plan.new_records))
        for row, pk in zip(plan.new_records, record_ids, strict=True):
            row["id"] = pk
        if plan.new_devices:
            _copy(
                cursor,
                device_table,
                DEVICE_COLUMNS,
                device_types,
                map(_DEVICE_ROW, plan.new_devices),
            )
        if plan.new_records:
            _copy(
                cursor,
                record_table,
                RECORD_COLUMNS,
                record_types,
                _with_jsonb(plan.new_records, _RECORD_ROW, _DATA),
            )
        if plan.changed_devices:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS stage_device (LIKE {device_table}) "
                "ON COMMIT DELETE ROWS"
            )
            # Empty after a commit already; inside an outer transaction (tests, a caller's
            # atomic block) the previous batch's rows must go.
            cursor.execute("TRUNCATE stage_device")
            _copy(
                cursor,
                "stage_device",
                DEVICE_COLUMNS,
                device_types,
                map(_DEVICE_ROW, plan.changed_devices),
            )
            updates = ", ".join(
                f"{c} = s.{c}" for c in DEVICE_COLUMNS if c not in ("id", "first_seen")
            )
            cursor.execute(
                f"UPDATE {device_table} t SET {updates} FROM stage_device s WHERE t.id = s.id"
            )
        if plan.changed_records:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS stage_record_change (id bigint, "
                "device_id bigint, data jsonb, data_hash varchar(32), last_seen timestamptz, "
                "missing_since timestamptz) "
                "ON COMMIT DELETE ROWS"
            )
            cursor.execute("TRUNCATE stage_record_change")
            _copy(
                cursor,
                "stage_record_change",
                _RECORD_CHANGE_COLUMNS,
                ["int8", "int8", "bytea", "text", "timestamptz", "timestamptz"],
                _with_jsonb(plan.changed_records, _RECORD_CHANGE_ROW, 2),
            )
            cursor.execute(
                f"UPDATE {record_table} t SET device_id = s.device_id, data = s.data, "
                "data_hash = s.data_hash, last_seen = s.last_seen, "
                "missing_since = s.missing_since FROM stage_record_change s WHERE t.id = s.id"
            )
        if plan.merges:
            merged = "{" + ",".join(str(m) for m, _ in plan.merges) + "}"
            into = "{" + ",".join(str(i) for _, i in plan.merges) + "}"
            for table in (MetricSample._meta.db_table, DeviceChange._meta.db_table):
                cursor.execute(
                    f"UPDATE {table} t SET device_id = m.new_id FROM"
                    " unnest(%s::bigint[], %s::bigint[]) AS m(old_id, new_id)"
                    " WHERE t.device_id = m.old_id",
                    [merged, into],
                )
            cursor.execute(f"DELETE FROM {device_table} WHERE id = ANY(%s::bigint[])", [merged])
        if plan.changes:
            _copy(
                cursor,
                DeviceChange._meta.db_table,
                CHANGE_COLUMNS,
                _column_types(DeviceChange, CHANGE_COLUMNS),
                map(_CHANGE_ROW, plan.changes),
            )
