"""PDF and XLSX reports of audits and the portfolio, read back."""

from __future__ import annotations

import datetime as dt
from io import BytesIO

import pytest
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from assessments.answers import answers_save
from assessments.services import (
    assessment_create,
    assessment_finalize,
    review_comment_add,
)
from coe.exports import xlsx_bytes
from tests.assessments.helpers import answer_all, reviewer


def pdf_text(body: bytes) -> str:
    reader = PdfReader(BytesIO(body))
    return "\n".join(page.extract_text() for page in reader.pages)


def workbook(body: bytes):
    return load_workbook(BytesIO(body), read_only=True)


@pytest.fixture
def audited(world):
    """Alpha Plant audited twice (the second with a formula-like evidence text)."""
    first = assessment_create(factory=world.factory_a, assessed_on=dt.date(2026, 1, 15))
    answer_all(first, lambda d, c: 2)
    assessment_finalize(assessment=first, user=reviewer())
    second = assessment_create(factory=world.factory_a, assessed_on=dt.date(2026, 10, 1))
    answer_all(second, lambda d, c: 2 if d == "data_integration" else 4, evidence="Line walk")
    answers_save(
        assessment=second,
        rows=[{"criterion": "data.silos", "rating": 2, "evidence": '=HYPERLINK("x")'}],
    )
    review_comment_add(
        assessment=second,
        criterion="data.systems",
        body="MES interfaces still by file drop.",
        user=reviewer("second.reviewer"),
    )
    assessment_finalize(assessment=second, user=reviewer())
    return first, second


def test_pdf_report_has_summary_stage_radar_dimensions_roadmap_and_evidence(world, audited):
    _first, second = audited
    response = world.client("owner_a").get(reverse("api:assessment-report-pdf", args=[second.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    for expected in (
        "Maturity assessment: Alpha Plant",
        "Summary",
        "Established",  # capped by data integration at 2 → stage 3
        f"index {second.index:.2f}",
        "Dimensions against the portfolio",
        "portfolio median",
        "Data integration",
        "Roadmap to the next stage",
        "Core systems integrated",
        "Evidence per criterion",
        "Line walk",
        "MES interfaces still by file drop.",
        "Previous audit 2026-01-15",
    ):
        assert expected in text, expected


def test_xlsx_report_has_one_sheet_per_part_and_neutralises_formulas(world, audited):
    _first, second = audited
    response = world.client("member_a").get(reverse("api:assessment-report-xlsx", args=[second.pk]))
    assert response.status_code == 200
    book = workbook(response.content)
    assert book.sheetnames == ["Answers", "Evidence", "Signals", "Scores", "Roadmap", "Review"]
    answers = list(book["Answers"].values)
    assert answers[0][:4] == ("criterion", "dimension", "name", "rating")
    assert len(answers) - 1 == second.answers.count()
    evidence = [row for row in book["Evidence"].values if row[0] == "data.silos"]
    assert evidence == [("data.silos", "text", '\'=HYPERLINK("x")', evidence[0][3])]
    scores = {row[0]: row for row in book["Scores"].values}
    assert scores["overall"][2] == float(second.index) and scores["overall"][4] == "Established"
    signals = {row[1]: row for row in list(book["Signals"].values)[1:]}
    assert set(signals) >= {"oee", "systems_integration"}
    assert '"adoptions": 0' in signals["adopt_ring_share"][9]  # the data it used
    assert list(book["Roadmap"].values)[1][0] == second.result["roadmap"][0]["criterion"]


@pytest.mark.parametrize("persona,status", [("member_b", 404), ("anonymous", 401), ("staff", 200)])
def test_reports_are_only_for_who_sees_the_audit(world, audited, persona, status):
    _first, second = audited
    for name in ("api:assessment-report-pdf", "api:assessment-report-xlsx"):
        response = world.client(persona).get(reverse(name, args=[second.pk]))
        assert response.status_code == status


def test_an_open_audit_reports_a_marked_preview(world):
    draft = assessment_create(factory=world.factory_b)
    answer_all(draft)
    text = pdf_text(
        world.client("staff").get(reverse("api:assessment-report-pdf", args=[draft.pk])).content
    )
    assert "PREVIEW, not final" in text


def test_portfolio_scorecards_xlsx_has_the_trend_and_respects_scope(world, audited):
    _first, second = audited
    staff = workbook(world.client("staff").get(reverse("api:portfolio-scorecards-xlsx")).content)
    rows = {row[0]: row for row in list(staff["Scorecards"].values)[1:]}
    assert set(rows) == {"alpha-plant", "beta-app"}
    alpha = rows["alpha-plant"]
    assert alpha[6] == second.result["overall"]["index"] and alpha[7] == "Established"
    assert alpha[10] is not None and alpha[12] == round(
        second.result["overall"]["index"] - alpha[11], 2
    )
    assert all(v is None for v in rows["beta-app"][4:])  # never audited: empty cells
    member = workbook(
        world.client("member_b").get(reverse("api:portfolio-scorecards-xlsx")).content
    )
    assert [row[0] for row in list(member["Scorecards"].values)[1:]] == ["beta-app"]


def test_pages_link_the_reports(client, world, audited):
    _first, second = audited
    client.force_login(world.users["owner_a"])
    scorecard = client.get(reverse("scorecard", args=["alpha-plant"])).content.decode()
    detail = client.get(reverse("assessment-detail", args=[second.pk])).content.decode()
    for page in (scorecard, detail):
        assert reverse("api:assessment-report-pdf", args=[second.pk]) in page
        assert reverse("api:assessment-report-xlsx", args=[second.pk]) in page
    assert reverse("api:portfolio-scorecards-xlsx") in scorecard
    assert 'id="trend"' in scorecard and "Developing" in scorecard
    assert "Data used: adoptions = 0; on_adopt_ring = 0" in detail


def test_the_export_writer_neutralises_every_formula_start():
    body = xlsx_bytes(
        {"Cells": (["value"], [[t] for t in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "ok"]])}
    )
    values = [row[0] for row in list(workbook(body)["Cells"].values)[1:]]
    # (XML reads a carriage return back as a line feed; the quote in front is what matters.)
    assert values[:5] == ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx"]
    assert values[5].startswith("'") and values[6] == "ok"
