"""The factory page's KPI and ROI panels and their CSV downloads."""

from __future__ import annotations

from django.http import HttpResponse

from coe import policy
from coe.choices import FactoryKind
from coe.exports import csv_response
from kpis import charts as kpi_charts
from kpis import reads
from kpis import selectors as kpi_selectors
from kpis.formulas import KPIInputError

PANEL_SPAN_DAYS = 365


def _range() -> kpi_selectors.KPIRange:
    return kpi_selectors.kpi_range("month")


def kpi_panel_context(request, factory) -> dict | None:
    """OEE (manufacturing) or DORA (software) by month over the last year, with a chart:
    the factory's rollup months (the issue flow of software factories is read per team)."""
    if not policy.allowed(request.user, "assessments.view_kpis", factory):
        return None
    months = reads.factory_months(factory)
    if factory.kind == FactoryKind.MANUFACTURING:
        whole = reads.oee_rows(months)
        return {
            "factory": factory,
            "kind": "oee",
            "latest": whole[-1] if whole else None,
            "lines": sorted({line for m in months for line in m.lines}),
            "chart": kpi_charts.oee_trend(whole) if whole else "",
        }
    rows = reads.dora_rows(months)
    flow = kpi_selectors.flow_for_factory(factory, _range())
    return {
        "factory": factory,
        "kind": "dora",
        "latest": rows[-1] if rows else None,
        "flow": flow[-6:],
        "chart": kpi_charts.dora_trend(rows) if rows else "",
    }


def roi_panel_context(request, factory) -> dict | None:
    """Cumulative invested vs benefits with the payback month (hidden without finance data)."""
    if not policy.allowed(request.user, "assessments.view_kpis", factory):
        return None
    try:
        result = reads.factory_roi(factory)
    except KPIInputError as exc:
        return {"factory": factory, "error": str(exc)}
    if not result.series:
        return {"factory": factory, "roi": None}
    data = result.as_dict()
    return {
        "factory": factory,
        "roi": data,
        "chart": kpi_charts.roi_chart(data["series"], data["payback_date"], data["currency"]),
    }


@policy.page_rule(obj=policy.visible_factory)
def kpis_csv(request, slug: str, obj):
    """The KPI panel's data: OEE rows (manufacturing) or DORA rows (software)."""
    factory = obj
    rng = _range()
    if factory.kind == FactoryKind.MANUFACTURING:
        rows = kpi_selectors.oee_for_factory(factory, rng)
        header = list(rows[0]) if rows else ["period_start", "line", "oee"]
    else:
        rows = kpi_selectors.dora_for_factory(factory, rng)
        header = kpi_selectors.DORA_KEYS
    return csv_response(f"{factory.slug}-kpis.csv", header, rows)


@policy.page_rule(obj=policy.visible_factory)
def roi_csv(request, slug: str, obj):
    """The ROI panel's data: cumulative invested and benefits by month."""
    factory = obj
    try:
        series = reads.factory_roi(factory).as_dict()["series"]
    except KPIInputError as exc:
        return HttpResponse(str(exc), status=422, content_type="text/plain")
    return csv_response(f"{factory.slug}-roi.csv", ["month", "invested", "benefits"], series)


def register_kpi_panels() -> None:
    """Register the KPI and ROI panels on the factory page (called from ``ready()``)."""
    from coe.pages import register_factory_panel

    register_factory_panel(
        "kpis", order=20, template="kpis/kpi_panel.html", context=kpi_panel_context
    )
    register_factory_panel(
        "roi", order=25, template="kpis/kpi_roi_panel.html", context=roi_panel_context
    )
