"""The one export writer: formula cells neutralised, numbers and dates kept as they are."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
from django.test import Client

from coe.exports import csv_bytes, csv_response, xlsx_bytes, xlsx_response

HEADER = ["name", "cost", "since", "note"]
ROWS = [
    ['=HYPERLINK("http://evil")', Decimal("-12.50"), dt.date(2024, 1, 2), None],
    {"name": "+cmd", "cost": -3, "since": dt.datetime(2024, 1, 2, 8, 30, tzinfo=dt.UTC)},
    ["@SUM(A1)", 4.5, None, "\tindent"],
    ["GitLab", 0, None, "-"],
]


def test_csv_neutralises_text_formulas_and_keeps_numbers():
    text = csv_bytes(HEADER, ROWS).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == HEADER
    assert rows[1] == ['\'=HYPERLINK("http://evil")', "-12.50", "2024-01-02", ""]
    assert rows[2][:2] == ["'+cmd", "-3"]
    assert rows[3] == ["'@SUM(A1)", "4.5", "", "'\tindent"]
    assert rows[4] == ["GitLab", "0", "", "'-"]


def test_xlsx_sheets_keep_types_and_neutralise_formulas():
    data = xlsx_bytes({"tools": (HEADER, ROWS), "a/b:c?" * 10: (["x"], [[1]])})
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["tools", ("a_b_c_" * 10)[:31]]
    values = [[c.value for c in row] for row in book["tools"].iter_rows()]
    assert values[1][0] == '\'=HYPERLINK("http://evil")'
    assert values[1][1] == -12.5 and values[2][1] == -3
    assert values[1][2] == dt.datetime(2024, 1, 2)
    assert values[2][2] == dt.datetime(2024, 1, 2, 8, 30)  # UTC wall-clock time
    assert values[3][0] == "'@SUM(A1)"
    formulas = [c for row in book["tools"].iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []


def test_responses_are_attachments():
    response = csv_response('a"b.csv', ["x"], [[1]])
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="ab.csv"'
    response = xlsx_response("t.xlsx", {"t": (["x"], [[1]])})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert openpyxl.load_workbook(io.BytesIO(response.content)).active["A2"].value == 1


def test_counters_pushed_with_a_formula_line_are_neutralised_in_the_kpi_csv(world):
    today = dt.datetime.now(dt.UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    row = {
        "factory": "alpha-plant",
        "line": '=HYPERLINK("http://evil","x")',
        "period_start": today.isoformat(),
        "period_end": (today + dt.timedelta(hours=8)).isoformat(),
        "planned_time_s": 3600,
        "run_time_s": 3000,
        "ideal_cycle_time_s": 2,
        "total_count": 1000,
        "good_count": 990,
    }
    response = world.client("member_a").post("/api/ingest/counters/", [row], format="json")
    assert response.status_code == 200, response.content
    client = Client()
    client.force_login(world.users["member_a"])
    text = client.get("/factories/alpha-plant/kpis.csv").content.decode()
    lines = [r["line"] for r in csv.DictReader(io.StringIO(text))]
    assert '\'=HYPERLINK("http://evil","x")' in lines
    assert not any(line.startswith("=") for line in lines)
