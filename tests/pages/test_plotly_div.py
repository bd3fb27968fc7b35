"""Charts are written as plain dicts (coe/plotly_div.py): each one must be exactly the figure
plotly's graph objects would build and validate from it — same traces, same layout, the
default template, the same ``<div>`` — so skipping the graph objects changes nothing a user
sees, and a misspelt property fails here instead of being drawn wrong."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import plotly.graph_objects as go
import pytest

from assessments import charts as assessment_charts
from kpis import charts as kpi_charts
from registry.charts import radar_html
from registry.consolidation_views import savings_trend_html

NEW_PLOT = re.compile(
    r'Plotly\.newPlot\(\s*"([^"]+)",\s*(\[.*?\]),\s*(\{.*?\}),\s*(\{[^{}]*\})\s*\)', re.S
)


def figure_of(html: str) -> tuple[str, dict, str]:
    """(div id, the figure's data and layout as the page carries them, the HTML around)."""
    match = NEW_PLOT.search(html)
    assert match, html[:200]
    figure = {"data": json.loads(match.group(2)), "layout": json.loads(match.group(3))}
    assert json.loads(match.group(4)) == {"displaylogo": False, "responsive": True}
    return match.group(1), figure, html[: match.start()] + html[match.end() :]


def as_graph_objects(html: str) -> str:
    """The same figure built and validated by ``go.Figure``, rendered by ``to_html``."""
    div_id, figure, _ = figure_of(html)
    layout = {k: v for k, v in figure["layout"].items() if k != "template"}
    fig = go.Figure(data=figure["data"], layout=layout)  # raises on an unknown property
    return fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False}
    )


D = dt.date
OEE = [
    {"line": None, "period_start": D(2025, m, 1), "oee": 0.5 + m / 100, "availability": 0.9,
     "performance": None if m == 3 else 0.8, "quality": 0.95}
    for m in range(1, 7)
] + [{"line": "L1", "period_start": D(2025, 1, 1), "oee": 1, "availability": 1,
      "performance": 1, "quality": 1}]  # fmt: skip
DORA = [
    {"period_start": D(2025, m, 1), "deployments": 3 * m,
     "band": [None, "elite", "high", "low"][m % 4],
     "lead_time_hours_median": None if m == 3 else 1.5 * m}
    for m in range(1, 8)
]  # fmt: skip
SERIES = [
    {"month": f"2025-{m:02d}", "invested": Decimal(1000 * m), "benefits": Decimal(1300 * m)}
    for m in range(1, 10)
]
DIMENSIONS = [
    {"key": f"k{i}", "name": f"Dimension number {i} with a long name",
     "score": None if i == 2 else 0.7 * i}
    for i in range(6)
]  # fmt: skip
HISTORY = [
    {"date": d, "stage": stage, "index": index, "stage_name": name, "model_version": version}
    for d, stage, index, name, version in [
        ("2024-01-05", 2, 2.31, "Developing", 1),
        ("2024-09-05", 3, 3.01, "Defined", 1),
        ("2025-06-01", 3, 3.5, "Defined", 2),
    ]
]
RADAR = [
    {"name": f"Tool {i}", "ring": ["adopt", "trial", "assess", "hold", "retired"][i % 5],
     "group": f"Group {i % 3}"}
    for i in range(20)
]  # fmt: skip
CHARTS = {
    "oee": lambda: kpi_charts.oee_trend(OEE),
    "dora": lambda: kpi_charts.dora_trend(DORA),
    "roi with payback": lambda: kpi_charts.roi_chart(SERIES, "2025-05", "EUR"),
    "roi without payback": lambda: kpi_charts.roi_chart(SERIES, None, "USD"),
    "factories by unit": lambda: assessment_charts.factories_by_unit(
        [
            {
                "business_unit": f"BU {i % 3}",
                "kind": ["manufacturing", "software"][i % 2],
                "count": i,
            }
            for i in range(7)
        ]  # fmt: skip
    ),
    "maturity radar": lambda: assessment_charts.maturity_radar(DIMENSIONS, {"k0": 2.0, "k3": 3}),
    "maturity radar, no median": lambda: assessment_charts.maturity_radar(DIMENSIONS, {}),
    "stage history, model change": lambda: assessment_charts.stage_history(HISTORY),
    "stage history, one model": lambda: assessment_charts.stage_history(HISTORY[:2]),
    "stage distribution": lambda: assessment_charts.stage_distribution({1: 3, 4: 9}),
    "heatmap": lambda: assessment_charts.dimension_heatmap(
        ["Plant A", "Plant <B>"],
        ["x", "y", "z"],
        [[1.0, None, 3.33], [4.5, 2.25, None]],
        div_id="chart-heatmap",
    ),
    "savings trend": lambda: savings_trend_html(
        {
            "trend": [
                {"month": "2025-01", "realised_savings": Decimal("12.5")},
                {"month": "2025-02", "realised_savings": Decimal("40")},
            ]
        }  # fmt: skip
    ),
    "tech radar": lambda: radar_html([dict(r) for r in RADAR]),
}


@pytest.mark.parametrize("name", CHARTS)
def test_chart_is_the_figure_graph_objects_would_draw(name):
    html = CHARTS[name]()
    _, figure, around = figure_of(html)
    _, expected, expected_around = figure_of(as_graph_objects(html))
    assert figure == expected
    assert around == expected_around  # the same <div> (height) around the script
    assert figure["layout"]["template"]["layout"]  # the default template is applied
    assert "<B>" not in html  # text stays escaped inside the script


def test_a_misspelt_property_fails_validation():
    html = kpi_charts.figure_html([{"type": "bar", "y": [1], "colour": "red"}], {}, div_id="x")
    with pytest.raises(ValueError):
        as_graph_objects(html)
