"""Benchmark: import 100k OT counter rows, re-import them, compute a year of OEE; ROI of 20k
finance rows. Run ``.venv/bin/python benchmarks/bench_kpis.py`` (SQLite in a temp file) or
with ``DATABASE_URL=postgresql://…`` (the database is flushed of these facts first)."""

from __future__ import annotations

import io
import os
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

from coe.models import Factory  # noqa: E402
from connectors.facts import FinanceEntry, OTCounter  # noqa: E402
from connectors.imports import facts_import_file  # noqa: E402
from kpis.selectors import kpi_range, kpis_for_factory, roi_for_factory  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))


def main() -> None:
    call_command("migrate", verbosity=0)
    factory, _ = Factory.objects.get_or_create(
        slug="bench-plant",
        defaults={"name": "Bench", "kind": "manufacturing", "business_unit": "B"},
    )
    OTCounter.objects.filter(factory=factory).delete()
    FinanceEntry.objects.filter(factory=factory).delete()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    lines = 40
    out = io.StringIO()
    out.write(
        "factory,line,period_start,period_end,planned_time_s,run_time_s,ideal_cycle_time_s,"
        "total_count,good_count\n"
    )
    for i in range(ROWS):
        begin = start + timedelta(hours=8 * (i // lines))
        end = begin + timedelta(hours=8)
        out.write(
            f"bench-plant,L{i % lines},{begin.isoformat()},{end.isoformat()},"
            f"28800,{25000 + i % 300},2.0,{10000 + i % 97},{9800 + i % 89}\n"
        )
    data = out.getvalue().encode()
    for label in ("import (new)", "import (same file again)"):
        began = time.perf_counter()
        result = facts_import_file(kind="counters", data=data, name="c.csv")
        took = time.perf_counter() - began
        print(
            f"{label}: {ROWS} rows in {took:.2f} s = {ROWS / took:,.0f} rows/s "
            f"(created {result.created}, unchanged {result.unchanged})"
        )
    last = (start + timedelta(hours=8 * (ROWS // lines))).date()
    for period in ("day", "week", "month"):
        rng = kpi_range(
            period,
            start.date().isoformat(),
            min(last, start.date() + timedelta(days=365)).isoformat(),
        )
        began = time.perf_counter()
        body = kpis_for_factory(factory, rng)
        print(
            f"kpis period={period}: {len(body['oee'])} OEE rows "
            f"in {time.perf_counter() - began:.2f} s"
        )
    FinanceEntry.objects.bulk_create(
        FinanceEntry(
            factory=factory,
            date=start.date() + timedelta(days=i % 700),
            kind="benefit" if i % 4 else "investment",
            category=f"c{i % 7}",
            amount=1000 + i % 500,
            currency="EUR",
            description=f"e{i}",
        )
        for i in range(20000)
    )
    began = time.perf_counter()
    roi = roi_for_factory(factory)
    print(f"roi of 20000 entries: {len(roi.series)} months in {time.perf_counter() - began:.2f} s")


if __name__ == "__main__":
    main()
