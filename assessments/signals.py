"""Evidence signals: landed facts turned into suggested ratings.

A signal is a function ``(factory, now) -> Measurement``. It either measures a value from
data that exists, with its source and when it was measured, or says honestly that it is
*not measured* — it never makes a value up. The KPI signals (OEE, the four DORA metrics,
payback months) read the landed facts of :mod:`connectors.facts` through the KPI
selectors and the pure formulas of :mod:`assessments.kpis`. A model's criterion names a
signal and its thresholds; ``measure()`` turns the value into a suggested rating (1–5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from django.db.models import Count, F, FloatField, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from assessments.definitions import rating_from_thresholds
from assessments.kpi_selectors import (
    DEFAULT_ENVIRONMENT,
    KPIRange,
    deployments_frame,
    rates_to,
)
from assessments.kpis import KPIInputError, dora_series, oee_from_counters, roi
from coe.choices import FactoryKind
from coe.models import Factory
from connectors.choices import DeviceStatus, SyncStatus
from connectors.facts import FinanceEntry, OTCounter
from connectors.models import Connector, Device, SyncRun
from registry.choices import LIVE_FINDING_STATUSES, AdoptionStatus, Ring
from registry.models import Adoption, DuplicateFinding, Process, ProcessAdoption, ToolRingOverride


@dataclass(frozen=True)
class Measurement:
    """What a signal found: a value with its source and time, or ``measured=False``."""

    measured: bool
    value: float | None = None
    source: str = ""
    detail: str = ""
    measured_at: datetime | None = None
    # ``value`` is only a bound: the true value is greater (e.g. "not paid back after 8
    # months" means payback > 8 months). A rating is suggested only where every value
    # past the bound earns the same one.
    lower_bound: bool = False


@dataclass(frozen=True)
class Reading:
    """A measurement plus the rating it suggests under one criterion's thresholds."""

    signal: str
    measured: bool
    value: float | None
    suggested_rating: int | None
    source: str
    detail: str
    measured_at: datetime | None


def not_measured(reason: str, source: str = "") -> Measurement:
    return Measurement(measured=False, detail=reason, source=source)


def adopt_ring_share(factory: Factory, now: datetime) -> Measurement:
    """Share of the factory's active, resolved adoptions whose tool is on the adopt ring
    (the ring for the factory's kind where the tool has one, else its global ring)."""

    override = ToolRingOverride.objects.filter(
        tool=OuterRef("tool"), factory_kind=factory.kind
    ).values("ring")[:1]
    counts = (
        Adoption.objects.filter(factory=factory, status=AdoptionStatus.ACTIVE, tool__isnull=False)
        .annotate(effective_ring=Coalesce(Subquery(override), F("tool__ring")))
        .aggregate(total=Count("id"), adopt=Count("id", filter=Q(effective_ring=Ring.ADOPT)))
    )
    if not counts["total"]:
        return not_measured("No active adoptions resolved to registry tools.", "registry")
    return Measurement(
        measured=True,
        value=counts["adopt"] / counts["total"],
        source="registry: adoptions",
        detail=f"{counts['adopt']} of {counts['total']} active adoptions on adopt-ring tools",
        measured_at=now,
    )


def open_duplicate_findings(factory: Factory, now: datetime) -> Measurement:
    """Unresolved duplicate findings (open, acknowledged or consolidating) that involve
    the factory; measured only where the factory has adoptions to detect them in."""

    if not Adoption.objects.filter(factory=factory, status=AdoptionStatus.ACTIVE).exists():
        return not_measured("The factory has no tool adoptions in the registry.", "registry")
    live = DuplicateFinding.objects.filter(status__in=LIVE_FINDING_STATUSES).filter(
        Q(scope=factory) | Q(factories=factory)
    )
    count = live.values("pk").distinct().count()
    return Measurement(
        measured=True,
        value=float(count),
        source="registry: duplicate findings",
        detail=f"{count} unresolved duplicate finding{'s' if count != 1 else ''}",
        measured_at=now,
    )


def process_adoption(factory: Factory, now: datetime) -> Measurement:
    """Share of the reusable processes that apply to the factory's kind that it follows
    (any version)."""

    applicable = Process.objects.filter(
        Q(capability__isnull=True) | Q(capability__applies_to__in=["both", factory.kind])
    )
    total = applicable.count()
    if not total:
        return not_measured("The registry has no reusable processes for this kind.", "registry")
    adopted = (
        ProcessAdoption.objects.filter(factory=factory, process_version__process__in=applicable)
        .values("process_version__process")
        .distinct()
        .count()
    )
    return Measurement(
        measured=True,
        value=adopted / total,
        source="registry: process adoptions",
        detail=f"{adopted} of {total} reusable processes adopted",
        measured_at=now,
    )


def device_telemetry_coverage(factory: Factory, now: datetime) -> Measurement:
    """Share of the factory's devices (stale ones left out: they left the inventory) seen
    in the 24 hours before ``now``."""

    counts = (
        Device.objects.filter(factory=factory)
        .exclude(status=DeviceStatus.STALE)
        .aggregate(
            total=Count("id"),
            seen=Count("id", filter=Q(last_seen__gte=now - timedelta(hours=24))),
            latest=Max("last_seen"),
        )
    )
    if not counts["total"]:
        return not_measured("No devices have landed for this factory.", "connectors")
    return Measurement(
        measured=True,
        value=counts["seen"] / counts["total"],
        source="connectors: devices",
        detail=f"{counts['seen']} of {counts['total']} devices seen in the last 24 h",
        measured_at=min(counts["latest"], now) if counts["latest"] else now,
    )


def connector_health(factory: Factory, now: datetime) -> Measurement:
    """Share of the factory's enabled connectors whose latest finished sync succeeded
    (a connector that never finished a sync counts as unhealthy)."""

    latest = SyncRun.objects.filter(connector=OuterRef("pk"), finished_at__isnull=False).order_by(
        "-finished_at", "-id"
    )
    rows = list(
        Connector.objects.filter(factory=factory, enabled=True)
        .annotate(
            last_status=Subquery(latest.values("status")[:1]),
            last_finished=Subquery(latest.values("finished_at")[:1]),
        )
        .values_list("last_status", "last_finished")
    )
    if not rows:
        return not_measured("The factory has no enabled connectors.", "connectors")
    healthy = sum(1 for status, _ in rows if status == SyncStatus.SUCCEEDED)
    finished = [at for _, at in rows if at is not None]
    return Measurement(
        measured=True,
        value=healthy / len(rows),
        source="connectors: sync runs",
        detail=f"{healthy} of {len(rows)} enabled connectors' latest sync succeeded",
        measured_at=max(finished) if finished else now,
    )


# --- KPI signals (OEE, DORA, ROI) -----------------------------------------------------------

OEE_WINDOW = timedelta(days=30)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def oee(factory: Factory, now: datetime) -> Measurement:
    """Whole-factory OEE of the shifts that ran in the 30 days before ``now``, from the
    summed counters of all lines (weighted, never a mean of ratios). Manufacturing only."""
    if factory.kind != FactoryKind.MANUFACTURING:
        return not_measured("OEE applies to manufacturing factories.", "kpis")
    window = OTCounter.objects.filter(
        factory=factory, period_start__gte=now - OEE_WINDOW, period_end__lte=now
    )
    sums = window.aggregate(
        planned=Sum("planned_time_s"),
        run=Sum("run_time_s"),
        ideal=Sum(F("ideal_cycle_time_s") * F("total_count"), output_field=FloatField()),
        total=Sum("total_count"),
        good=Sum("good_count"),
        shifts=Count("id"),
        lines=Count("line", distinct=True),
        latest=Max("period_end"),
    )
    since = (now - OEE_WINDOW).date()
    if not sums["shifts"]:
        return not_measured(f"No OT counters of shifts since {since:%Y-%m-%d}.", "connectors")
    result = oee_from_counters(
        sums["planned"], sums["run"], sums["ideal"], sums["total"], sums["good"]
    )
    sources = sorted(s for s in window.order_by().values_list("source", flat=True).distinct() if s)
    source = "connectors: OT counters" + (f" ({', '.join(sources)})" if sources else "")
    if result["oee"] is None:
        return not_measured(
            f"The {sums['shifts']} shifts since {since:%Y-%m-%d} have no planned time, "
            "run time or output to compute OEE from.",
            source,
        )
    return Measurement(
        measured=True,
        value=result["oee"],
        source=source,
        detail=(
            f"OEE {_pct(result['oee'])} = A {_pct(result['availability'])} × "
            f"P {_pct(result['performance'])} × Q {_pct(result['quality'])}, "
            f"{sums['shifts']} shifts on {sums['lines']} line(s) since {since:%Y-%m-%d}"
        ),
        measured_at=sums["latest"],
    )


def _last_month(now: datetime) -> KPIRange:
    end = now.date().replace(day=1)
    return KPIRange(period="month", start=(end - timedelta(days=1)).replace(day=1), end=end)


def _dora_last_month(factory: Factory, now: datetime) -> tuple[dict | None, Measurement | None]:
    """The DORA row of the last complete month (production environment), or why not."""
    if factory.kind != FactoryKind.SOFTWARE:
        return None, not_measured("DORA metrics apply to software factories.", "kpis")
    rng = _last_month(now)
    frame = deployments_frame(factory.pk, rng, DEFAULT_ENVIRONMENT)
    if not frame.empty:
        # A measurement as of ``now`` knows nothing that happened after it.
        frame = frame[pd.to_datetime(frame["finished_at"], utc=True) <= now]
    rows = [r for r in dora_series(frame, "month") if r["period_start"] == rng.start]
    if not rows:
        return None, not_measured(
            f"No {DEFAULT_ENVIRONMENT} deployments or incidents in {rng.start:%B %Y}.",
            "connectors: deployments",
        )
    return {**rows[0], "measured_at": rng.end_at}, None


def _dora_signal(metric: str, label: str, unit: str) -> Callable[[Factory, datetime], Measurement]:
    def signal(factory: Factory, now: datetime) -> Measurement:
        row, missing = _dora_last_month(factory, now)
        if missing is not None:
            return missing
        month = f"{row['period_start']:%B %Y}"
        counts = f"{row['deployments']} deployments, {row['failed']} failed"
        source = f"connectors: {DEFAULT_ENVIRONMENT} deployments"
        if row[metric] is None:
            return not_measured(f"{label}: nothing to measure in {month} ({counts}).", source)
        value = float(row[metric])
        shown = f"{value:.1%}" if unit == "%" else f"{value:.2f} {unit}"
        return Measurement(
            measured=True,
            value=value,
            source=source,
            detail=f"{label} {shown} in {month} ({counts}; DORA band {row['band']})",
            measured_at=row["measured_at"],
        )

    signal.__name__ = signal.__qualname__ = f"dora_{metric}"
    signal.__doc__ = (
        f"DORA {label.lower()} of the last complete month (production deployments and "
        "incidents); software factories only. The detail names the month's DORA band."
    )
    return signal


dora_deployment_frequency = _dora_signal(
    "deployment_frequency_per_day", "Deployment frequency", "a day"
)
dora_lead_time_hours = _dora_signal("lead_time_hours_median", "Median lead time", "h")
dora_change_failure_rate = _dora_signal("change_failure_rate", "Change failure rate", "%")
dora_time_to_restore_hours = _dora_signal(
    "time_to_restore_hours_median", "Median time to restore", "h"
)


def roi_payback_months(factory: Factory, now: datetime) -> Measurement:
    """Months from the first investment's month to payback, from the finance entries up
    to ``now`` in the factory's currency. Not paid back yet: a lower bound (months so far
    + 1), which suggests a rating only once it is past every threshold."""
    entries = list(
        FinanceEntry.objects.filter(factory_id=factory.pk, date__lte=now.date()).values(
            "date", "kind", "amount", "currency"
        )
    )
    try:
        result = roi(
            entries, factory.currency, rates_to({factory.currency}).get(factory.currency, {})
        )
    except KPIInputError as exc:
        return not_measured(f"ROI cannot be computed: {exc}.", "connectors: finance")
    if not result.invested:
        return not_measured("No investment recorded for this factory.", "connectors: finance")
    last = max(e["date"] for e in entries)
    source = f"connectors: finance ({len(entries)} entries, {result.currency})"
    measured_at = min(datetime.combine(last, datetime.max.time(), tzinfo=now.tzinfo), now)
    roi_text = f"ROI {result.roi_pct:+.1f} %, invested {result.invested:,.0f} {result.currency}"
    if result.payback_date is not None:
        within = "within six months" if result.roi_within_6_months else "not within six months"
        return Measurement(
            measured=True,
            value=float(result.payback_months),
            source=source,
            detail=(
                f"Paid back in {result.payback_months} months ({result.payback_date:%B %Y}, "
                f"{within}); {roi_text}"
            ),
            measured_at=measured_at,
        )
    first = next(row["month"] for row in result.series if row["invested"])
    so_far = (now.year - first.year) * 12 + (now.month - first.month)
    return Measurement(
        measured=True,
        value=float(so_far + 1),
        source=source,
        detail=(
            f"Not paid back yet, {so_far} months after the first investment "
            f"(payback ≥ {so_far + 1} months); {roi_text}"
        ),
        measured_at=measured_at,
        lower_bound=True,
    )


SIGNALS: dict[str, Callable[[Factory, datetime], Measurement]] = {
    "adopt_ring_share": adopt_ring_share,
    "open_duplicate_findings": open_duplicate_findings,
    "process_adoption": process_adoption,
    "device_telemetry_coverage": device_telemetry_coverage,
    "connector_health": connector_health,
    "oee": oee,
    "dora_deployment_frequency": dora_deployment_frequency,
    "dora_lead_time_hours": dora_lead_time_hours,
    "dora_change_failure_rate": dora_change_failure_rate,
    "dora_time_to_restore_hours": dora_time_to_restore_hours,
    "roi_payback_months": roi_payback_months,
}


def measure(signal: dict, factory: Factory, now: datetime) -> Reading:
    """Run one criterion's signal (``{key, direction, thresholds}``) for a factory."""
    func = SIGNALS.get(signal["key"])
    if func is None:
        found = not_measured(f"Unknown signal {signal['key']!r}.")
    else:
        found = func(factory, now)
    suggested = (
        rating_from_thresholds(found.value, signal)
        if found.measured and found.value is not None
        else None
    )
    if suggested is not None and found.lower_bound:
        # Past the bound the rating can only move one way: keep it only where it is final.
        final = 1 if signal["direction"] == "lower" else 5
        if suggested != final:
            found = not_measured(found.detail, found.source)
            suggested = None
    return Reading(
        signal=signal["key"],
        measured=found.measured and found.value is not None,
        value=found.value if found.measured else None,
        suggested_rating=suggested,
        source=found.source,
        detail=found.detail,
        measured_at=found.measured_at if found.measured else None,
    )
