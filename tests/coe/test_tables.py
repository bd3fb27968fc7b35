"""The one table reader: encodings, row numbers, and limits enforced while reading."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile

import openpyxl
import pytest

from coe.tables import (
    TableError,
    TableLimits,
    TableTooLarge,
    read_table,
    require_columns,
    rows_of_records,
)

SMALL = TableLimits(
    max_bytes=10_000,
    max_rows=5,
    max_columns=4,
    max_cells=12,
    max_cell_chars=20,
    xlsx_max_entries=20,
    xlsx_max_uncompressed_bytes=200_000,
    xlsx_max_ratio=100,
)


def xlsx(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_of(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them_and_blank_rows_skipped():
    rows = read_table(b" Name ;Seats\nJenkins;3\n\n;\nGitLab;\n", "t.csv")
    assert rows.columns == ["name", "seats"]
    assert rows == [(2, {"name": "Jenkins", "seats": "3"}), (5, {"name": "GitLab", "seats": ""})]
    assert require_columns(rows, ["name", "cost"]) == ["cost"]


def test_a_quoted_cell_with_a_newline_is_one_row():
    rows = read_table(b'name,description\nJenkins,"two\nlines"\nGitLab,x\n')
    assert [n for n, _ in rows] == [2, 3]
    assert rows[0][1]["description"] == "two\nlines"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("name\nMünchen\n".encode("utf-8-sig"), "München"),
        ("name\nMünchen\n".encode("utf-16"), "München"),
        ("name\nMünchen\n".encode("utf-32"), "München"),
        ("name\nMünchen – €\n".encode("cp1252"), "München – €"),
        ("name\nMünchen\n".encode(), "München"),
    ],
    ids=["utf-8 BOM", "utf-16 BOM", "utf-32 BOM", "cp1252", "utf-8"],
)
def test_encodings_are_detected(data, expected):
    assert read_table(data, "t.csv")[0][1]["name"] == expected


def test_utf8_that_turns_invalid_after_the_sample_is_a_clear_error():
    data = b"name\n" + b"a\n" * 40_000 + b"\xff\xfe broken\n"
    with pytest.raises(TableError, match="not utf-8 text"):
        read_table(data, "t.csv", bounds=TableLimits(max_rows=100_000))


def test_a_nul_byte_in_a_csv_is_refused():
    with pytest.raises(TableError, match="NUL"):
        read_table(b"name\nJen\x00kins\n", "t.csv")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"x" * 10_001, "larger than 10000 bytes"),
        (b"a\n" + b"1\n" * 6, "more than 5 rows"),
        (b"a\n" + b"\n" * 6, "more than 5 rows"),
        (b"a,b,c,d,e\n1\n", "row 1: more than 4 columns"),
        (b"a\n1,2,3,4,5\n", "row 2: more than 4 columns"),
        (b"a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1\n", "more than 12 cells"),
    ],
    ids=["bytes", "rows", "blank rows", "header columns", "row columns", "cells"],
)
def test_limits_are_enforced_while_reading(data, message):
    with pytest.raises(TableTooLarge, match=message):
        read_table(data, "t.csv", bounds=SMALL)


def test_a_long_cell_is_an_error_with_its_row():
    with pytest.raises(TableError, match="row 3: a cell longer than 20 characters"):
        read_table(b"a\nshort\n" + b"x" * 21 + b"\n", "t.csv", bounds=SMALL)


def test_a_stream_of_unknown_size_stops_at_the_byte_limit():
    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.left = 50_000

        def readable(self):
            return True

        def readinto(self, buffer):
            n = min(len(buffer), self.left)
            buffer[:n] = b"1\n" * (n // 2) + b"1" * (n % 2)
            self.left -= n
            return n

    with pytest.raises(TableTooLarge, match="larger than 10000 bytes"):
        read_table(Unseekable(), "body.csv", bounds=SMALL)


def test_ten_megabytes_of_one_cell_rows_are_refused_quickly_at_the_row_limit():
    data = b"value\n" + b"1\n" * 5_000_000
    started = time.perf_counter()
    with pytest.raises(TableTooLarge, match="more than 100000 rows"):
        read_table(data, "t.csv", bounds=TableLimits(max_bytes=11 * 1024 * 1024))
    assert time.perf_counter() - started < 2


def test_xlsx_values_keep_their_types_and_row_numbers():
    data = xlsx([["Name", "Seats", "Since"], ["Jenkins", 3, dt.date(2024, 1, 2)], [], ["GitLab"]])
    rows = read_table(data, "t.xlsx")
    assert rows.columns == ["name", "seats", "since"]
    assert rows[0] == (2, {"name": "Jenkins", "seats": 3, "since": dt.datetime(2024, 1, 2)})
    assert rows[1] == (4, {"name": "GitLab"})


def test_an_xlsx_from_a_path_and_a_file_object(tmp_path):
    path = tmp_path / "t.xlsx"
    path.write_bytes(xlsx([["name"], ["Jenkins"]]))
    assert read_table(path)[0][1] == {"name": "Jenkins"}
    with open(path, "rb") as handle:
        assert read_table(handle, "t.xlsx")[0][1] == {"name": "Jenkins"}


def test_a_non_zip_xlsx_is_a_clear_error():
    with pytest.raises(TableError, match="not an XLSX workbook"):
        read_table(b"name\nJenkins\n", "tools.xlsx")


def test_a_zip_that_is_not_a_workbook_is_a_clear_error():
    with pytest.raises(TableError, match="not a readable XLSX workbook"):
        read_table(zip_of({"hello.txt": b"hi"}), "t.xlsx")


def test_an_archive_with_too_many_entries_is_refused_before_unpacking():
    parts = {f"x/{i}.xml": b"<a/>" for i in range(21)}
    with pytest.raises(TableTooLarge, match="more than 20 parts"):
        read_table(zip_of(parts), "t.xlsx", bounds=SMALL)


def test_an_archive_that_unpacks_too_large_is_refused_before_unpacking():
    with pytest.raises(TableTooLarge, match="unpacks to more than 200000 bytes"):
        read_table(zip_of({"xl/worksheets/sheet1.xml": b" " * 200_001}), "t.xlsx", bounds=SMALL)


def test_a_highly_compressed_part_is_refused_as_a_bomb():
    limits = TableLimits(xlsx_max_uncompressed_bytes=100 * 1024 * 1024)
    bomb = zip_of({"xl/worksheets/sheet1.xml": b"<row><c><v>1</v></c></row>" * 100_000})
    with pytest.raises(TableTooLarge, match="compressed more than 100:1"):
        read_table(bomb, "t.xlsx", bounds=limits)


def test_xlsx_cells_far_away_cost_one_cell_and_wide_rows_are_refused():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"] = "name"
    sheet["A2"] = "Jenkins"
    sheet["A900000"] = "far"
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(TableTooLarge, match="more than 5 rows"):
        read_table(buffer.getvalue(), "t.xlsx", bounds=SMALL)
    sheet["A900000"] = None
    sheet["XFD2"] = "wide"
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(TableTooLarge, match="row 2: more than 4 columns"):
        read_table(buffer.getvalue(), "t.xlsx", bounds=SMALL)


def test_an_empty_file_and_a_file_without_header_are_errors():
    with pytest.raises(TableError, match="empty"):
        read_table(b"", "t.csv")
    with pytest.raises(TableError, match="no header row"):
        read_table(b",,\n1,2,3\n", "t.csv")


def test_rows_built_in_code_are_numbered_like_a_file():
    rows = rows_of_records([{"Name": "Jenkins"}, {"name": "GitLab", "seats": 3}])
    assert rows == [(2, {"name": "Jenkins"}), (3, {"name": "GitLab", "seats": 3})]
    assert rows.columns == ["name", "seats"]


def test_rows_and_cells_are_counted_across_chunk_boundaries():
    from coe.tables import _CELL, _ROW, _count_tags

    xml = b'<x:sheetData><x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>'
    xml += b"<row><c><v>2</v></c><c/></row><rowBreaks/><col/>" * 3 + b"<row/>"

    class Trickle(io.RawIOBase):
        def __init__(self, data, step):
            self.data, self.step = data, step

        def readable(self):
            return True

        def read(self, size=-1):
            chunk, self.data = self.data[: self.step], self.data[self.step :]
            return chunk

    for step in (1, 2, 3, 5, 7, 64, 10_000):
        assert _count_tags(Trickle(xml, step), [_ROW, _CELL]) == [5, 7], step


def test_an_xlsx_over_the_row_limit_is_refused_before_parsing(monkeypatch):
    import openpyxl.worksheet._reader as reader

    def never(*args, **kwargs):
        raise AssertionError("the sheet was parsed")

    data = xlsx([["value"]] + [[i] for i in range(6)])
    monkeypatch.setattr(reader.WorkSheetParser, "parse", never)
    monkeypatch.setattr(reader.WorkSheetParser, "parse_dimensions", never)
    with pytest.raises(TableTooLarge, match="more than 5 rows"):
        read_table(data, "t.xlsx", bounds=SMALL)
    with pytest.raises(TableTooLarge, match="more than 12 cells"):
        read_table(xlsx([["a", "b", "c", "d"]] + [[1, 2, 3, 4]] * 4), "t.xlsx", bounds=SMALL)
