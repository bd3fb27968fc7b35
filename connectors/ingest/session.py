"""The ingest session: takes one sync run's records in batches, plans each batch (lookups
between the pure planner's steps), has it written, and keeps counts and errors."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from coe import bulk
from connectors.ingest import lookups, planner, rows, staleness
from connectors.ingest.pipeline import Pipeline
from connectors.ingest.planner import BatchPlan, Context, Known
from connectors.ingest.rules import last_seen_resolution, precedence_table
from connectors.models import Connector, DeviceSourceRecord, MetricSample, SyncRun
from connectors.normalise import clean_text
from connectors.records import DeviceRecord, MetricRecord, RecordError

MAX_ERRORS = 1000
SOURCE_ID_MAX = DeviceSourceRecord._meta.get_field("source_id").max_length
METRIC_KEY = ["factory", "metric", "period_start", "series", "source"]
METRIC_UPDATE = ["period_end", "value", "unit", "line", "device"]


def default_batch_size() -> int:
    """``CONNECTOR_INGEST_BATCH_SIZE``, else 10,000 records on PostgreSQL and 500 elsewhere."""
    if settings.CONNECTOR_INGEST_BATCH_SIZE > 0:
        return settings.CONNECTOR_INGEST_BATCH_SIZE
    return 10000 if connection.vendor == "postgresql" else 500


@contextmanager
def _older_objects_frozen():
    """While a batch is planned, the cyclic garbage collector leaves alone the objects
    that existed before it (``gc.freeze``): the batch allocates hundreds of thousands of
    small objects, and each full collection would otherwise traverse everything the
    process holds again. Collection itself stays on; the objects thaw afterwards."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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
        self.reported: set[str] = set()  # every source id this session took
        self._devices: dict[str, DeviceRecord] = {}
        self._metrics: list[MetricRecord] = []
        self.on_batch = None  # called with the session after each written device batch
        self.optimistic: bool | None = None  # a first load: see first_load()
        # The connector had no source records when the first batch came (asked on a first
        # load only): every record it has at the end is then one this sync reported.
        self.no_records_before = False
        self.pipeline = Pipeline(self)
        self.background_batches = 0  # batches handed to a background writer
        self.replanned_batches = 0  # writes that met a unique constraint and were planned again
        # A large sync reads the connector's records once (see _known): the snapshot, and
        # the records and devices this session's plans write (read again by key).
        self.snapshot: lookups.Snapshot | None = None
        self.touched_records: set[int] = set()
        self.touched_devices: set[int] = set()

    @property
    def context(self) -> Context:
        return Context(
            connector_id=self.connector.pk,
            kind=self.kind,
            factory_id=self.factory_id,
            now=self.now,
            cutoff=self.now - self.resolution,
            run_id=self.run.pk if self.run else None,
            ranks=self.ranks,
        )

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
        self.pipeline.close()

    def _flush_devices(self) -> None:
        if self._devices:
            batch = list(self._devices.values())
            self._devices = {}
            self.pipeline.ingest(batch)

    # --- planning -----------------------------------------------------------------------
    def first_load(self) -> bool:
        """Whether the factory had no devices when this session's first batch came: then
        batches are planned optimistically (see :meth:`plan_batch`) until a conflict says
        not."""
        if self.optimistic is None:
            self.optimistic = not lookups.factory_has_devices(self.factory_id)
            if self.optimistic:
                self.no_records_before = not lookups.connector_has_records(self.connector.pk)
        return self.optimistic

    def plan_batch(
        self, batch: list[DeviceRecord], optimistic: bool = False
    ) -> tuple[BatchPlan, dict, set[int]]:
        with _older_objects_frozen():
            return self._plan_batch(batch, optimistic)

    def _plan_batch(self, batch: list[DeviceRecord], optimistic: bool):
        """The rows one batch writes, its counts and the existing devices it confirms.

        ``optimistic`` (a first load into a factory without devices) skips the lookups the
        unique constraints stand in for: this connector's source records (a record that
        exists after all makes its insert fail) and, when no device matched by MAC, the
        serials. A conflict raises ``IntegrityError`` and the batch is planned again in
        full, so the outcome is the same either way."""
        ctx = self.context
        source_ids = [r.source_id for r in batch]
        self.reported.update(source_ids)
        known = {} if optimistic else self._known(source_ids, ctx)
        dirty, counts, seen = planner.split(batch, known)
        plan = BatchPlan(source_ids=set(source_ids), device_ids=set(seen))
        if not dirty:
            return plan, counts, seen
        # The source records of the devices the changed records are on now: what each of
        # them said before is among them (its device's records are read once, for both).
        first = {known[n.source_id].device_id for n in dirty if n.source_id in known}
        sources = lookups.source_rows(first)
        previous = {row[0]: row[5] for row in sources}
        reidentified = planner.prepare(dirty, known, previous)
        found = self._found(dirty, optimistic, plan)
        identified = planner.identify(dirty, known, reidentified, found)
        existing, left = planner.devices_to_read(identified, known)
        plan.device_ids |= existing | left | identified.merges.keys()
        self.touched_devices |= existing | left | identified.merges.keys()
        devices = lookups.device_rows(existing | left)
        sources += lookups.source_rows((existing | left | identified.merges.keys()) - first)
        rows.build(ctx, plan, identified, known, devices, sources, left, self.reported,
                   counts, seen)  # fmt: skip
        self.touched_records.update(row["id"] for row in plan.changed_records)
        return plan, counts, seen

    def _known(self, source_ids: list[str], ctx: Context) -> dict[str, Known]:
        """This connector's records of ``source_ids`` and their devices' states.

        A sync whose batches come full (a large one) reads every record of the connector
        once, at its first batch, instead of probing the index per key and batch; what
        this session's own plans write since (records, devices) and source ids the
        snapshot lacks are read by key, after the batches that write them (the
        pipeline's overlap check). Changes by other syncs meanwhile are seen by the
        next sync, as with a lookup per batch that just preceded them."""
        make = Known._make
        if self.snapshot is None and len(source_ids) >= self.batch_size:
            # In a transaction of its own (or the caller's): its server-side cursors then
            # need not be held past a commit, which would make the server copy every row.
            with transaction.atomic():
                self.snapshot = lookups.Snapshot(self.connector.pk, self.factory_id, ctx.cutoff)
        known: dict[str, Known] = {}
        missing = source_ids
        if self.snapshot is not None:
            known, missing = self.snapshot.known(
                source_ids, self.touched_records, self.touched_devices, make
            )
        for sid, row in lookups.known_records(self.connector.pk, missing, ctx.cutoff).items():
            known[sid] = make(row)
        return known

    def _found(self, dirty, optimistic: bool, plan: BatchPlan) -> planner.Found:
        """The existing devices the changed records' serials and MACs name."""
        serials = {n.serial for n in dirty if n.serial}
        macs = {n.mac for n in dirty if n.mac}
        plan.serials |= serials
        plan.macs |= macs
        by_mac = lookups.devices_by_mac(self.factory_id, macs)
        # Optimistic (a first load): with no MAC match, every target is a new device whose
        # serial the partial unique index guards, so the serial lookup can be skipped.
        if optimistic and not by_mac:
            serials = set()
        return planner.Found(lookups.devices_by_serial(self.factory_id, serials), by_mac)

    def done(self, batch, counts: dict, seen: set[int], plan: BatchPlan | None = None) -> None:
        """Count a committed batch and report progress."""
        for key, value in counts.items():
            self.counts[key] += value
        self.seen_device_ids |= seen
        if plan is not None:
            self.seen_device_ids.update(row["id"] for row in plan.new_devices)
        self.processed += len(batch)
        if self.on_batch is not None:
            self.on_batch(self)

    # --- metrics ------------------------------------------------------------------------
    def _ingest_metrics(self, batch: list[MetricRecord]) -> None:
        device_of = lookups.device_of_sources(
            self.connector.pk, {m.device_source_id for m in batch if m.device_source_id}
        )
        samples: dict[tuple, MetricSample] = {}
        accepted = 0
        for m in batch:
            if m.period_end < m.period_start:
                self.reject(m.device_source_id, f"{m.metric}: period ends before it starts")
                continue
            sample = MetricSample(
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
            # One row per natural key: a sample sent again in the batch replaces it.
            samples[(sample.metric, sample.series, sample.period_start)] = sample
            accepted += 1
        bulk.upsert(MetricSample, list(samples.values()), METRIC_KEY, METRIC_UPDATE)
        self.metrics += accepted

    # --- staleness ----------------------------------------------------------------------
    def mark_stale(self) -> int:
        """After a complete, full sync: every record of this connector that the sync did
        not report is marked missing, and a device no source still reports goes stale
        (see :mod:`connectors.ingest.staleness`). Returns how many devices did."""
        self.flush()
        if self.snapshot is not None:
            candidates = self.snapshot.unreported(self.reported)
        elif self.no_records_before:
            # A first load of a connector without records (at most one sync of a connector
            # runs at a time): nothing it did not report exists, nothing is read.
            candidates = []
        else:
            candidates = None  # every record of the connector is read
        stale = staleness.mark_missing(self.context, self.reported, candidates)
        self.counts["stale"] += stale
        return stale
