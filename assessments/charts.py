"""Plotly figures for the pages. Each function takes plain data and returns HTML for a
``<div>``; plotly.js itself is served from the app's static files (never a CDN)."""

from __future__ import annotations

import plotly.graph_objects as go

PALETTE = ["#1f5f8b", "#e07a1f", "#2e8b57", "#8b1f5f", "#6b6b6b", "#c9a227"]
LAYOUT = {
    "margin": {"l": 40, "r": 10, "t": 30, "b": 40},
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "height": 320,
}


def figure_html(fig: go.Figure, *, div_id: str) -> str:
    """The figure as an embeddable ``<div>`` (plotly.js comes from the page's static files)."""
    fig.update_layout(**LAYOUT)
    return fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False}
    )


def factories_by_unit(rows: list[dict]) -> str:
    """Stacked bars: factories per business unit, split by kind.

    ``rows``: ``[{"business_unit", "kind", "count"}]``.
    """
    units = sorted({r["business_unit"] for r in rows})
    fig = go.Figure()
    for i, kind in enumerate(sorted({r["kind"] for r in rows})):
        counts = {r["business_unit"]: r["count"] for r in rows if r["kind"] == kind}
        fig.add_bar(
            name=kind.title(),
            x=units,
            y=[counts.get(u, 0) for u in units],
            marker_color=PALETTE[i % len(PALETTE)],
        )
    fig.update_layout(barmode="stack", yaxis_title="factories", legend={"orientation": "h"})
    return figure_html(fig, div_id="chart-factories-by-unit")
