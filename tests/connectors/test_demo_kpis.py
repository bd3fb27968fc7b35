"""The KPI demo: every factory gets KPI and ROI history telling the DEMO.md story."""

from __future__ import annotations

import io
import time
from datetime import date, timedelta

import pytest

from coe.demo import load_core
from connectors.demo_kpis import load_kpi_demo
from connectors.facts import Deployment, FinanceEntry, OTCounter
from kpis.selectors import (
    dora_for_factory,
    kpi_range,
    oee_for_factory,
    payback_share,
    roi_for_factory,
)

TODAY = date(2026, 11, 25)


def test_kpi_demo_tells_the_story_and_is_idempotent(db):
    core = load_core()
    began = time.monotonic()
    load_kpi_demo(core, io.StringIO(), today=TODAY)
    assert time.monotonic() - began < 15
    counts = (OTCounter.objects.count(), Deployment.objects.count(), FinanceEntry.objects.count())
    load_kpi_demo(core, io.StringIO(), today=TODAY)
    assert (
        OTCounter.objects.count(),
        Deployment.objects.count(),
        FinanceEntry.objects.count(),
    ) == counts

    f = core["factories"]
    roi = {slug: roi_for_factory(factory) for slug, factory in f.items()}
    assert all(r.series for r in roi.values()), "every factory has ROI history"
    assert roi["aarhus-turbines"].roi_within_6_months is True
    assert roi["puebla-assembly"].payback_date is None
    assert roi["stuttgart-press"].payback_date and not roi["stuttgart-press"].roi_within_6_months
    share = payback_share(list(f.values()))
    assert share["factories"] == 8 and share["within_6_months"] == 3 and share["paid_back"] == 4

    rng = kpi_range("month", "2026-06-01", "2026-10-31", today=TODAY)
    grid = dora_for_factory(f["grid-analytics"], rng)
    assert {row["band"] for row in grid} == {"elite"}
    dealer = [r["band"] for r in dora_for_factory(f["dealer-portal"], rng) if r["band"]]
    assert dealer and set(dealer) == {"low"}
    for slug in ("aarhus-turbines", "stuttgart-press", "pilsen-machining", "puebla-assembly"):
        whole = [r for r in oee_for_factory(f[slug], rng) if r["line"] is None]
        assert len(whole) == 5 and all(0 < r["oee"] < 1 for r in whole)
    aarhus = [r["oee"] for r in oee_for_factory(f["aarhus-turbines"], rng) if r["line"] is None]
    puebla = [r["oee"] for r in oee_for_factory(f["puebla-assembly"], rng) if r["line"] is None]
    assert min(aarhus) > max(puebla)


@pytest.mark.parametrize("today", [date(2026, 12, 1) + timedelta(days=n) for n in range(0, 365, 7)])
def test_every_month_of_the_elite_factory_reads_elite_whenever_the_demo_is_loaded(today):
    """The demo's deployments follow their profile in every month, whatever day it is
    loaded on: the elite factory deploys several times a day with under 5 % failing (a
    month that fell to 2.8 a day or 5.6 % failed cost it its Optimized stage)."""
    import random
    from datetime import UTC, datetime

    from coe.models import Factory
    from connectors import demo_kpis

    start = datetime.combine(today - timedelta(days=demo_kpis.DAYS), datetime.min.time(), UTC)
    rows = demo_kpis._deployments(
        Factory(slug="platform-coe"), random.Random("northwind-kpis-platform-coe"), start
    )
    end = datetime.combine(today.replace(day=1), datetime.min.time(), UTC)
    first = datetime.combine((end - timedelta(days=1)).replace(day=1), datetime.min.time(), UTC)
    month = [r for r in rows if first <= r.finished_at < end]
    failed = sum(r.status == "failed" for r in month)
    assert len(month) / (end - first).days >= 3.0 and failed / len(month) <= 0.05
