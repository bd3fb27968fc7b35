"""The one reader for every CSV and XLSX table the product accepts, with bounded cost.

Registry and adoption imports, licence exports, metrics, counters, finance and device
uploads, the upload page and ``/api/ingest/*`` bodies all come through :func:`read_table`.
A table is read into ``(row number, {column: value})`` pairs — row numbers as a
spreadsheet shows them (the header is row 1) — while limits on bytes, rows, columns,
cells and cell length are enforced *as it is read*, so a hostile file costs at most the
limits, never its own size:

* CSV is decoded incrementally (UTF-8 with or without BOM, UTF-16 with BOM, else
  Windows-1252) and parsed row by row.
* XLSX: the archive's entry count, declared uncompressed size and compression ratio are
  checked from its central directory before anything is unpacked (Python's zipfile never
  inflates an entry past its declared size); the shared strings and the sheets are then
  counted (strings, rows, cells: a regex count as each part inflates, no XML parsing),
  and only then is the first sheet parsed streaming by openpyxl's read-only parser, row
  by row, without padding gaps.

Limits come from settings (``TABLE_*`` and ``XLSX_*``, see ``coe/settings.py``). Going
over one raises :class:`TableTooLarge` (the API answers 413); an unreadable file raises
:class:`TableError` (400). Cell values stay as the file has them (text for CSV; numbers,
dates and text for XLSX): each format's columns are parsed by its own cell parsers.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import io
import itertools
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

XLSX_MAGIC = b"PK\x03\x04"
XLSX_SUFFIXES = (".xlsx", ".xlsm")
SAMPLE_BYTES = 64 * 1024
READ_CHUNK = 64 * 1024


class TableError(ValueError):
    """The file cannot be read as a table at all (wrong type, no header, bad encoding)."""


class TableTooLarge(TableError):
    """The file goes over one of the reading limits (bytes, rows, columns, cells, archive)."""


@dataclass(frozen=True)
class RowError:
    """One problem of one row: ``row N: column: problem``."""

    row: int
    column: str
    problem: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.column}: {self.problem}"


@dataclass(frozen=True)
class TableLimits:
    """What one table may cost; :func:`limits` reads them from settings."""

    max_bytes: int = 10 * 1024 * 1024
    max_rows: int = 100_000
    max_columns: int = 100
    max_cells: int = 2_000_000
    max_cell_chars: int = 10_000
    xlsx_max_entries: int = 1_000
    xlsx_max_uncompressed_bytes: int = 64 * 1024 * 1024
    xlsx_max_ratio: int = 100


def limits() -> TableLimits:
    """The limits configured in settings (``TABLE_MAX_*``, ``XLSX_MAX_*``)."""
    from django.conf import settings

    return TableLimits(
        max_bytes=settings.TABLE_MAX_BYTES,
        max_rows=settings.TABLE_MAX_ROWS,
        max_columns=settings.TABLE_MAX_COLUMNS,
        max_cells=settings.TABLE_MAX_CELLS,
        max_cell_chars=settings.TABLE_MAX_CELL_CHARS,
        xlsx_max_entries=settings.XLSX_MAX_ENTRIES,
        xlsx_max_uncompressed_bytes=settings.XLSX_MAX_UNCOMPRESSED_BYTES,
        xlsx_max_ratio=settings.XLSX_MAX_COMPRESSION_RATIO,
    )


class Rows(list):
    """``(row number, {column: value})`` pairs that remember the header's columns."""

    columns: list[str]


def rows_of_records(records: Iterable[Mapping[str, Any]]) -> Rows:
    """Rows built in code (a list of dicts) numbered as a file's would be (from row 2)."""
    rows = Rows()
    columns: dict[str, None] = {}
    for number, record in enumerate(records, start=2):
        values = {str(k).strip().lower(): v for k, v in record.items()}
        columns.update(dict.fromkeys(values))
        rows.append((number, values))
    rows.columns = list(columns)
    return rows


def require_columns(rows: list[tuple[int, dict]], columns: Iterable[str]) -> list[str]:
    """The required columns missing from a file's header (JSON rows are checked per row)."""
    if not isinstance(rows, Rows):
        return []
    present = set(rows.columns)
    return [c for c in columns if c not in present]


def read_table(
    source: bytes | str | Path | IO[bytes],
    name: str = "",
    *,
    bounds: TableLimits | None = None,
) -> Rows:
    """Rows of a CSV (comma or semicolon) or of the first sheet of an XLSX, header = row 1.

    ``source`` is the file's bytes, a path, or a binary file object (an upload is read
    from its temporary file, never copied whole into memory). Blank rows are skipped;
    column names are stripped and lower-cased. Raises :class:`TableTooLarge` or
    :class:`TableError`.
    """
    bounds = bounds or limits()
    if isinstance(source, str | Path):
        name = name or str(source)
        with open(source, "rb") as stream:
            return _read_stream(stream, name, bounds)
    if isinstance(source, bytes | bytearray):
        return _read_stream(io.BytesIO(source), name, bounds)
    return _read_stream(source, name, bounds)


@contextlib.contextmanager
def _collector_paused():
    """Reading builds up to ``max_rows`` acyclic dicts; the cyclic garbage collector would
    rescan the whole heap many times meanwhile (a threefold slowdown, measured) for
    nothing it could free. It is switched back on when reading ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_stream(stream: IO[bytes], name: str, bounds: TableLimits) -> Rows:
    with _collector_paused():
        return _read_any(stream, name, bounds)


def _read_any(stream: IO[bytes], name: str, bounds: TableLimits) -> Rows:
    if not _seekable(stream):
        stream = _spooled(stream, bounds.max_bytes)
    size = _size_of(stream)
    if size is not None and size > bounds.max_bytes:
        raise TableTooLarge(f"the file is larger than {bounds.max_bytes} bytes")
    head = stream.read(4)
    _rewind(stream, head)
    if head == XLSX_MAGIC:
        return _read_xlsx(stream, bounds)
    if name.lower().endswith(XLSX_SUFFIXES):
        raise TableError("not an XLSX workbook (the file is not a zip archive)")
    return _read_csv(_Capped(stream, bounds.max_bytes), bounds)


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _spooled(stream: IO[bytes], limit: int) -> IO[bytes]:
    """A request body copied chunk by chunk (in memory up to 1 MB, then a temporary file),
    refused as soon as it passes ``limit`` (an XLSX needs random access)."""
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 (returned open)
    seen = 0
    while chunk := stream.read(READ_CHUNK):
        seen += len(chunk)
        if seen > limit:
            spool.close()
            raise TableTooLarge(f"the file is larger than {limit} bytes")
        spool.write(chunk)
    spool.seek(0)
    return spool


def _size_of(stream: IO[bytes]) -> int | None:
    size = getattr(stream, "size", None)  # Django's UploadedFile
    if isinstance(size, int):
        return size
    try:
        position = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(position)
        return end - position
    except (AttributeError, OSError, ValueError):
        return None


def _rewind(stream: IO[bytes], head: bytes) -> None:
    try:
        stream.seek(-len(head), io.SEEK_CUR)
    except (AttributeError, OSError, ValueError) as exc:
        raise TableError("the file cannot be re-read (not seekable)") from exc


class _Capped(io.RawIOBase):
    """A binary stream that raises :class:`TableTooLarge` past ``limit`` bytes (for
    bodies whose size is not known up front)."""

    def __init__(self, raw: IO[bytes], limit: int):
        self.raw, self.limit, self.seen = raw, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        self.seen += len(data)
        if self.seen > self.limit:
            raise TableTooLarge(f"the file is larger than {self.limit} bytes")
        buffer[: len(data)] = data
        return len(data)


# --- CSV -----------------------------------------------------------------------------------


def _encoding(sample: bytes) -> str:
    """UTF-8 (BOM optional), UTF-16 or UTF-32 with a BOM, else Windows-1252."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _read_csv(stream: io.RawIOBase, bounds: TableLimits) -> Rows:
    buffered = io.BufferedReader(stream, READ_CHUNK)
    encoding = _encoding(buffered.peek(SAMPLE_BYTES)[:SAMPLE_BYTES])
    text = io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline="")
    try:
        first = text.readline()
        if not first:
            raise TableError("the file is empty")
        delimiter = ";" if first.count(";") > first.count(",") else ","
        reader = csv.reader(itertools.chain([first], text), delimiter=delimiter, strict=False)
        header = next(reader)
        if "\x00" in "".join(header):
            raise TableError("row 1: a NUL character; not a text (CSV) file")
        return _csv_rows(header, reader, bounds)
    except UnicodeDecodeError as exc:
        raise TableError(f"not {encoding} text ({exc.reason}); save the file as UTF-8") from exc
    except csv.Error as exc:
        raise TableError(f"not valid CSV: {exc}") from exc


def _csv_rows(header: list[str], reader, bounds: TableLimits) -> Rows:
    """The CSV twin of :func:`_rows`: every cell is text, so one join per row checks a
    row for blanks, NUL characters and long cells (this loop runs up to 100,000 times)."""
    rows = _header(header, bounds)
    columns, max_rows, max_columns = rows.columns, bounds.max_rows, bounds.max_columns
    max_cells, max_chars = bounds.max_cells, bounds.max_cell_chars
    cells = 0
    number = 1
    for number, values in enumerate(reader, start=2):  # noqa: B007 (read after the loop)
        if number - 1 > max_rows:
            raise TableTooLarge(f"more than {max_rows} rows")
        if len(values) > max_columns:
            raise TableTooLarge(f"row {number}: more than {max_columns} columns")
        joined = "".join(values)
        if "\x00" in joined:
            raise TableError(f"row {number}: a NUL character; not a text (CSV) file")
        if not joined.strip():
            continue
        if len(joined) > max_chars:
            for value in values:
                _cell_text(value, number, bounds)
        cells += len(values)
        if cells > max_cells:
            raise TableTooLarge(f"more than {max_cells} cells")
        rows.append((number, dict(zip(columns, values, strict=False))))
    return rows


# --- XLSX ----------------------------------------------------------------------------------


def _check_archive(archive: zipfile.ZipFile, bounds: TableLimits) -> None:
    """Entry count, declared uncompressed size and compression ratio, before unpacking."""
    entries = archive.infolist()
    if len(entries) > bounds.xlsx_max_entries:
        raise TableTooLarge(f"the workbook has more than {bounds.xlsx_max_entries} parts")
    total = 0
    for entry in entries:
        total += entry.file_size
        if total > bounds.xlsx_max_uncompressed_bytes:
            raise TableTooLarge(
                f"the workbook unpacks to more than {bounds.xlsx_max_uncompressed_bytes} bytes"
            )
        # Small parts (styles, themes) compress very well and cost nothing; a large part
        # that compresses far better than real sheet data does is a decompression bomb.
        if entry.file_size > 1024 * 1024 and entry.file_size > bounds.xlsx_max_ratio * max(
            entry.compress_size, 1
        ):
            raise TableTooLarge(
                f"the workbook part {entry.filename!r} is compressed more than "
                f"{bounds.xlsx_max_ratio}:1 (not ordinary sheet data)"
            )


# Element openers in SpreadsheetML, with an optional namespace prefix. No match holds a "<"
# past its first byte, which is what lets :func:`_count_tags` cut chunks at a "<".
_ROW = re.compile(rb"<(?:\w{1,20}:)?row[\s>/]")
_CELL = re.compile(rb"<(?:\w{1,20}:)?c[\s>/]")
_STRING = re.compile(rb"<(?:\w{1,20}:)?si[\s>/]")
_SCAN_CHUNK = 1024 * 1024


def _count_tags(source: IO[bytes], patterns: list[re.Pattern]) -> list[int]:
    """How often each pattern occurs in an archive part, counted by the regex engine on
    1 MB chunks as the part inflates: a cheap look at the rows and cells a sheet holds
    before openpyxl parses any of them."""
    counts = [0] * len(patterns)
    carry = b""
    while chunk := source.read(_SCAN_CHUNK):
        data = carry + chunk
        cut = data.rfind(b"<")
        # A tag opener that may be cut short waits for the next chunk; a long tail after
        # the last "<" cannot hide one.
        if cut == -1 or len(data) - cut > 64:
            head, carry = data, b""
        else:
            head, carry = data[:cut], data[cut:]
        for i, pattern in enumerate(patterns):
            counts[i] += len(pattern.findall(head))
    for i, pattern in enumerate(patterns):
        counts[i] += len(pattern.findall(carry))
    return counts


def _prescan(archive: zipfile.ZipFile, bounds: TableLimits) -> None:
    """Refuse shared strings with more strings than a table may have cells, and any sheet
    with more rows or cells than the limits — every sheet, since opening a workbook walks
    each sheet's XML once (openpyxl looks for its dimensions)."""
    for entry in archive.infolist():
        name = entry.filename.lower()
        if name.endswith("sharedstrings.xml"):
            with archive.open(entry) as source:
                (strings,) = _count_tags(source, [_STRING])
            if strings > bounds.max_cells:
                raise TableTooLarge(f"more than {bounds.max_cells} cells (shared strings)")
        elif "worksheets/" in name and name.endswith(".xml"):
            with archive.open(entry) as source:
                rows, cells = _count_tags(source, [_ROW, _CELL])
            if rows > bounds.max_rows + 1:  # the header row is not counted against the limit
                raise TableTooLarge(f"more than {bounds.max_rows} rows")
            if cells > bounds.max_cells + bounds.max_columns:
                raise TableTooLarge(f"more than {bounds.max_cells} cells")


def _read_xlsx(stream: IO[bytes], bounds: TableLimits) -> Rows:
    from openpyxl import load_workbook
    from openpyxl.worksheet._reader import WorkSheetParser

    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise TableError(f"not a readable XLSX workbook: {exc}") from exc
    with archive:
        _check_archive(archive, bounds)
        _prescan(archive, bounds)
        stream.seek(0)
        try:
            book = load_workbook(stream, read_only=True, data_only=True)
        except TableError:
            raise
        except Exception as exc:  # openpyxl raises several kinds for a broken file
            raise TableError(f"not a readable XLSX workbook: {exc}") from exc
    try:
        if not book.worksheets:
            raise TableError("the workbook has no sheet")
        sheet = book.worksheets[0]
        # The read-only worksheet pads rows to the sheet's declared width and fills gaps
        # between row numbers with empty rows; its parser yields only the rows and cells
        # the file holds, so a cell at XFD1048576 costs one cell, not a billion.
        try:
            with sheet._get_source() as source:
                parser = WorkSheetParser(
                    source,
                    sheet._shared_strings,
                    data_only=True,
                    epoch=book.epoch,
                    date_formats=book._date_formats,
                    timedelta_formats=book._timedelta_formats,
                )
                cells = _xlsx_rows(parser.parse(), bounds)
                header = next(cells, None)
                if header is None:
                    raise TableError("the first sheet is empty")
                names = ["" if h is None else str(h) for h in header[1]]
                return _rows(names, cells, bounds)
        except TableError:
            raise
        except Exception as exc:  # a malformed sheet part (bad XML, bad cell reference)
            raise TableError(f"not a readable XLSX workbook: {exc}") from exc
    finally:
        book.close()


def _xlsx_rows(parsed: Iterator[tuple[int, list]], bounds: TableLimits):
    for number, cells in parsed:
        if not cells:
            continue
        width = max(cell["column"] for cell in cells)
        if width > bounds.max_columns:
            raise TableTooLarge(f"row {number}: more than {bounds.max_columns} columns")
        values: list = [None] * width
        for cell in cells:
            values[cell["column"] - 1] = cell["value"]
        yield number, values


# --- rows ----------------------------------------------------------------------------------


def _header(header: list, bounds: TableLimits) -> Rows:
    if len(header) > bounds.max_columns:
        raise TableTooLarge(f"row 1: more than {bounds.max_columns} columns")
    columns = [_cell_text(str(h), 1, bounds).strip().lower() for h in header]
    if not any(columns):
        raise TableError("no header row")
    rows = Rows()
    rows.columns = columns
    return rows


def _rows(header: list, numbered: Iterable[tuple[int, list]], bounds: TableLimits) -> Rows:
    rows = _header(header, bounds)
    columns = rows.columns
    cells = 0
    for number, values in numbered:
        # Blank rows count too: a file of a million empty lines is refused, not walked.
        if number - 1 > bounds.max_rows:
            raise TableTooLarge(f"more than {bounds.max_rows} rows")
        if len(values) > bounds.max_columns:
            raise TableTooLarge(f"row {number}: more than {bounds.max_columns} columns")
        if all(v is None or (isinstance(v, str) and v.strip() == "") for v in values):
            continue
        cells += len(values)
        if cells > bounds.max_cells:
            raise TableTooLarge(f"more than {bounds.max_cells} cells")
        for value in values:
            if isinstance(value, str):
                _cell_text(value, number, bounds)
        rows.append((number, dict(zip(columns, values, strict=False))))
    return rows


def _cell_text(value: str, number: int, bounds: TableLimits) -> str:
    if len(value) > bounds.max_cell_chars:
        raise TableError(f"row {number}: a cell longer than {bounds.max_cell_chars} characters")
    if "\x00" in value:
        raise TableError(f"row {number}: a NUL character")
    return value
