"""Plotly figures for the pages. Each function takes plain data and returns HTML for a
``<div>``; plotly.js itself is served from the app's static files (never a CDN). Figures are
the plain dicts plotly's validation produces, rendered by ``coe.plotly_div``."""

from __future__ import annotations

import datetime as dt

from coe.plotly_div import div_html
from kpis.charts import LAYOUT, PALETTE, figure_html, vline


def factories_by_unit(rows: list[dict]) -> str:
    """Stacked bars: factories per business unit, split by kind.

    ``rows``: ``[{"business_unit", "kind", "count"}]``.
    """
    units = sorted({r["business_unit"] for r in rows})
    data = []
    for i, kind in enumerate(sorted({r["kind"] for r in rows})):
        counts = {r["business_unit"]: r["count"] for r in rows if r["kind"] == kind}
        data.append(
            {
                "type": "bar",
                "name": kind.title(),
                "x": units,
                "y": [counts.get(u, 0) for u in units],
                "marker": {"color": PALETTE[i % len(PALETTE)]},
            }
        )
    layout = {
        "barmode": "stack",
        "yaxis": {"title": {"text": "factories"}},
        "legend": {"orientation": "h"},
    }
    return figure_html(data, layout, div_id="chart-factories-by-unit")


def _wrap(label: str, width: int = 18) -> str:
    """Break a long axis label into lines (plotly uses ``<br>``)."""
    lines, line = [], ""
    for word in label.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(lines)


STAGE_COLOURS = {1: "#b3261e", 2: "#e07a1f", 3: "#c9a227", 4: "#2e8b57", 5: "#1f5f8b"}
STAGE_LABELS = ["Ad hoc", "Developing", "Established", "Advanced", "Optimized"]


def maturity_radar(dimensions: list[dict], medians: dict[str, float]) -> str:
    """Radar of a factory's dimension scores against the portfolio median.

    ``dimensions``: ``[{"key", "name", "score"}]`` (scored ones); ``medians``: ``{key: score}``.
    """
    scored = [d for d in dimensions if d["score"] is not None]
    names = [_wrap(d["name"]) for d in scored]
    closed = names + names[:1]
    data = []
    median_values = [medians.get(d["key"]) for d in scored]
    if any(v is not None for v in median_values):
        values = [v if v is not None else 0 for v in median_values]
        data.append(
            {
                "type": "scatterpolar",
                "r": values + values[:1],
                "theta": closed,
                "name": "Portfolio median",
                "line": {"color": PALETTE[4], "dash": "dot"},
            }
        )
    values = [d["score"] for d in scored]
    data.append(
        {
            "type": "scatterpolar",
            "r": values + values[:1],
            "theta": closed,
            "name": "This factory",
            "fill": "toself",
            "line": {"color": PALETTE[0]},
        }
    )
    layout = {
        "polar": {"radialaxis": {"range": [0, 5], "tickvals": [1, 2, 3, 4, 5]}},
        "legend": {"orientation": "h"},
        **LAYOUT,
        "height": 400,
        "margin": {"l": 90, "r": 90, "t": 40, "b": 30},
    }
    return div_html(data, layout, div_id="chart-radar")


def stage_history(points: list[dict]) -> str:
    """The overall stage over a factory's final assessments, the index on hover (the
    stage, not the index, is what the axis names: a "Developing" audit sits on the
    "Developing" line whatever its index); a change of model version is marked with a
    dashed line and a note.

    ``points``: ``[{"date", "stage", "index", "stage_name", "model_version"}]`` oldest first.
    """
    data = [
        {
            "type": "scatter",
            "x": [p["date"] for p in points],
            "y": [p["stage"] for p in points],
            "customdata": [[p["index"], p["stage_name"]] for p in points],
            "mode": "lines+markers",
            "line": {"color": PALETTE[0], "shape": "hv"},
            "marker": {"size": 10},
            "name": "Stage",
            "hovertemplate": "%{x}<br>%{customdata[1]} (index %{customdata[0]:.2f})<extra></extra>",
        }
    ]
    shapes, annotations = [], []
    for before, after in zip(points, points[1:], strict=False):
        if before["model_version"] != after["model_version"]:
            shapes.append(vline(after["date"], PALETTE[1]))
            annotations.append(
                {
                    "x": after["date"],
                    "y": 5,
                    "text": f"model v{after['model_version']}",
                    "showarrow": False,
                    "yshift": 8,
                }
            )
    first, last = (
        dt.date.fromisoformat(points[0]["date"]),
        dt.date.fromisoformat(points[-1]["date"]),
    )
    pad = max(dt.timedelta(days=45), (last - first) / 8)
    layout = {
        **({"shapes": shapes, "annotations": annotations} if shapes else {}),
        **LAYOUT,
        "yaxis": {"range": [0.8, 5.4], "tickvals": [1, 2, 3, 4, 5], "ticktext": STAGE_LABELS},
        "xaxis": {"range": [(first - pad).isoformat(), (last + pad).isoformat()]},
        "showlegend": False,
        "margin": {"l": 90, "r": 20, "t": 30, "b": 40},
    }
    return div_html(data, layout, div_id="chart-stage-history")


def stage_distribution(counts: dict[int, int]) -> str:
    """Bars: how many factories are at each of the five stages."""
    data = [
        {
            "type": "bar",
            "x": STAGE_LABELS,
            "y": [counts.get(stage, 0) for stage in range(1, 6)],
            "marker": {"color": [STAGE_COLOURS[s] for s in range(1, 6)]},
        }
    ]
    layout = {"yaxis": {"title": {"text": "factories"}}, "showlegend": False}
    return figure_html(data, layout, div_id="chart-stage-distribution")


def dimension_heatmap(
    rows: list[str], columns: list[str], values: list[list], *, div_id: str
) -> str:
    """Heatmap of dimension scores (rows: factories or business units; None = not scored)."""
    data = [
        {
            "type": "heatmap",
            "z": values,
            "x": columns,
            "y": rows,
            "zmin": 1,
            "zmax": 5,
            "colorscale": [[i / 4, STAGE_COLOURS[i + 1]] for i in range(5)],
            "text": [["" if v is None else f"{v:.1f}" for v in row] for row in values],
            "texttemplate": "%{text}",
            "hoverongaps": False,
            "colorbar": {"tickvals": [1, 2, 3, 4, 5], "ticktext": STAGE_LABELS},
        }
    ]
    layout = {
        **LAYOUT,
        "height": max(260, 110 + 32 * len(rows)),
        "yaxis": {"autorange": "reversed", "automargin": True},
        "xaxis": {"automargin": True, "tickangle": -30},
        "margin": {"l": 10, "r": 10, "t": 20, "b": 10},
    }
    return div_html(data, layout, div_id=div_id)
