"""Benchmark: the portfolio's KPI and ROI columns read from the rollups against the same
figures computed from the raw facts per request (the baseline, measured in the same run),
at two portfolio sizes; and the refresh task of one factory after an import.

Run ``.venv/bin/python benchmarks/bench_rollups.py`` (SQLite in a temp file) or with
``DATABASE_URL=postgresql://…`` (a scratch database: its factories named ``bench-r-*`` are
replaced). ``BENCH_FACTORIES`` (default ``20,200``) sets the sizes; each factory gets a
year of daily counters on two lines (or production deployments) and monthly finance.

Targets (exit 1 when missed): at the largest size the rollup read takes at most half the
raw computation's time, and its query count is the same at every size.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from coe import bulk, derived  # noqa: E402
from coe.models import Factory  # noqa: E402
from connectors.facts import Deployment, FinanceEntry, OTCounter  # noqa: E402
from connectors.imports import facts_import_file  # noqa: E402
from kpis import reads, selectors  # noqa: E402
from kpis.rollups import last_full_month, rebuild  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_FACTORIES", "20,200").split(",")]
RUNS = 5


def build(count: int) -> list[Factory]:
    Factory.objects.filter(slug__startswith="bench-r-").delete()
    factories = [
        Factory(
            slug=f"bench-r-{i}", name=f"Bench {i}", business_unit=f"Unit {i % 5}",
            kind="manufacturing" if i % 2 else "software",
        )
        for i in range(count)
    ]  # fmt: skip
    bulk.insert(Factory, factories)
    start = datetime.combine(last_full_month() - timedelta(days=365), datetime.min.time(), UTC)
    counters, deployments, finance = [], [], []
    for factory in factories:
        for day in range(365):
            at = start + timedelta(days=day, hours=6)
            if factory.kind == "manufacturing":
                counters += [
                    OTCounter(
                        factory_id=factory.pk, line=line, period_start=at,
                        period_end=at + timedelta(hours=8), planned_time_s=28800,
                        run_time_s=25000 + day, ideal_cycle_time_s=2, total_count=10000,
                        good_count=9800 - day,
                    )
                    for line in ("L1", "L2")
                ]  # fmt: skip
            else:
                deployments.append(
                    Deployment(
                        factory_id=factory.pk, environment="production", source_id=str(day),
                        status="failed" if day % 9 == 0 else "success", finished_at=at,
                        commit_created_at=at - timedelta(hours=5 + day % 7),
                    )
                )  # fmt: skip
        for month in range(12):
            finance.append(
                FinanceEntry(
                    factory_id=factory.pk, date=(start + timedelta(days=31 * month)).date(),
                    kind="investment" if month < 3 else "benefit", amount=1000 + month,
                    currency="EUR", description=str(month),
                )
            )  # fmt: skip
    bulk.insert(OTCounter, counters)
    bulk.insert(Deployment, deployments)
    bulk.insert(FinanceEntry, finance)
    began = time.perf_counter()
    rebuild([f.pk for f in factories])
    print(f"  {count} factories: rebuild of their rollups {time.perf_counter() - began:.3f} s")
    return list(Factory.objects.filter(slug__startswith="bench-r-").order_by("pk"))


def raw(factories):
    return selectors.roi_by_factory(factories), selectors.latest_kpis_by_factory(factories)


def rolled(factories):
    return reads.rois_by_factory(factories), reads.latest_kpis_by_factory(factories)


def timed(fn, factories) -> tuple[float, int]:
    times = []
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as ctx:
            began = time.perf_counter()
            fn(factories)
            times.append(time.perf_counter() - began)
    return statistics.median(times), len(ctx.captured_queries)


def main() -> int:
    call_command("migrate", verbosity=0)
    ok = True
    queries = set()
    for size in SIZES:
        with derived.batch(hand_over=False):  # the bench rebuilds the rollups itself
            factories = build(size)
        base, base_q = timed(raw, factories)
        new, new_q = timed(rolled, factories)
        queries.add(new_q)
        ratio = new / base
        print(
            f"  {size} factories: raw {base:.6f} s ({base_q} queries), rollups {new:.6f} s "
            f"({new_q} queries), ratio rollups/raw {ratio}"
        )
        if size == SIZES[-1] and ratio > 0.5:
            print(f"MISSED: rollups/raw {ratio} > 0.5 at {size} factories")
            ok = False
    if len(queries) != 1:
        print(f"MISSED: rollup reads took {sorted(queries)} queries across sizes")
        ok = False
    plant = Factory.objects.filter(slug__startswith="bench-r-", kind="manufacturing").first()
    day = last_full_month() + timedelta(days=3)
    data = (
        "factory,line,period_start,period_end,planned_time_s,run_time_s,ideal_cycle_time_s,"
        f"total_count,good_count\n{plant.slug},L9,{day}T06:00:00Z,{day}T14:00:00Z,"
        "28800,20000,2,9000,8000\n"
    ).encode()
    began = time.perf_counter()
    facts_import_file(kind="counters", data=data, name="one.csv")
    print(f"  one counter row imported, its month's rollup refreshed: "
          f"{time.perf_counter() - began:.3f} s")  # fmt: skip
    month = reads.latest_kpis_by_factory([plant])[plant.pk]
    if month["oee"] is None:
        print("MISSED: the imported month has no OEE in the rollup")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
