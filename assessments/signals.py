"""Evidence signals: landed facts turned into suggested ratings.

A signal is a function ``(factory, now) -> Measurement``. It either measures a value from
data that exists, with its source and when it was measured, or says honestly that it is
*not measured* — it never makes a value up. A model's criterion names a signal and its
thresholds; ``measure()`` turns the value into a suggested rating (1–5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from assessments.definitions import rating_from_thresholds
from coe.models import Factory


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


def _registry_missing(what: str) -> Callable[[Factory, datetime], Measurement]:
    def signal(factory: Factory, now: datetime) -> Measurement:
        return not_measured(f"{what}: the registry holds no such data yet.", "registry")

    signal.__doc__ = f"{what}: read from the registry."
    return signal


def _connectors_missing(what: str) -> Callable[[Factory, datetime], Measurement]:
    def signal(factory: Factory, now: datetime) -> Measurement:
        return not_measured(f"{what}: no connector data has landed yet.", "connectors")

    signal.__doc__ = f"{what}: read from the connectors' landed facts."
    return signal


SIGNALS: dict[str, Callable[[Factory, datetime], Measurement]] = {
    "adopt_ring_share": _registry_missing("Share of adoptions on adopt-ring tools"),
    "open_duplicate_findings": _registry_missing("Open duplicate findings"),
    "process_adoption": _registry_missing("Share of reusable processes adopted"),
    "device_telemetry_coverage": _connectors_missing("Share of devices seen in the last 24 h"),
    "connector_health": _connectors_missing("Share of connectors whose last sync succeeded"),
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
