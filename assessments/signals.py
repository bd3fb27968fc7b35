"""Evidence signals: landed facts turned into suggested ratings.

A signal is a function ``(factory, now) -> Measurement``. It either measures a value from
data that exists, with its source and when it was measured, or says honestly that it is
*not measured* — it never makes a value up. The KPI signals (OEE, the four DORA metrics,
payback months) read the landed facts of :mod:`connectors.facts` through the KPI
selectors and the pure formulas of :mod:`kpis.formulas`. A model's criterion names a
signal and its thresholds; ``measure()`` turns the value into a suggested rating (1–5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from django.db.models import Count, Exists, F, FloatField, Max, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from assessments.definitions import rating_from_thresholds
from coe.choices import FactoryKind
from coe.models import Factory
from connectors.choices import DeviceStatus, SyncStatus
from connectors.facts import Deployment, FinanceEntry, OTCounter
from connectors.models import Connector, Device, MetricSample, SyncRun
from kpis.formulas import KPIInputError, dora_series, oee_from_counters, roi
from kpis.selectors import (
    DEFAULT_ENVIRONMENT,
    KPIRange,
    deployments_frame,
    rates_to,
)
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
    # The data the measurement used (counts, tools, window), shown beside the value.
    inputs: dict = field(default_factory=dict)


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
    inputs: dict = field(default_factory=dict)


def not_measured(reason: str, source: str = "", inputs: dict | None = None) -> Measurement:
    return Measurement(measured=False, detail=reason, source=source, inputs=inputs or {})


def adopt_ring_share(factory: Factory, now: datetime) -> Measurement:
    """Share of the factory's active, resolved adoptions (first seen by ``now``) whose tool
    is on the adopt ring (the ring for the factory's kind where the tool has one, else its
    global ring)."""

    override = ToolRingOverride.objects.filter(
        tool=OuterRef("tool"), factory_kind=factory.kind
    ).values("ring")[:1]
    counts = (
        Adoption.objects.filter(
            factory=factory,
            status=AdoptionStatus.ACTIVE,
            tool__isnull=False,
            first_seen__lte=now,
        )
        .annotate(effective_ring=Coalesce(Subquery(override), F("tool__ring")))
        .aggregate(total=Count("id"), adopt=Count("id", filter=Q(effective_ring=Ring.ADOPT)))
    )
    inputs = {"adoptions": counts["total"], "on_adopt_ring": counts["adopt"]}
    if not counts["total"]:
        return not_measured("No active adoptions resolved to registry tools.", "registry", inputs)
    return Measurement(
        measured=True,
        value=counts["adopt"] / counts["total"],
        source="registry: adoptions",
        detail=f"{counts['adopt']} of {counts['total']} active adoptions on adopt-ring tools",
        measured_at=now,
        inputs=inputs,
    )


def live_findings_at(factory: Factory, now: datetime):
    """Duplicate findings involving the factory that were live at ``now``: detected by then
    and unresolved then (still live today, or resolved only after ``now``)."""
    return (
        DuplicateFinding.objects.filter(first_detected__lte=now)
        .filter(Q(status__in=LIVE_FINDING_STATUSES) | Q(resolved_at__gt=now))
        .filter(Q(scope=factory) | Q(factories=factory))
    )


def open_duplicate_findings(factory: Factory, now: datetime) -> Measurement:
    """Unresolved duplicate findings (open, acknowledged or consolidating) that involve
    the factory at ``now``; measured only where the factory has adoptions to detect them in."""

    if not Adoption.objects.filter(
        factory=factory, status=AdoptionStatus.ACTIVE, first_seen__lte=now
    ).exists():
        return not_measured("The factory has no tool adoptions in the registry.", "registry")
    live = live_findings_at(factory, now)
    ids = sorted(set(live.values_list("pk", flat=True)))
    count = len(ids)
    return Measurement(
        measured=True,
        value=float(count),
        source="registry: duplicate findings",
        detail=f"{count} unresolved duplicate finding{'s' if count != 1 else ''}",
        measured_at=now,
        inputs={"findings": ids[:50]},
    )


def process_adoption(factory: Factory, now: datetime) -> Measurement:
    """Share of the reusable processes that apply to the factory's kind that it follows
    (any version adopted by ``now``)."""

    applicable = Process.objects.filter(
        Q(capability__isnull=True) | Q(capability__applies_to__in=["both", factory.kind])
    )
    total = applicable.count()
    if not total:
        return not_measured("The registry has no reusable processes for this kind.", "registry")
    adopted = sorted(
        set(
            ProcessAdoption.objects.filter(
                factory=factory,
                process_version__process__in=applicable,
                adopted_on__lte=now.date(),
            ).values_list("process_version__process__slug", flat=True)
        )
    )
    return Measurement(
        measured=True,
        value=len(adopted) / total,
        source="registry: process adoptions",
        detail=f"{len(adopted)} of {total} reusable processes adopted",
        measured_at=now,
        inputs={"applicable": total, "adopted": adopted},
    )


def seen_in(now: datetime, window: timedelta = timedelta(hours=24)) -> Q:
    """A device condition: last seen in the window before ``now``, or (for a past ``now``,
    when last_seen has moved on since) a metric sample of the device ending in it."""
    sample = MetricSample.objects.filter(
        device=OuterRef("pk"), period_end__gt=now - window, period_end__lte=now
    )
    return Q(last_seen__gt=now - window, last_seen__lte=now) | Q(Exists(sample))


def device_telemetry_coverage(factory: Factory, now: datetime) -> Measurement:
    """Share of the factory's devices known by ``now`` (stale ones left out: they left the
    inventory) seen in the 24 hours before ``now``."""

    devices = Device.objects.filter(factory=factory, first_seen__lte=now).exclude(
        status=DeviceStatus.STALE
    )
    counts = devices.aggregate(
        total=Count("id"), seen=Count("id", filter=seen_in(now)), latest=Max("last_seen")
    )
    inputs = {"devices": counts["total"], "seen_24h": counts["seen"]}
    if not counts["total"]:
        return not_measured("No devices have landed for this factory.", "connectors", inputs)
    return Measurement(
        measured=True,
        value=counts["seen"] / counts["total"],
        source="connectors: devices",
        detail=f"{counts['seen']} of {counts['total']} devices seen in the last 24 h",
        measured_at=min(counts["latest"], now) if counts["latest"] else now,
        inputs=inputs,
    )


def connector_health(factory: Factory, now: datetime) -> Measurement:
    """Share of the factory's enabled connectors whose latest sync finished by ``now``
    succeeded (a connector that never finished a sync counts as unhealthy)."""

    latest = SyncRun.objects.filter(
        connector=OuterRef("pk"), finished_at__isnull=False, finished_at__lte=now
    ).order_by("-finished_at", "-id")
    rows = list(
        Connector.objects.filter(factory=factory, enabled=True, created_at__lte=now)
        .annotate(
            last_status=Subquery(latest.values("status")[:1]),
            last_finished=Subquery(latest.values("finished_at")[:1]),
        )
        .values_list("name", "last_status", "last_finished")
    )
    if not rows:
        return not_measured("The factory has no enabled connectors.", "connectors")
    healthy = sum(1 for _, status, _ in rows if status == SyncStatus.SUCCEEDED)
    finished = [at for _, _, at in rows if at is not None]
    return Measurement(
        measured=True,
        value=healthy / len(rows),
        source="connectors: sync runs",
        detail=f"{healthy} of {len(rows)} enabled connectors' latest sync succeeded",
        measured_at=max(finished) if finished else now,
        inputs={"connectors": {name: status or "never synced" for name, status, _ in rows}},
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


DELIVERY_CONNECTOR_KINDS = ("gitlab", "github")


def delivery_source_covering(factory: Factory, rng: KPIRange, now: datetime) -> str | None:
    """What proves a month without deployments had zero of them, or None: a delivery
    connector (GitLab, GitHub) of the environment whose successful sync, finished after the
    month and by ``now``, reached back to the month's start; or the environment's landed
    deployments on both sides of the month (the source was delivering across it)."""
    connectors = (
        Connector.objects.filter(factory=factory, kind__in=DELIVERY_CONNECTOR_KINDS)
        .annotate(
            first_ok=Min(
                "runs__finished_at",
                filter=Q(runs__status=SyncStatus.SUCCEEDED, runs__finished_at__lte=now),
            ),
            last_ok=Max(
                "runs__finished_at",
                filter=Q(runs__status=SyncStatus.SUCCEEDED, runs__finished_at__lte=now),
            ),
        )
        .filter(last_ok__gte=rng.end_at)
    )
    for connector in connectors:
        settings = connector.settings or {}
        if settings.get("environment", DEFAULT_ENVIRONMENT) != DEFAULT_ENVIRONMENT:
            continue
        # Its first sync read ``initial_days`` back; later ones continue from there.
        reach = connector.first_ok - timedelta(days=int(settings.get("initial_days", 90)))
        if reach <= rng.start_at:
            return f"{connector.name} ({connector.get_kind_display()} connector)"
    deployments = Deployment.objects.filter(factory=factory, environment=DEFAULT_ENVIRONMENT)
    before = deployments.filter(finished_at__lt=rng.start_at).exists()
    after = deployments.filter(finished_at__gte=rng.end_at, finished_at__lte=now).exists()
    if before and after:
        return "landed deployments before and after the month"
    return None


def _dora_last_month(factory: Factory, now: datetime) -> tuple[dict | None, Measurement | None]:
    """The DORA row of the last complete month (production environment), or why not. A
    month without deployments is a measured zero where a delivery source covers it."""
    if factory.kind != FactoryKind.SOFTWARE:
        return None, not_measured("DORA metrics apply to software factories.", "kpis")
    rng = _last_month(now)
    frame = deployments_frame(factory.pk, rng, DEFAULT_ENVIRONMENT)
    if not frame.empty:
        # A measurement as of ``now`` knows nothing that happened after it.
        frame = frame[pd.to_datetime(frame["finished_at"], utc=True) <= now]
    rows = [r for r in dora_series(frame, "month") if r["period_start"] == rng.start]
    if not rows:
        covering = delivery_source_covering(factory, rng, now)
        if covering is None:
            return None, not_measured(
                f"No {DEFAULT_ENVIRONMENT} deployments or incidents in {rng.start:%B %Y}, and "
                "no delivery connector or landed deployments cover that month.",
                "connectors: deployments",
            )
        zero = {
            "period_start": rng.start,
            "deployments": 0,
            "failed": 0,
            "deployment_frequency_per_day": 0.0,
            "lead_time_hours_median": None,
            "change_failure_rate": None,
            "time_to_restore_hours_median": None,
            "band": "low",
        }
        return {**zero, "measured_at": rng.end_at, "covered_by": covering}, None
    return {**rows[0], "measured_at": rng.end_at, "covered_by": "landed deployments"}, None


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
            inputs={
                "month": row["period_start"].isoformat(),
                "deployments": row["deployments"],
                "failed": row["failed"],
                "covered_by": row["covered_by"],
            },
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


def _register_technology_signals() -> None:
    """The technology and integration signals live in their own module, which builds on
    this one; they join the table once both are loaded."""
    from assessments import signals_tech

    SIGNALS.update(
        {
            "digital_twin": signals_tech.digital_twin,
            "vision_quality": signals_tech.vision_quality,
            "predictive_maintenance": signals_tech.predictive_maintenance,
            "ai_operations": signals_tech.ai_operations,
            "systems_integration": signals_tech.systems_integration,
        }
    )


_register_technology_signals()


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
            found = not_measured(found.detail, found.source, found.inputs)
            suggested = None
    return Reading(
        signal=signal["key"],
        measured=found.measured and found.value is not None,
        value=found.value if found.measured else None,
        suggested_rating=suggested,
        source=found.source,
        detail=found.detail,
        measured_at=found.measured_at if found.measured else None,
        inputs=found.inputs,
    )
