"""The KPI demo: every factory gets KPI and ROI history telling the DEMO.md story."""

from __future__ import annotations

import io
import time
from datetime import date

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
