"""Reading and checking uploaded tables (CSV or the first sheet of an XLSX), framework-free.

A table is read into ``(row number, {column: value})`` pairs — row numbers as a
spreadsheet shows them (the header is row 1) — and each format's columns are parsed by
small typed parsers that raise ``ValueError`` with the problem. Every bad cell becomes one
``row N: column: problem`` line; the caller rejects the whole file when there is any.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

XLSX_MAGIC = b"PK\x03\x04"


class TableError(ValueError):
    """The file cannot be read as a table at all (wrong type, no header, bad encoding)."""


@dataclass(frozen=True)
class RowError:
    """One problem of one row: ``row N: column: problem``."""

    row: int
    column: str
    problem: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.column}: {self.problem}"


def read_table(data: bytes, name: str = "") -> list[tuple[int, dict]]:
    """Rows of a CSV (UTF-8, optional BOM, comma or semicolon) or XLSX file, header = row 1.

    Blank rows are skipped; column names are stripped and lower-cased.
    """
    if data.startswith(XLSX_MAGIC) or name.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError("not UTF-8 text (CSV) nor an XLSX workbook") from exc
    return rows_of_csv(text)


def rows_of_csv(text: str) -> list[tuple[int, dict]]:
    """Rows of CSV text, header = row 1."""
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise TableError("the file is empty") from None
    except csv.Error as exc:
        raise TableError(f"not a CSV file: {exc}") from exc
    return _rows(header, ((reader.line_num, values) for values in reader))


def _read_xlsx(data: bytes) -> list[tuple[int, dict]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for a broken file
        raise TableError(f"not a readable XLSX workbook: {exc}") from exc
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    try:
        header = next(values)
    except StopIteration:
        raise TableError("the first sheet is empty") from None
    rows = _rows(
        ["" if h is None else str(h) for h in header],
        ((number, list(row)) for number, row in enumerate(values, start=2)),
    )
    book.close()
    return rows


class Rows(list):
    """``(row number, {column: value})`` pairs that remember the header's columns."""

    columns: list[str]


def _rows(header: list, numbered: Iterable[tuple[int, list]]) -> Rows:
    columns = [str(h).strip().lower() for h in header]
    if not any(columns):
        raise TableError("no header row")
    rows = Rows()
    rows.columns = columns
    for number, values in numbered:
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        rows.append((number, dict(zip(columns, values, strict=False))))
    return rows


def require_columns(rows: list[tuple[int, dict]], columns: Iterable[str]) -> list[str]:
    """The required columns missing from a file's header (JSON rows are checked per row)."""
    if not isinstance(rows, Rows):
        return []
    present = set(rows.columns)
    return [c for c in columns if c not in present]


# --- cell parsers -------------------------------------------------------------------------


def text(value, limit: int = 200, required: bool = False) -> str:
    result = "" if value is None else str(value).strip()
    if required and not result:
        raise ValueError("required")
    if len(result) > limit:
        raise ValueError(f"longer than {limit} characters")
    return result


def moment(value) -> datetime:
    """An aware datetime from ISO 8601 text or a spreadsheet datetime (naive = UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        raw = text(value, 40, required=True)
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 date-time: {raw!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def day(value) -> date:
    """A date from ``YYYY-MM-DD`` or a spreadsheet date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = text(value, 40, required=True)
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {raw!r}") from None


def number(value, *, minimum: float = 0.0) -> float:
    try:
        result = float(value)  # str, int and float alike; surrounding blanks are fine
    except (TypeError, ValueError):
        if value is None or str(value).strip() == "":
            raise ValueError("required") from None
        raise ValueError(f"not a number: {str(value).strip()[:40]!r}") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    if result < minimum:
        raise ValueError(f"must be at least {minimum:g}")
    return result


def count(value) -> int:
    result = number(value)
    if result != int(result):
        raise ValueError("must be a whole number")
    return int(result)


def money(value) -> Decimal:
    raw = str(value).strip() if value is not None else ""
    if not raw:
        raise ValueError("required")
    try:
        result = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"not an amount: {raw!r}") from None
    if not result.is_finite() or result < 0:
        raise ValueError("must be a non-negative amount")
    if result != result.quantize(Decimal("0.01")):
        raise ValueError("at most two decimals")
    if result >= Decimal("1e14"):
        raise ValueError("too large")
    return result.quantize(Decimal("0.01"))


def currency(value) -> str:
    result = text(value, 3).upper()
    if result and (len(result) != 3 or not result.isalpha()):
        raise ValueError("an ISO 4217 code such as EUR")
    return result


def choice(options: tuple[str, ...]) -> Callable:
    def parse(value) -> str:
        result = text(value, 40, required=True).lower()
        if result not in options:
            raise ValueError(f"one of {', '.join(options)}")
        return result

    return parse
