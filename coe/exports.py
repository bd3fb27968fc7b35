"""The one XLSX export writer: sheets of rows in, workbook bytes out.

Text that a spreadsheet would read as a formula (a cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is neutralised with a leading apostrophe-like quote
prefix, so an exported value can never run as a formula (CSV/formula injection).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SHEET_TITLE_MAX = 31
INVALID_TITLE_CHARS = str.maketrans({c: " " for c in "[]:*?/\\"})


def safe_cell(value):
    """A value fit for a cell: text that could start a formula is prefixed with a quote;
    numbers, dates and booleans stay typed; anything else becomes text."""
    if value is None or isinstance(value, bool | int | float | dt.date | dt.datetime):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple | set):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def xlsx_bytes(sheets: dict[str, tuple[list[str], list[list]]]) -> bytes:
    """A workbook with one sheet per entry ``{title: (header, rows)}``, in order; the header
    row is frozen and columns are sized to their content (up to 60 characters)."""
    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for title, (header, rows) in sheets.items():
        name = (title.translate(INVALID_TITLE_CHARS).strip() or "Sheet")[:SHEET_TITLE_MAX]
        base, n = name, 2
        while name.lower() in used:
            suffix = f" ({n})"
            name, n = base[: SHEET_TITLE_MAX - len(suffix)] + suffix, n + 1
        used.add(name.lower())
        sheet = book.create_sheet(name)
        sheet.append([safe_cell(h) for h in header])
        widths = [len(str(h)) for h in header]
        for row in rows:
            cells = [safe_cell(v) for v in row]
            sheet.append(cells)
            for i, cell in enumerate(cells[: len(widths)]):
                widths[i] = max(widths[i], min(len(str(cell)) if cell is not None else 0, 60))
        sheet.freeze_panes = "A2"
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(width + 2, 8)
    if not book.sheetnames:
        book.create_sheet("Empty")
    out = BytesIO()
    book.save(out)
    return out.getvalue()
