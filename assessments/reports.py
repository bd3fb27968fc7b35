"""Audit reports for business owners and auditors: a PDF (reportlab, drawn natively) and an
XLSX workbook per assessment, and an XLSX of the portfolio's scorecards.

A final assessment reports its stored result; an open one reports a preview of its current
answers, marked as such. Both formats read the same gathered data (``report_data``).
"""

from __future__ import annotations

import datetime as dt
import json
from io import BytesIO

from django.utils import timezone
from reportlab.graphics.charts.spider import SpiderChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from assessments import selectors, services
from assessments.choices import STAGE_NAMES
from assessments.models import Assessment
from coe.exports import xlsx_bytes


def report_data(assessment: Assessment) -> dict:
    """Everything a report shows, gathered once (a fixed number of queries)."""
    if assessment.is_final and assessment.result:
        result, preview = assessment.result, False
    else:
        day = assessment.assessed_on or timezone.localdate()
        result = services.result_document(assessment, services.assessment_score(assessment), day)
        preview = True
    names = {
        c["key"]: (d["key"], d["name"], c["name"])
        for d in assessment.model.definition["dimensions"]
        for c in d["criteria"]
    }
    answers = list(selectors.answers_of(assessment).select_related("answered_by"))
    readings = list(assessment.signal_readings.order_by("criterion"))
    comments = list(assessment.review_comments.select_related("author"))
    return {
        "assessment": assessment,
        "result": result,
        "preview": preview,
        "names": names,
        "answers": answers,
        "readings": readings,
        "comments": comments,
        "medians": selectors.portfolio_median_dimensions(assessment.model.key),
        "trend": selectors.scorecard_trend(assessment),
    }


def _stage(value) -> str:
    return f"{value} {STAGE_NAMES[value]}" if value in STAGE_NAMES else "–"


def _num(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


# --- PDF ---------------------------------------------------------------------------------


def _radar(result: dict, medians: dict[str, float]) -> Drawing:
    """The dimension scores against the portfolio median, on a 0–5 spider chart."""
    dims = [d for d in result["dimensions"] if d["score"] is not None]
    drawing = Drawing(16 * cm, 9 * cm)
    if len(dims) < 3:
        drawing.add(String(10, 120, "Too few rated dimensions for a radar chart."))
        return drawing
    chart = SpiderChart()
    chart.x, chart.y, chart.width, chart.height = 4.5 * cm, 0.8 * cm, 7.5 * cm, 7.5 * cm
    chart.data = [
        [d["score"] for d in dims],
        [medians.get(d["key"], 0) for d in dims],
    ]
    chart.labels = [d["name"][:28] for d in dims]
    chart.strands[0].strokeColor = colors.HexColor("#1f6feb")
    chart.strands[0].fillColor = colors.Color(0.12, 0.43, 0.92, alpha=0.25)
    chart.strands[1].strokeColor = colors.HexColor("#8b949e")
    chart.strands[1].fillColor = None
    chart.strands[1].strokeDashArray = [3, 2]
    chart.fillColor = None
    # 0–5 scale on every spoke.
    chart.spokes.strokeColor = colors.lightgrey
    drawing.add(chart)
    drawing.add(String(0.2 * cm, 8.4 * cm, "— this factory", fillColor=colors.HexColor("#1f6feb")))
    drawing.add(String(0.2 * cm, 7.9 * cm, "- - portfolio median", fillColor=colors.grey))
    return drawing


def _table(rows: list[list], widths: list[float], header: bool = True) -> Table:
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey),
    ]
    if header:
        style += [
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
        ]
    table = Table(rows, colWidths=[w * cm for w in widths], repeatRows=1 if header else 0)
    table.setStyle(TableStyle(style))
    return table


def report_pdf(assessment: Assessment) -> bytes:
    """The audit report as PDF: summary, stage and index, radar against the portfolio,
    dimension table, roadmap and the evidence behind every answer."""
    data = report_data(assessment)
    result, names = data["result"], data["names"]
    styles = getSampleStyleSheet()
    small = ParagraphStyle("small", parent=styles["BodyText"], fontSize=8, leading=10)
    warn = ParagraphStyle("warn", parent=small, textColor=colors.HexColor("#9a6700"))

    def p(text: str, style=small) -> Paragraph:
        return Paragraph(
            str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), style
        )

    factory = assessment.factory
    overall = result["overall"]
    story = [
        p(f"Maturity assessment: {factory.name}", styles["Title"]),
        p(
            f"{result.get('model_name', assessment.model.name)} v{assessment.model.version} · "
            f"audit of {result['assessed_at']} · revision {assessment.revision}"
            + (" · PREVIEW, not final" if data["preview"] else " · final"),
            styles["Normal"],
        ),
        Spacer(1, 0.3 * cm),
        p("Summary", styles["Heading2"]),
        p(
            f"Stage {_stage(overall['stage'])}, index {_num(overall['index'])}"
            + (f", capped by {overall['capped_by']}" if overall.get("capped_by") else "")
            + f"; confidence {_num(result.get('confidence'))}.",
            styles["Normal"],
        ),
    ]
    trend = data["trend"]
    if trend["previous"]:
        prev = trend["previous"]
        story.append(
            p(
                f"Previous audit {prev['assessed_at']}: stage {_stage(prev['stage'])}, index "
                f"{_num(prev['index'])} (change "
                + (
                    f"{trend['change']['index']:+.2f} index, "
                    if trend["change"]["index"] is not None
                    else ""
                )
                + f"{trend['change']['stage']:+d} stage).",
                styles["Normal"],
            )
        )
    if result.get("explanation"):
        story.append(p(result["explanation"]))
    evidence = result.get("evidence")
    if evidence:
        story.append(
            p(
                f"Evidence: {evidence['evidenced']} of {evidence['rated']} rated criteria carry "
                "evidence."
            )
        )
    for warning in result.get("warnings", []):
        story.append(p(f"Warning: {warning}", warn))
    story += [
        Spacer(1, 0.3 * cm),
        p("Dimensions against the portfolio", styles["Heading2"]),
        _radar(result, data["medians"]),
    ]
    rows = [["Dimension", "Score", "Stage", "Portfolio median", "Confidence", "Rated"]]
    for dim in result["dimensions"]:
        rows.append(
            [
                p(dim["name"]),
                _num(dim["score"]),
                _stage(dim["stage"]),
                _num(data["medians"].get(dim["key"])),
                _num(dim.get("confidence")),
                str(dim.get("rated", "")),
            ]
        )
    story.append(_table(rows, [6, 1.6, 3, 2.6, 2, 1.4]))
    story += [Spacer(1, 0.3 * cm), p("Roadmap to the next stage", styles["Heading2"])]
    if result["roadmap"]:
        rows = [["Criterion", "Dimension", "Current", "Target", "Gain"]]
        for item in result["roadmap"]:
            _dim, dim_name, crit_name = names.get(item["criterion"], ("", "", item["criterion"]))
            rows.append(
                [
                    p(crit_name),
                    p(dim_name),
                    str(item["current"]),
                    str(item["target"]),
                    _num(item["gain"]),
                ]
            )
        story.append(_table(rows, [6.5, 4.5, 1.6, 1.6, 1.6]))
    else:
        story.append(p("No roadmap: the factory is at the top stage or nothing is rated."))
    story += [Spacer(1, 0.3 * cm), p("Evidence per criterion", styles["Heading2"])]
    readings = {r.criterion: r for r in data["readings"]}
    comments: dict[str, list] = {}
    for comment in data["comments"]:
        comments.setdefault(comment.criterion, []).append(comment)
    rows = [["Criterion", "Rating", "Evidence, signal and review"]]
    for answer in data["answers"]:
        _dim, _dim_name, crit_name = names.get(answer.criterion, ("", "", answer.criterion))
        parts = []
        if answer.evidence:
            parts.append(f"Evidence ({answer.evidence_date or 'undated'}): {answer.evidence}")
        parts += [f"Link: {link}" for link in answer.links]
        parts += [f"File: {f.name}" for f in answer.files.all()]
        reading = readings.get(answer.criterion)
        if reading is not None:
            parts.append(
                f"Signal {reading.signal}: "
                + (
                    f"{reading.value:g}, suggests {reading.suggested_rating or '–'} — "
                    if reading.measured
                    else "not measured — "
                )
                + reading.detail
            )
        if answer.suggestion == "overridden":
            parts.append(f"Override: {answer.comment}")
        elif answer.comment:
            parts.append(f"Comment: {answer.comment}")
        for comment in comments.get(answer.criterion, []):
            who = comment.author.username if comment.author else "reviewer"
            parts.append(f"Review ({who}): {comment.body}")
        rows.append(
            [
                p(crit_name),
                "N/A" if answer.rating is None else str(answer.rating),
                [p(text) for text in parts] or p("No evidence."),
            ]
        )
    story.append(_table(rows, [5, 1.3, 10.5]))
    if comments.get(""):
        story += [Spacer(1, 0.3 * cm), p("Review comments on the whole audit", styles["Heading2"])]
        story += [
            p(f"{c.author.username if c.author else 'reviewer'}: {c.body}") for c in comments[""]
        ]
    finaliser = assessment.finalized_by.username if assessment.finalized_by else "–"
    story.append(
        KeepTogether(
            [
                Spacer(1, 0.4 * cm),
                p(
                    f"Generated {timezone.now():%Y-%m-%d %H:%M} UTC by the CoE service; "
                    f"finalised by {finaliser}."
                ),
            ]
        )
    )
    out = BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=1.6 * cm,
        rightMargin=1.6 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.5 * cm,
        title=f"Maturity assessment {factory.name} {result['assessed_at']}",
        author="CoE",
    )
    doc.build(story)
    return out.getvalue()


# --- XLSX --------------------------------------------------------------------------------


def report_xlsx(assessment: Assessment) -> bytes:
    """The audit as a workbook: answers, evidence, signals, scores and roadmap sheets."""
    data = report_data(assessment)
    result, names = data["result"], data["names"]
    answers = data["answers"]
    overall = result["overall"]
    scores = [
        [
            "overall",
            "Overall",
            overall["index"],
            overall["stage"],
            overall["stage_name"],
            result.get("confidence"),
            None,
        ],
    ] + [
        [
            d["key"],
            d["name"],
            d["score"],
            d["stage"],
            d["stage_name"],
            d.get("confidence"),
            data["medians"].get(d["key"]),
        ]
        for d in result["dimensions"]
    ]
    evidence_rows = []
    for answer in answers:
        for link in answer.links:
            evidence_rows.append([answer.criterion, "link", link, answer.evidence_date])
        for stored in answer.files.all():
            evidence_rows.append([answer.criterion, "file", stored.name, answer.evidence_date])
        if answer.evidence:
            evidence_rows.append([answer.criterion, "text", answer.evidence, answer.evidence_date])
    sheets = {
        "Answers": (
            [
                "criterion",
                "dimension",
                "name",
                "rating",
                "suggested_rating",
                "suggestion",
                "comment",
                "answered_by",
            ],
            [
                [
                    a.criterion,
                    names.get(a.criterion, ("", "", ""))[1],
                    names.get(a.criterion, ("", "", a.criterion))[2],
                    a.rating,
                    a.suggested_rating,
                    a.suggestion or "none",
                    a.comment,
                    a.answered_by.username if a.answered_by else "",
                ]
                for a in answers
            ],
        ),
        "Evidence": (["criterion", "kind", "evidence", "evidence_date"], evidence_rows),
        "Signals": (
            [
                "criterion",
                "signal",
                "measured",
                "value",
                "suggested_rating",
                "source",
                "detail",
                "measured_at",
                "as_of",
                "inputs",
            ],
            [
                [
                    r.criterion,
                    r.signal,
                    r.measured,
                    r.value,
                    r.suggested_rating,
                    r.source,
                    r.detail,
                    r.measured_at,
                    r.as_of,
                    json.dumps(r.inputs, sort_keys=True, default=str) if r.inputs else "",
                ]
                for r in data["readings"]
            ],
        ),
        "Scores": (
            ["key", "name", "score", "stage", "stage_name", "confidence", "portfolio_median"],
            scores,
        ),
        "Roadmap": (
            ["criterion", "name", "dimension", "current", "target", "gain"],
            [
                [
                    i["criterion"],
                    names.get(i["criterion"], ("", "", ""))[2],
                    i["dimension"],
                    i["current"],
                    i["target"],
                    i["gain"],
                ]
                for i in result["roadmap"]
            ],
        ),
        "Review": (
            ["criterion", "author", "comment", "at"],
            [
                [
                    c.criterion or "(whole audit)",
                    c.author.username if c.author else "",
                    c.body,
                    c.created_at,
                ]
                for c in data["comments"]
            ],
        ),
    }
    return xlsx_bytes(sheets)


def portfolio_xlsx(user, today: dt.date | None = None) -> bytes:
    """Every visible factory's latest scorecard with its trend, one row per factory, and a
    second sheet of dimension scores."""
    from coe.scoping import visible_factories

    factories = list(visible_factories(user).order_by("business_unit", "name"))
    latest = selectors.latest_finals_by_factory(visible_factories(user))
    previous = selectors.previous_finals(list(latest.values()))
    rows, dims = [], []
    for factory in factories:
        final = latest.get(factory.pk)
        if final is None or not final.result:
            rows.append(
                [factory.slug, factory.name, factory.business_unit, factory.kind] + [None] * 9
            )
            continue
        result = final.result
        prev = previous.get(final.pk)
        rows.append(
            [
                factory.slug,
                factory.name,
                factory.business_unit,
                factory.kind,
                result["assessed_at"],
                result["model_version"],
                result["overall"]["index"],
                result["overall"]["stage_name"],
                result["overall"]["capped_by"] or "",
                result.get("confidence"),
                prev.assessed_on if prev else None,
                float(prev.index) if prev and prev.index is not None else None,
                round(result["overall"]["index"] - float(prev.index), 2)
                if prev and prev.index is not None
                else None,
            ]
        )
        dims += [
            [factory.slug, d["key"], d["name"], d["score"], d["stage_name"], d.get("confidence")]
            for d in result["dimensions"]
        ]
    return xlsx_bytes(
        {
            "Scorecards": (
                [
                    "factory",
                    "name",
                    "business_unit",
                    "kind",
                    "assessed_at",
                    "model_version",
                    "index",
                    "stage",
                    "capped_by",
                    "confidence",
                    "previous_assessed_at",
                    "previous_index",
                    "index_change",
                ],
                rows,
            ),
            "Dimensions": (["factory", "dimension", "name", "score", "stage", "confidence"], dims),
        }
    )
