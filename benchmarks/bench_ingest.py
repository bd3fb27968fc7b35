"""Ingest benchmark on PostgreSQL: 200,000 device rows; first load, unchanged re-sync and a
re-sync with changes.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/coe \
        .venv/bin/python benchmarks/bench_ingest.py

Baselines measured in the same run: a raw ``COPY`` of the same rows into an empty table
(no indexes; measured again just before each ingest phase, which is compared with the COPY
next to it, so that a shared machine's changing load hits both alike),
``bulk_create(update_conflicts=True)`` of the same device rows into the device table, and
``update_or_create`` in a loop on a sample. Targets: the ingest's first load reaches ≥
0.33× the raw COPY rate; the unchanged re-sync writes nothing and takes ≤ 3× the raw COPY
time; a re-sync in which 5 % of the devices changed (firmware) and 1 % of the source ids
were renumbered (same machines) takes ≤ 2× the raw COPY time and ends with exact counts
(updated, unchanged, superseded records, history rows, no new device); peak memory (RSS)
stays under 400 MB. Ratios are printed unrounded. Exits non-zero on a miss.
Works in its own factory and removes it afterwards. The first load writes its batches
in background writers (``CONNECTOR_INGEST_WRITERS``, default 2) as a sync does; the
re-sync runs inside one transaction, where the ingest writes in turn, so that PostgreSQL's
per-transaction counters can show it wrote nothing.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path

ROWS = int(os.environ.get("BENCH_ROWS", "200000"))
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "2000"))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from coe.models import Factory  # noqa: E402
from connectors.ingest import IngestSession  # noqa: E402
from connectors.models import Device, DeviceChange, DeviceSourceRecord, SyncRun  # noqa: E402
from connectors.records import DeviceRecord  # noqa: E402
from connectors.services import connector_create  # noqa: E402

VENDORS = [
    ("Siemens", "S7-1500"),
    ("Beckhoff", "CX5140"),
    ("Schuler", "MSD 2500"),
    ("KUKA", "KR 210"),
]
TABLES = [Device, DeviceSourceRecord, DeviceChange]


CHANGED = 20  # every 20th device (5 %) reports a new firmware in the changed re-sync
RENUMBERED = 100  # every 100th (1 %, offset by one: disjoint) under a new source id


def is_changed(i: int) -> bool:
    return i % CHANGED == 0


def is_renumbered(i: int) -> bool:
    return i % RENUMBERED == 1


def records(n: int, *, changed: bool = False):
    """The adapter's output, generated lazily (streamed, never held as a list);
    ``changed``: with the changed re-sync's firmware updates and renumbered ids."""
    for i in range(n):
        vendor, model = VENDORS[i % 4]
        firmware = f"{i % 7}.{i % 3}.0"
        source_id = f"ns=2;s=device-{i}"
        if changed and is_changed(i):
            firmware = f"{i % 7}.{i % 3}.1"
        if changed and is_renumbered(i):
            source_id = f"ns=3;s=device-{i}"
        yield DeviceRecord(
            source_id=source_id,
            serial_number=f"SN-{i:08d}",
            mac=f"02:00:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:"
            f"{(i >> 8) & 255:02x}:{i & 255:02x}",
            manufacturer=vendor,
            model=model,
            firmware=firmware,
            hardware_revision="B",
            name=f"Device {i}",
        )


def raw_copy(factory_id: int, n: int) -> float:
    """Seconds to COPY the same device rows into an empty table without indexes."""
    now = timezone.now()
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute("DROP TABLE IF EXISTS bench_raw_device")
        cursor.execute(
            "CREATE TABLE bench_raw_device (id bigint, factory_id bigint,"
            " serial_number varchar(120), mac varchar(17), manufacturer varchar(200),"
            " model varchar(200), firmware varchar(120), hardware_revision varchar(120),"
            " name varchar(200), serial_normalised varchar(120), status varchar(10),"
            " first_seen timestamptz, last_seen timestamptz, updated_at timestamptz)"
        )
        started = time.perf_counter()
        with (
            transaction.atomic(),
            cursor.copy(
                "COPY bench_raw_device (id, factory_id, serial_number, mac, manufacturer,"
                " model, firmware, hardware_revision, name, serial_normalised, status,"
                " first_seen, last_seen, updated_at) FROM STDIN"
            ) as copy,
        ):
            for i, r in enumerate(records(n)):
                copy.write_row(
                    (
                        i,
                        factory_id,
                        r.serial_number,
                        r.mac,
                        r.manufacturer,
                        r.model,
                        r.firmware,
                        r.hardware_revision,
                        r.name,
                        r.serial_number.replace("-", ""),
                        "active",
                        now,
                        now,
                        now,
                    )
                )
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw_device")
    return elapsed


def bulk_create_upsert(factory: Factory, n: int) -> float:
    """Seconds for ``bulk_create(update_conflicts=True)`` of the same device rows into the
    device table (its indexes and constraints; ids given, the primary key as the conflict
    target: the partial unique index on serials cannot be named by Django)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) + 1000000 FROM connectors_device")
        base = cursor.fetchone()[0]
    started = time.perf_counter()
    with transaction.atomic():
        batch = []
        for i, r in enumerate(records(n)):
            batch.append(
                Device(
                    id=base + i, factory=factory, serial_number=r.serial_number, mac=r.mac,
                    manufacturer=r.manufacturer, model=r.model, firmware=r.firmware,
                    hardware_revision=r.hardware_revision, name=r.name,
                    serial_normalised=r.serial_number.replace("-", ""), status="active",
                    first_seen=now, last_seen=now, updated_at=now,
                )
            )  # fmt: skip
            if len(batch) == 10000:
                _upsert_devices(batch)
                batch = []
        _upsert_devices(batch)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:  # not the ORM's delete: it would load every row
        cursor.execute("DELETE FROM connectors_device WHERE factory_id = %s", [factory.pk])
    return elapsed


def _upsert_devices(batch: list) -> None:
    Device.objects.bulk_create(
        batch,
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["serial_number", "mac", "manufacturer", "model", "firmware",
                       "hardware_revision", "name", "status", "last_seen", "updated_at"],
    )  # fmt: skip


def update_or_create_rate(factory: Factory, n: int) -> float:
    now = timezone.now()
    started = time.perf_counter()
    for r in records(n):
        Device.objects.update_or_create(
            factory=factory,
            serial_normalised=r.serial_number.replace("-", ""),
            defaults={
                "serial_number": r.serial_number,
                "mac": r.mac,
                "manufacturer": r.manufacturer,
                "model": r.model,
                "firmware": r.firmware,
                "name": r.name,
                "first_seen": now,
                "last_seen": now,
                "updated_at": now,
            },
        )
    rate = n / (time.perf_counter() - started)
    Device.objects.filter(factory=factory).delete()
    return rate


def tuples_written() -> int:
    """Rows inserted, updated or deleted in the device tables, as this backend counts them.

    PostgreSQL's per-transaction counters also hold earlier transactions' figures that are
    not yet flushed to the statistics, so a caller takes the difference over its own work.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_stat_get_xact_tuples_inserted(c.oid)"
            " + pg_stat_get_xact_tuples_updated(c.oid)"
            " + pg_stat_get_xact_tuples_deleted(c.oid)), 0)"
            " FROM pg_class c WHERE c.relname = ANY(%s)",
            [[m._meta.db_table for m in TABLES]],
        )
        return int(cursor.fetchone()[0])


def ingest(
    connector, n: int, *, one_transaction: bool, changed: bool = False, now=None
) -> tuple[float, SyncRun, int]:
    run = SyncRun.objects.create(connector=connector, status="running", started_at=timezone.now())
    started = time.perf_counter()
    written = -1
    with transaction.atomic() if one_transaction else _nothing():
        before = tuples_written() if one_transaction else 0
        session = IngestSession(connector=connector, run=run, now=now)
        session.extend(records(n, changed=changed))
        session.flush()
        session.mark_stale()
        if one_transaction:
            written = tuples_written() - before
            # A transaction that wrote nothing never took a transaction id.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
                if cursor.fetchone()[0] and written == 0:
                    written = -1  # wrote somewhere the counters do not cover
    SyncRun.objects.filter(pk=run.pk).update(
        status="succeeded", finished_at=timezone.now(), **session.counts
    )
    elapsed = time.perf_counter() - started
    run.refresh_from_db()
    return elapsed, run, written


def changed_counts(factory: Factory, connector, later) -> dict:
    """What the changed re-sync left, counted in the database."""
    records = DeviceSourceRecord.objects.filter(connector=connector)
    return {
        "devices": Device.objects.filter(factory=factory).count(),
        "superseded records": records.filter(missing_since=later).count(),
        "new records": records.filter(first_seen=later).count(),
        "firmware changes": DeviceChange.objects.filter(
            device__factory=factory, field="firmware", at=later
        ).count(),
        "stale devices": Device.objects.filter(factory=factory, status="stale").count(),
    }


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def cleanup(factory: Factory) -> None:
    # A fresh session with fresh statistics: the deletes' foreign-key checks must not
    # reuse plans this session cached while the tables were (nearly) empty, which would
    # scan every row for each of the 200,000 deleted devices.
    connection.close()
    with connection.cursor() as cursor:
        for model in TABLES:
            cursor.execute(f"ANALYZE {model._meta.db_table}")
        cursor.execute(
            "DELETE FROM connectors_devicechange WHERE device_id IN"
            " (SELECT id FROM connectors_device WHERE factory_id = %s)",
            [factory.pk],
        )
        cursor.execute(
            "DELETE FROM connectors_devicesourcerecord WHERE device_id IN"
            " (SELECT id FROM connectors_device WHERE factory_id = %s)",
            [factory.pk],
        )
        cursor.execute("DELETE FROM connectors_device WHERE factory_id = %s", [factory.pk])
    factory.delete()


def main() -> int:
    if connection.vendor != "postgresql":
        print("bench_ingest needs PostgreSQL: set DATABASE_URL=postgresql://…")
        return 2
    call_command("migrate", verbosity=0)
    # Earlier runs leave dead rows and index entries behind: start from clean tables.
    with connection.cursor() as cursor:
        for model in TABLES:
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    slug = f"bench-{os.getpid()}"
    factory = Factory.objects.create(
        slug=slug, name=slug, kind="manufacturing", business_unit="Bench"
    )
    try:
        connector = connector_create(
            factory=factory,
            name="bench",
            kind="opcua",
            settings={"endpoint": "opc.tcp://127.0.0.1:4840"},
        )
        upsert_s = bulk_create_upsert(factory, ROWS)
        uoc_rate = update_or_create_rate(factory, SAMPLE)
        # The machine may be shared: each phase is compared with a raw COPY measured just
        # before it, so both see the same load.
        copy_s = raw_copy(factory.pk, ROWS)
        copy_rate = ROWS / copy_s
        load_s, load_run, _ = ingest(connector, ROWS, one_transaction=False)
        copy_resync_s = raw_copy(factory.pk, ROWS)
        resync_s, resync_run, written = ingest(connector, ROWS, one_transaction=True)
        # A minute later (within the last-seen resolution: only what changed is written):
        # 5 % changed, 1 % renumbered, written by the background writers as a sync does.
        later = timezone.now() + timedelta(minutes=1)
        copy_changed_s = raw_copy(factory.pk, ROWS)
        changed_s, changed_run, _ = ingest(
            connector, ROWS, one_transaction=False, changed=True, now=later
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        load_rate = ROWS / load_s
        n_changed = sum(1 for i in range(ROWS) if is_changed(i))
        n_renumbered = sum(1 for i in range(ROWS) if is_renumbered(i))
        found = changed_counts(factory, connector, later)
        expected = {
            "devices": ROWS,
            "superseded records": n_renumbered,
            "new records": n_renumbered,
            "firmware changes": n_changed,
            "stale devices": 0,
        }
        print(f"rows: {ROWS:,}; background writers: {settings.CONNECTOR_INGEST_WRITERS}")
        print(
            f"raw COPY into an empty table: {copy_s!r} s ({copy_rate:,.0f} rows/s); "
            f"before the re-syncs: {copy_resync_s!r} s, {copy_changed_s!r} s"
        )
        print(f"bulk_create(update_conflicts=True) into the device table: {upsert_s!r} s")
        print(f"update_or_create loop (sample of {SAMPLE:,}): {uoc_rate:,.0f} rows/s")
        load_ratio = load_rate / copy_rate
        print(
            f"ingest first load: {load_s!r} s, created {load_run.created:,}; "
            f"ratio to raw COPY rate {load_ratio!r} (≥ 0.33); "
            f"to bulk_create(update_conflicts) rate {upsert_s / load_s!r}"
        )
        resync_ratio = resync_s / copy_resync_s
        print(
            f"re-sync unchanged: {resync_s!r} s, unchanged {resync_run.unchanged:,}, "
            f"rows written {written}; ratio to raw COPY time {resync_ratio!r} (≤ 3)"
        )
        changed_ratio = changed_s / copy_changed_s
        print(
            f"re-sync with {n_changed:,} changed and {n_renumbered:,} renumbered: "
            f"{changed_s!r} s, updated {changed_run.updated:,}, unchanged "
            f"{changed_run.unchanged:,}, created {changed_run.created:,}, stale "
            f"{changed_run.stale:,}; ratio to raw COPY time {changed_ratio!r} (≤ 2)"
        )
        print(f"  found {found}")
        print(f"  expected {expected}")
        print(f"ingest vs update_or_create: {load_rate / uoc_rate!r}×")
        print(f"peak memory (RSS): {peak_mb!r} MB (< 400)")
        checks = {
            "first load created every device": load_run.created == ROWS,
            "first load ≥ 0.33× raw COPY": load_ratio >= 0.33,
            "unchanged re-sync unchanged": resync_run.unchanged == ROWS,
            "unchanged re-sync wrote 0 rows": written == 0,
            "unchanged re-sync ≤ 3× raw COPY": resync_ratio <= 3,
            "changed re-sync counts": (
                changed_run.updated == n_changed + n_renumbered
                and changed_run.unchanged == ROWS - n_changed - n_renumbered
                and changed_run.created == 0
                and changed_run.stale == 0
                and found == expected
            ),
            "changed re-sync ≤ 2× raw COPY": changed_ratio <= 2,
            "peak RSS < 400 MB": peak_mb < 400,
        }
        for name, passed in checks.items():
            if not passed:
                print(f"missed: {name}")
        ok = all(checks.values())
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        cleanup(factory)


if __name__ == "__main__":
    sys.exit(main())
