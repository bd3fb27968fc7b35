"""Evidence signals: landed facts turned into suggested ratings.

A signal is a function ``(factory, now) -> Measurement``. It either measures a value from
data that exists, with its source and when it was measured, or says honestly that it is
*not measured* — it never makes a value up. A model's criterion names a signal and its
thresholds; ``measure()`` turns the value into a suggested rating (1–5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from assessments.definitions import rating_from_thresholds
from coe.models import Factory
from connectors.choices import DeviceStatus, SyncStatus
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


def _needs_kpis(what: str) -> Callable[[Factory, datetime], Measurement]:
    def signal(factory: Factory, now: datetime) -> Measurement:
        return not_measured(f"{what} is not measured yet (no KPI data for this factory).", "kpis")

    signal.__doc__ = f"{what}: provided by the KPI rollups once they exist."
    return signal


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


SIGNALS: dict[str, Callable[[Factory, datetime], Measurement]] = {
    "adopt_ring_share": adopt_ring_share,
    "open_duplicate_findings": open_duplicate_findings,
    "process_adoption": process_adoption,
    "device_telemetry_coverage": device_telemetry_coverage,
    "connector_health": connector_health,
    "oee": _needs_kpis("OEE"),
    "dora_deployment_frequency": _needs_kpis("Deployment frequency"),
    "dora_lead_time_hours": _needs_kpis("Lead time for changes"),
    "dora_change_failure_rate": _needs_kpis("Change failure rate"),
    "dora_time_to_restore_hours": _needs_kpis("Time to restore service"),
    "roi_payback_months": _needs_kpis("Payback period"),
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
    return Reading(
        signal=signal["key"],
        measured=found.measured and found.value is not None,
        value=found.value if found.measured else None,
        suggested_rating=suggested,
        source=found.source,
        detail=found.detail,
        measured_at=found.measured_at if found.measured else None,
    )
