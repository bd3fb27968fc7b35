"""Demo KPI and ROI history for Northwind Industrial (see ``../shared/DEMO.md``).

``load_kpi_demo(core, stdout)`` gives every demo factory its productivity and value story,
relative to the current month so the pages' rolling windows always show it:

- plants: six months of OT counters (three lines, two shifts a day) — Aarhus runs best,
  Puebla and Pilsen improve month by month;
- software factories: six months of production deployments (grid-analytics and
  platform-coe elite, customer-app high, dealer-portal low) and Jira issues;
- finance for all: aarhus-turbines, grid-analytics and platform-coe pay back within six
  months, stuttgart-press pays back later, the others not yet (puebla-assembly among
  them); dealer-portal pays part of its licences in USD (a demo USD→EUR rate).

Deterministic (seeded per factory) and idempotent: the demo's own facts (source
``demo``) are replaced on every run. Takes about a second.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import transaction

from coe import derived
from coe.changelog import log_summary
from connectors.facts import CurrencyRate, Deployment, FinanceEntry, OTCounter, WorkItem

SOURCE = "demo"
DAYS = 182
# OEE profile per plant: (availability, performance, quality) at the start and the end.
PLANTS = {
    "aarhus-turbines": ((0.90, 0.92, 0.985), (0.92, 0.93, 0.99)),
    "stuttgart-press": ((0.84, 0.86, 0.97), (0.85, 0.87, 0.975)),
    "pilsen-machining": ((0.72, 0.78, 0.93), (0.82, 0.84, 0.965)),
    "puebla-assembly": ((0.62, 0.70, 0.90), (0.74, 0.78, 0.94)),
}
# Delivery profile: deployments a day, failure share, lead time hours (min, max),
# hours to restore (min, max).
SOFTWARE = {
    "grid-analytics": (3.0, 0.03, (1, 12), (0.2, 0.8)),
    "platform-coe": (3.5, 0.04, (0.2, 1.5), (0.2, 0.9)),
    "customer-app": (0.5, 0.08, (30, 120), (2, 20)),
    "dealer-portal": (0.025, 0.30, (24 * 35, 24 * 60), (24 * 8, 24 * 20)),
}
# Finance: (months before this one, kind, category, amount, currency, description);
# benefit streams as (first month back, last month back, monthly amount, category).
FINANCE = {
    "aarhus-turbines": (
        [(12, "investment", "platform", 400000, "EUR", "Predictive maintenance platform")],
        [(11, 0, 90000, "avoided downtime")],
    ),
    "grid-analytics": (
        [(14, "investment", "platform", 250000, "EUR", "Data platform build-out")],
        [(13, 0, 60000, "faster analytics delivery")],
    ),
    "stuttgart-press": (
        [(16, "investment", "platform", 600000, "EUR", "OPC UA integration and historian")],
        [(14, 0, 50000, "less scrap")],
    ),
    "platform-coe": (
        [(12, "investment", "platform", 200000, "EUR", "Reusable CI/CD platform")],
        [(11, 0, 45000, "shared tooling savings")],
    ),
    "puebla-assembly": (
        [
            (10, "investment", "platform", 900000, "EUR", "Sparkplug B and MES roll-out"),
            (4, "investment", "training", 200000, "EUR", "Operator training"),
        ],
        [(6, 0, 20000, "throughput gain")],
    ),
    "pilsen-machining": (
        [(9, "investment", "pilot", 350000, "EUR", "Vision quality inspection pilot")],
        [(7, 0, 15000, "less rework")],
    ),
    "customer-app": (
        [(8, "investment", "platform", 300000, "EUR", "App platform modernisation")],
        [(6, 0, 20000, "higher conversion")],
    ),
    "dealer-portal": (
        [
            (12, "investment", "platform", 150000, "EUR", "Portal re-platforming"),
            (11, "investment", "licences", 80000, "USD", "CI/CD tool licences"),
        ],
        [(9, 0, 5000, "fewer support calls")],
    ),
}
DEMO_RATES = [("USD", "EUR", Decimal("0.92")), ("EUR", "USD", Decimal("1.087"))]


def _months_back(anchor: date, months: int) -> date:
    total = anchor.year * 12 + anchor.month - 1 - months
    return date(total // 12, total % 12 + 1, 1)


def _counters(factory, rng: random.Random, start: datetime) -> list[OTCounter]:
    (a0, p0, q0), (a1, p1, q1) = PLANTS[factory.slug]
    rows = []
    for day in range(DAYS):
        progress = day / (DAYS - 1)
        for line_no, cycle in enumerate((2.0, 3.5, 6.0), start=1):
            for shift in (6, 14):
                begin = start + timedelta(days=day, hours=shift)
                planned = 8 * 3600.0
                a = min(1.0, (a0 + (a1 - a0) * progress) * rng.uniform(0.93, 1.05))
                p = min(1.0, (p0 + (p1 - p0) * progress) * rng.uniform(0.95, 1.04))
                q = min(1.0, (q0 + (q1 - q0) * progress) * rng.uniform(0.98, 1.01))
                run = round(planned * a)
                total = int(run * p / cycle)
                rows.append(
                    OTCounter(
                        factory=factory,
                        line=f"Line {line_no}",
                        period_start=begin,
                        period_end=begin + timedelta(hours=8),
                        planned_time_s=planned,
                        run_time_s=float(run),
                        ideal_cycle_time_s=cycle,
                        total_count=total,
                        good_count=int(total * q),
                        source=SOURCE,
                    )
                )
    return rows


def _deployments(factory, rng: random.Random, start: datetime) -> list[Deployment]:
    per_day, failure_share, lead, restore = SOFTWARE[factory.slug]
    rows, at, end, n = [], start, start + timedelta(days=DAYS), 0
    # Every k-th planned deployment fails (k from the profile's share, the first at a
    # random place): each month's change failure rate stays at the profile's, where a
    # coin per deployment moved the elite factory's month from 4 % to 6 % now and then.
    every, planned = max(1, round(1 / failure_share)), 0
    phase = rng.randrange(every)
    while True:
        # A steady cadence with jitter (the gap 0.5–1.5 × the mean): every month of the
        # six lands near its profile's rate, so the demo's bands and audit readings do not
        # depend on which month the demo is loaded in (exponential gaps left a month 20 %
        # off now and then, and the elite factory read "daily" instead of "many a day").
        at += timedelta(hours=24 / per_day * rng.uniform(0.5, 1.5))
        if at >= end:
            return rows
        n += 1
        planned += 1
        failed = (planned + phase) % every == 0
        rows.append(
            Deployment(
                factory=factory,
                source_id=f"demo:{n}",
                environment="production",
                status="failed" if failed else "success",
                finished_at=at,
                commit_sha=f"{rng.getrandbits(160):040x}",
                commit_created_at=at - timedelta(hours=rng.uniform(*lead)),
            )
        )
        if failed:  # the fix goes out after the time to restore
            at += timedelta(hours=rng.uniform(*restore))
            n += 1
            rows.append(
                Deployment(
                    factory=factory,
                    source_id=f"demo:{n}",
                    environment="production",
                    status="success",
                    finished_at=at,
                    commit_sha=f"{rng.getrandbits(160):040x}",
                    commit_created_at=at - timedelta(hours=rng.uniform(0.5, 3)),
                )
            )


def _work_items(factory, rng: random.Random, start: datetime) -> list[WorkItem]:
    per_day, _share, lead, _restore = SOFTWARE[factory.slug]
    key = "".join(part[0] for part in factory.slug.split("-")).upper()
    teams = [f"{key}-core", f"{key}-ux"]
    rows = []
    for n in range(1, int(DAYS * max(per_day, 0.3) * 1.5) + 1):
        created = start + timedelta(hours=rng.uniform(0, DAYS * 24))
        cycle = timedelta(hours=rng.uniform(lead[0], lead[1] * 2 + 24))
        resolved = created + cycle
        rows.append(
            WorkItem(
                factory=factory,
                source=SOURCE,
                key=f"{key}-{n}",
                team=teams[n % 2],
                issue_type="Story" if n % 4 else "Bug",
                status="Done" if resolved < start + timedelta(days=DAYS) else "In Progress",
                created=created,
                resolved=resolved if resolved < start + timedelta(days=DAYS) else None,
            )
        )
    return rows


def _finance(factory, anchor: date) -> list[FinanceEntry]:
    investments, streams = FINANCE[factory.slug]
    rows = [
        FinanceEntry(
            factory=factory,
            date=_months_back(anchor, back) + timedelta(days=9),
            kind=kind,
            category=category,
            amount=Decimal(amount),
            currency=currency,
            description=description,
            source=SOURCE,
        )
        for back, kind, category, amount, currency, description in investments
    ]
    for first, last, amount, category in streams:
        for back in range(first, last - 1, -1):
            rows.append(
                FinanceEntry(
                    factory=factory,
                    date=_months_back(anchor, back) + timedelta(days=27),
                    kind="benefit",
                    category=category,
                    amount=Decimal(amount),
                    currency=factory.currency,
                    description=f"{category} (month report)",
                    source=SOURCE,
                )
            )
    return rows


@transaction.atomic
def load_kpi_demo(core: dict, stdout, today: date | None = None) -> None:
    """Replace the demo factories' KPI and ROI history (OT counters, deployments, work
    items, finance) with a fresh, deterministic one ending ``today``."""
    today = today or datetime.now(UTC).date()
    anchor = today.replace(day=1)
    start = datetime.combine(today - timedelta(days=DAYS), datetime.min.time(), tzinfo=UTC)
    factories = [f for f in core["factories"].values() if f.slug in FINANCE]
    ids = [f.pk for f in factories]
    OTCounter.objects.filter(factory_id__in=ids, source=SOURCE).delete()
    Deployment.objects.filter(factory_id__in=ids, source_id__startswith="demo:").delete()
    WorkItem.objects.filter(factory_id__in=ids, source=SOURCE).delete()
    # The assessments demo re-lands finance through the finance REST connector ("rest").
    FinanceEntry.objects.filter(factory_id__in=ids, source__in=[SOURCE, "rest"]).delete()
    for source, target, rate in DEMO_RATES:
        CurrencyRate.objects.update_or_create(
            from_currency=source, to_currency=target, defaults={"rate": rate}
        )
    counters, deployments, items, finance = [], [], [], []
    for factory in factories:
        rng = random.Random(f"northwind-kpis-{factory.slug}")
        if factory.slug in PLANTS:
            counters += _counters(factory, rng, start)
        if factory.slug in SOFTWARE:
            deployments += _deployments(factory, rng, start)
            items += _work_items(factory, rng, start)
        finance += _finance(factory, anchor)
    # The rows below bypass model signals: the factories' rollups are refreshed in full.
    derived.touch(ids)
    OTCounter.objects.bulk_create(counters, batch_size=1000)
    Deployment.objects.bulk_create(deployments, batch_size=1000)
    WorkItem.objects.bulk_create(items, batch_size=1000)
    FinanceEntry.objects.bulk_create(finance, batch_size=1000)
    log_summary(
        FinanceEntry,
        text=f"Demo KPI data: {len(finance)} finance entries, {len(counters)} OT counters, "
        f"{len(deployments)} deployments, {len(items)} work items",
        summary={
            "file": "demo",
            "finance": len(finance),
            "counters": len(counters),
            "deployments": len(deployments),
            "work_items": len(items),
        },
    )
    stdout.write(
        f"KPI demo: {len(counters)} OT counters, {len(deployments)} deployments, "
        f"{len(items)} work items, {len(finance)} finance entries"
    )
