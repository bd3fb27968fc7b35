"""The one writer for every CSV and XLSX file the product hands out.

Every text cell a spreadsheet would read as a formula (starting with ``= + - @``, a tab or
a carriage return) gets a leading apostrophe, so a value someone typed or pushed
(``=HYPERLINK(…)`` as a tool description or a counter's line) is shown, never run.
Numbers, dates and booleans keep their type: ``-3`` stays the number -3.

Rows are sequences in header order, or mappings read by the header's keys (a missing key
or ``None`` is an empty cell). Usage::

    csv_response("alpha-kpis.csv", ["month", "oee"], rows)
    xlsx_response("tools.xlsx", {"tools": (header, rows)})
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Row = Sequence[Any] | Mapping[str, Any]
Sheet = tuple[Sequence[str], Iterable[Row]]


def neutralise(value: Any) -> Any:
    """``"=HYPERLINK(…)"`` → ``"'=HYPERLINK(…)"``; numbers and other text unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cells(header: Sequence[str], row: Row) -> list[Any]:
    values = [row.get(key) for key in header] if isinstance(row, Mapping) else list(row)
    return [neutralise(v) for v in values]


def _csv_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (str, bool, int, float, Decimal, dt.date, dt.time)):
        return value
    return neutralise(str(value))


def _xlsx_value(value: Any) -> Any:
    """A value openpyxl stores with its type; anything else as its text, neutralised."""
    if value is None or isinstance(value, (str, bool, int, float, Decimal)):
        return value
    if isinstance(value, dt.datetime):
        # Excel has no time zones: the wall-clock time in UTC.
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, (dt.date, dt.time)):
        return value
    return neutralise(str(value))


def csv_bytes(header: Sequence[str], rows: Iterable[Row]) -> bytes:
    """A header line and the rows as UTF-8 CSV, formula cells neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([_csv_text(v) for v in _cells(header, row)])
    return buffer.getvalue().encode("utf-8")


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Row]) -> HttpResponse:
    """An attachment download of :func:`csv_bytes`."""
    return _attachment(csv_bytes(header, rows), CSV_CONTENT_TYPE, filename)


def xlsx_bytes(sheets: Mapping[str, Sheet]) -> bytes:
    """A workbook with one sheet per entry (name → (header, rows)), written streaming."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for name, (header, rows) in sheets.items():
        sheet = workbook.create_sheet(title=_sheet_title(name))
        sheet.append([neutralise(h) for h in header])
        for row in rows:
            sheet.append([_xlsx_value(v) for v in _cells(header, row)])
    if not sheets:
        workbook.create_sheet(title="Sheet")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_response(filename: str, sheets: Mapping[str, Sheet]) -> HttpResponse:
    """An attachment download of :func:`xlsx_bytes`."""
    return _attachment(xlsx_bytes(sheets), XLSX_CONTENT_TYPE, filename)


def _sheet_title(name: str) -> str:
    # Excel allows 31 characters and none of []:*?/\ in a sheet name.
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in name).strip("'")
    return (cleaned or "Sheet")[:31]


def _attachment(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    safe_name = "".join(c for c in filename if c.isprintable() and c not in '"\\')
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response
