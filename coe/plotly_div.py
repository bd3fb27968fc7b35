"""A plotly figure written as plain dicts, rendered as an embeddable ``<div>``.

The pages' charts are built from plain data: traces and layout as the dicts plotly's own
validation would produce (``{"type": "bar", ...}``, ``{"title": {"text": ...}}``), with
the default template added as ``plotly.graph_objects.Figure`` adds it. The HTML comes from
``plotly.io.to_html`` itself, so the ``<div>``, the JSON escaping and the ``Plotly.newPlot``
call are plotly's. What is skipped is building and validating graph objects — tens of
milliseconds of CPU per chart on every page view (tests/pages/test_plotly_div.py checks
that every chart's dicts are exactly what that validation returns).
"""

from __future__ import annotations

import functools

import plotly.io as pio

CONFIG = {"displaylogo": False}


@functools.cache
def template() -> dict:
    """The default template as a figure carries it (``layout.template``), built once."""
    return pio.templates[pio.templates.default].to_plotly_json()


def figure_dict(data: list[dict], layout: dict) -> dict:
    """The figure as ``go.Figure(...).to_dict()`` returns it: the layout with the template."""
    return {"data": data, "layout": {**layout, "template": template()}}


def div_html(data: list[dict], layout: dict, *, div_id: str) -> str:
    """The figure as plotly's ``to_html(full_html=False, include_plotlyjs=False)``."""
    return pio.to_html(
        figure_dict(data, layout),
        validate=False,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=CONFIG,
    )
