"""The tech radar as a plotly polar chart (plain data in, an embeddable ``<div>`` out).

Kept in the registry (not ``assessments.charts``) because the registry sits below the
assessments app and must not import it; the layout mirrors ``assessments.charts``.
"""

from __future__ import annotations

from coe.plotly_div import div_html

RING_RADIUS = {"adopt": 1, "trial": 2, "assess": 3, "hold": 4}
RING_COLOUR = {"adopt": "#2e8b57", "trial": "#1f5f8b", "assess": "#c9a227", "hold": "#b3261e"}


def number_blips(rows: list[dict]) -> list[dict]:
    """Number the radar's tools as the Thoughtworks radar does: quadrant by quadrant
    (capability group), ring by ring from the centre, then by name; each row gets
    ``number``. Returns the quadrants: ``[{"group", "rings": [{"ring", "tools"}]}]``, the
    list printed beside the chart. Retired tools get no number."""
    placed = [r for r in rows if r["ring"] in RING_RADIUS]
    placed.sort(key=lambda r: (r["group"], RING_RADIUS[r["ring"]], r["name"].lower()))
    quadrants: list[dict] = []
    for number, row in enumerate(placed, start=1):
        row["number"] = number
        if not quadrants or quadrants[-1]["group"] != row["group"]:
            quadrants.append({"group": row["group"], "rings": []})
        rings = quadrants[-1]["rings"]
        if not rings or rings[-1]["ring"] != row["ring"]:
            rings.append({"ring": row["ring"], "tools": []})
        rings[-1]["tools"].append(row)
    return quadrants


def radar_html(rows: list[dict], *, div_id: str = "chart-tech-radar") -> str:
    """``rows``: ``[{"name", "ring", "group", "number"?}]`` — one numbered dot per tool,
    rings from the centre (adopt) outwards (hold), one sector per capability group. Retired
    tools are left off. Rows without a number are numbered by :func:`number_blips`."""
    rows = [r for r in rows if r["ring"] in RING_RADIUS]
    if any("number" not in r for r in rows):
        number_blips(rows)
    groups = sorted({r["group"] for r in rows}) or ["—"]
    width = 360 / len(groups)
    data = []
    for ring, radius in RING_RADIUS.items():
        members = [r for r in rows if r["ring"] == ring]
        thetas, radii, names, numbers = [], [], [], []
        for gi, group in enumerate(groups):
            in_group = sorted((r for r in members if r["group"] == group), key=lambda r: r["name"])
            for i, row in enumerate(in_group):
                thetas.append(gi * width + width * (i + 1) / (len(in_group) + 1))
                # Spread dots across the ring's band so names do not sit on top of each other.
                radii.append(radius - 0.75 + 0.5 * ((i % 3) + 1) / 3)
                names.append(f"{row['number']}. {row['name']}<br>{group}")
                numbers.append(str(row["number"]))
        data.append(
            {
                "type": "scatterpolar",
                "r": radii,
                "theta": thetas,
                "mode": "markers+text",
                "name": ring.title(),
                "text": numbers,
                "textposition": "middle center",
                "textfont": {"color": "#fff", "size": 9},
                "hovertext": names,
                "hoverinfo": "text",
                "marker": {"size": 18, "color": RING_COLOUR[ring]},
            }
        )
    layout = {
        "polar": {
            "radialaxis": {
                "range": [0, 4],
                "tickvals": [0.5, 1.5, 2.5, 3.5],
                "ticktext": ["Adopt", "Trial", "Assess", "Hold"],
                "showline": False,
            },
            "angularaxis": {
                "tickvals": [gi * width + width / 2 for gi in range(len(groups))],
                "ticktext": groups,
                "direction": "clockwise",
                "showgrid": False,
            },
        },
        "legend": {"orientation": "h"},
        "margin": {"l": 40, "r": 40, "t": 30, "b": 40},
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "height": 560,
    }
    return div_html(data, layout, div_id=div_id)
