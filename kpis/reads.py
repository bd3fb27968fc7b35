"""What pages and APIs read: the rollups (:mod:`kpis.models`), never the raw facts.

Every reader takes a fixed number of queries whatever the number of factories (one for
the rollup rows, one for conversion rates where a currency differs). The answers have the
shapes of the per-request selectors (:mod:`kpis.selectors`) they replace, and equal them:
ROI is :func:`kpis.formulas.roi` of the month sums, which are exact.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from coe.models import Factory
from kpis.formulas import KPIInputError, ROIResult, roi
from kpis.models import FactoryFigures, FactoryMonth
from kpis.rollups import last_full_month, month_of, today_utc
from kpis.selectors import DORA_KEYS, rates_to

OEE_KEYS = ["availability", "performance", "quality", "oee"]
OEE_KEYS += ["planned_time_s", "run_time_s", "total_count", "good_count"]


def figures_by_factory(factories: list[Factory]) -> dict[int, FactoryFigures]:
    """The figures row of each factory (absent for a factory never refreshed)."""
    ids = [f.pk for f in factories]
    return {row.factory_id: row for row in FactoryFigures.objects.filter(factory_id__in=ids)}


def roi_of_figures(figures: FactoryFigures | None, factory: Factory) -> ROIResult | None:
    """The factory's ROI from its figures (no series); None when a rate is missing."""
    if figures is None:
        return ROIResult(factory.currency, *(Decimal(0),) * 3, None, None, None, False, [])
    if figures.roi_error:
        return None
    return ROIResult(
        currency=figures.currency,
        invested=figures.invested,
        benefits=figures.benefits,
        net=figures.benefits - figures.invested,
        roi_pct=figures.roi_pct,
        payback_date=figures.payback_date,
        payback_months=figures.payback_months,
        roi_within_6_months=figures.roi_within_6_months,
        series=[],
    )


def rois_by_factory(factories: list[Factory]) -> dict[int, ROIResult | None]:
    """ROI per factory id (None where a conversion rate is missing), in one query."""
    figures = figures_by_factory(factories)
    return {f.pk: roi_of_figures(figures.get(f.pk), f) for f in factories}


def latest_kpis_by_factory(factories: list[Factory], today: date | None = None) -> dict:
    """Per factory id, the last full month's whole-factory OEE and DORA band (portfolio
    columns), in one query."""
    month = last_full_month(today)
    summary = {
        f.pk: {"oee": None, "dora_band": None, "month": month.isoformat()} for f in factories
    }
    for factory_id, oee, band in FactoryMonth.objects.filter(
        month=month, factory_id__in=list(summary)
    ).values_list("factory_id", "oee", "band"):
        summary[factory_id].update(oee=oee, dora_band=band)
    return summary


def _finance_entries(months: list[FactoryMonth]) -> list[dict]:
    return [
        {"date": row.month, "kind": kind, "amount": Decimal(amount), "currency": currency}
        for row in months
        for currency, kinds in row.finance.items()
        for kind, amount in kinds.items()
    ]


def factory_roi(factory: Factory) -> ROIResult:
    """The factory's ROI with its monthly series (KPIInputError when a rate is missing)."""
    months = list(FactoryMonth.objects.filter(factory=factory).exclude(finance={}))
    entries = _finance_entries(months)
    foreign = any((e["currency"] or factory.currency) != factory.currency for e in entries)
    rates = rates_to({factory.currency}).get(factory.currency, {}) if foreign else {}
    return roi(entries, factory.currency, rates)


def factory_months(factory: Factory, today: date | None = None) -> list[FactoryMonth]:
    """The factory's rollup months of the KPI panel: the last twelve and the current one."""
    today = today or today_utc()
    first = month_of(today.replace(year=today.year - 1, day=1))
    return list(FactoryMonth.objects.filter(factory=factory, month__gte=first).order_by("month"))


def oee_rows(months: list[FactoryMonth]) -> list[dict]:
    """Whole-factory OEE rows (``line`` None) of the months with OT counters."""
    return [
        {"period_start": m.month.isoformat(), "line": None, **{k: getattr(m, k) for k in OEE_KEYS}}
        for m in months
        if m.lines
    ]


def dora_rows(months: list[FactoryMonth]) -> list[dict]:
    """DORA rows of the months with deployments or failures."""
    rows = []
    for m in months:
        if m.deployments or m.failed:
            row = {k: getattr(m, k) for k in DORA_KEYS if k != "period_start"}
            rows.append({"period_start": m.month.isoformat(), **row})
    return rows


__all__ = [
    "KPIInputError",
    "dora_rows",
    "factory_months",
    "factory_roi",
    "figures_by_factory",
    "latest_kpis_by_factory",
    "oee_rows",
    "roi_of_figures",
    "rois_by_factory",
]
