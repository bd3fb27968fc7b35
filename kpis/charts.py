"""Plotly figures of the KPI and ROI panels (plain rows in, an embeddable ``<div>`` out),
and the chart style every page shares (the assessments charts build on it).

Figures are written as the plain dicts plotly's validation produces and rendered by
``coe.plotly_div`` (no graph objects per page view)."""

from __future__ import annotations

from coe.plotly_div import div_html

PALETTE = ["#1f5f8b", "#e07a1f", "#2e8b57", "#8b1f5f", "#6b6b6b", "#c9a227"]
LAYOUT = {
    "margin": {"l": 40, "r": 10, "t": 30, "b": 40},
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "height": 320,
}


def figure_html(data: list[dict], layout: dict, *, div_id: str) -> str:
    """The figure with the shared style as an embeddable ``<div>`` (plotly.js comes from
    the page's static files)."""
    return div_html(data, {**layout, **LAYOUT}, div_id=div_id)


BAND_COLOURS = {"elite": "#2e8b57", "high": "#1f5f8b", "medium": "#c9a227", "low": "#8b1f5f"}


def oee_trend(rows: list[dict], *, div_id: str = "chart-oee") -> str:
    """Whole-factory OEE and its three factors per period (rows of ``oee_series``)."""
    whole = [r for r in rows if r["line"] is None]
    x = [r["period_start"] for r in whole]
    data = [
        {
            "type": "scatter",
            "x": x,
            "y": [r[key] for r in whole],
            "name": key.upper() if key == "oee" else key.title(),
            "mode": "lines+markers",
            "line": {"color": PALETTE[i], "width": 3 if key == "oee" else 1.5},
            "connectgaps": False,
        }
        for i, key in enumerate(["oee", "availability", "performance", "quality"])
    ]
    layout = {
        "yaxis": {"title": {"text": "share"}, "range": [0, 1.05], "tickformat": ".0%"},
        "legend": {"orientation": "h"},
    }
    return figure_html(data, layout, div_id=div_id)


def dora_trend(rows: list[dict], *, div_id: str = "chart-dora") -> str:
    """Deployments per period coloured by DORA band, with the median lead time."""
    x = [r["period_start"] for r in rows]
    data = [
        {
            "type": "bar",
            "x": x,
            "y": [r["deployments"] for r in rows],
            "name": "deployments",
            "marker": {"color": [BAND_COLOURS.get(r["band"] or "", PALETTE[4]) for r in rows]},
            "text": [r["band"] or "" for r in rows],
            "textposition": "outside",
        },
        {
            "type": "scatter",
            "x": x,
            "y": [r["lead_time_hours_median"] for r in rows],
            "name": "lead time (h, median)",
            "yaxis": "y2",
            "mode": "lines+markers",
            "line": {"color": PALETTE[1]},
        },
    ]
    layout = {
        "yaxis": {"title": {"text": "deployments"}},
        "yaxis2": {"title": {"text": "hours"}, "overlaying": "y", "side": "right"},
        "legend": {"orientation": "h"},
    }
    return figure_html(data, layout, div_id=div_id)


def roi_chart(
    series: list[dict], payback_month: str | None, currency: str, *, div_id: str = "chart-roi"
) -> str:
    """Cumulative invested vs benefits by month, with a marker on the payback month."""
    x = [r["month"] for r in series]
    data = [
        {
            "type": "scatter",
            "x": x,
            "y": [float(r["invested"]) for r in series],
            "name": "invested (cumulative)",
            "mode": "lines",
            "line": {"color": PALETTE[3], "shape": "hv"},
        },
        {
            "type": "scatter",
            "x": x,
            "y": [float(r["benefits"]) for r in series],
            "name": "benefits (cumulative)",
            "mode": "lines",
            "line": {"color": PALETTE[2], "shape": "hv"},
            "fill": "tonexty",
        },
    ]
    layout: dict = {"yaxis": {"title": {"text": currency}}, "legend": {"orientation": "h"}}
    if payback_month:
        layout["shapes"] = [vline(payback_month, PALETTE[0])]
        layout["annotations"] = [
            {"x": payback_month, "y": 1, "yref": "paper", "text": "payback", "showarrow": False}
        ]
    return figure_html(data, layout, div_id=div_id)


def vline(x, colour: str) -> dict:
    """A dashed vertical line across the plot, as ``Figure.add_vline`` draws it."""
    return {
        "type": "line",
        "x0": x,
        "x1": x,
        "xref": "x",
        "y0": 0,
        "y1": 1,
        "yref": "y domain",
        "line": {"color": colour, "dash": "dash"},
    }
