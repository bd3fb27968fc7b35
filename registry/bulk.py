"""Bulk writes in a fixed number of statements, portable across SQLite and PostgreSQL.

Django's ``bulk_create``/``bulk_update`` split rows into batches (SQLite's parameter limit)
and compile every value through the query compiler; for 10⁵ rows that is both more
statements and most of the time. Here each call is one statement: ``COPY … FROM STDIN`` on
PostgreSQL for inserts (the PostgreSQL-only speed-up, kept in this one module), one
``executemany`` otherwise; values are prepared by the model fields themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model


def _prepare(model: type[Model], names: Sequence[str]):
    fields = [model._meta.get_field(name) for name in names]
    return fields, connection.ops.quote_name


def _rows(fields, objs: Iterable[Model], extra=None) -> list[list]:
    """Database values of ``objs``; a value repeated in a column (a timestamp, a factory,
    a status) is prepared once."""
    caches: list[dict] = [{} for _ in fields]
    rows = []
    for obj in objs:
        row = []
        for field, cache in zip(fields, caches, strict=True):
            value = getattr(obj, field.attname)
            try:
                prepared = cache[value]
            except KeyError:
                prepared = cache[value] = field.get_db_prep_save(value, connection)
            except TypeError:  # unhashable (JSON)
                prepared = field.get_db_prep_save(value, connection)
            row.append(prepared)
        if extra is not None:
            row.append(extra(obj))
        rows.append(row)
    return rows


def insert_many(model: type[Model], objs: Iterable[Model], names: Sequence[str]) -> None:
    """``INSERT`` the ``names`` fields of ``objs`` (ids come from the database)."""
    fields, qn = _prepare(model, names)
    rows = _rows(fields, objs)
    if not rows:
        return
    table = qn(model._meta.db_table)
    columns = ", ".join(qn(f.column) for f in fields)
    if connection.vendor == "postgresql":
        _copy(f"COPY {table} ({columns}) FROM STDIN", rows)
        return
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def _copy(statement: str, rows: list) -> None:
    """PostgreSQL only: ``COPY … FROM STDIN`` (the fastest bulk insert, one statement)."""
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def update_many(model: type[Model], objs: Iterable[Model], names: Sequence[str]) -> None:
    """``UPDATE`` the ``names`` fields of ``objs`` by primary key."""
    fields, qn = _prepare(model, names)
    rows = _rows(fields, objs, extra=lambda obj: obj.pk)
    if not rows:
        return
    assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    pk = qn(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {qn(model._meta.db_table)} SET {assignments} WHERE {pk} = %s", rows
        )


def insert_pairs(table: str, columns: tuple[str, str], rows: list[tuple[int, int]]) -> None:
    """Rows of a many-to-many table."""
    if not rows:
        return
    qn = connection.ops.quote_name
    if connection.vendor == "postgresql":
        _copy(f"COPY {qn(table)} ({qn(columns[0])}, {qn(columns[1])}) FROM STDIN", rows)
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {qn(table)} ({qn(columns[0])}, {qn(columns[1])}) VALUES (%s, %s)", rows
        )


def delete_where(table: str, column: str, values: list[int]) -> None:
    """``DELETE FROM table WHERE column = value`` for every value, in one batch."""
    if not values:
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.executemany(
            f"DELETE FROM {qn(table)} WHERE {qn(column)} = %s", [(v,) for v in values]
        )
