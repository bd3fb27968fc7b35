"""The project's one bulk-write module: inserts, upserts and updates in a fixed number of
statements, portable across SQLite and PostgreSQL, and returning the ids they wrote.

Every bulk writer (the registry's importers and duplicate detection, the connectors'
table imports, fact ingest and device ingest) writes through here, so callers that need
the ids of what they wrote (a change log, links to new rows) get them back instead of
re-finding rows by a timestamp.

- :func:`insert` and :func:`upsert` take model instances, set their primary keys and
  return the ids in the order given. Small sets go through Django's ``bulk_create``,
  which returns primary keys on PostgreSQL and on SQLite ≥ 3.35 (``RETURNING``); on
  PostgreSQL a set of :data:`COPY_THRESHOLD` rows or more takes the fast path: ids drawn
  from the table's sequence in one round trip and ``COPY … FROM STDIN`` (inserts), or
  ``COPY`` into a staging table and one ``INSERT … SELECT … ON CONFLICT … RETURNING``
  (upserts). The PostgreSQL-only speed-ups live in this module only.
- :func:`insert_rows` / :func:`update_rows` take rows as dicts of column values, for
  writers that never build model instances (the device ingest).
- :func:`update` writes fields of existing instances by primary key.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter

from django.db import IntegrityError, connection, transaction
from django.db.models import Model

# From this many rows on, PostgreSQL writes through COPY: below it, one INSERT with
# RETURNING costs less than drawing ids, staging and copying.
COPY_THRESHOLD = 1000
BATCH_SIZE = 500  # bulk_create's batches on the portable path (SQLite's parameter limit)

# PostgreSQL types of Django fields as a binary COPY sends them; a model with another
# field type is copied in the text format.
_PG_TYPES = {
    "AutoField": "int4",
    "BigAutoField": "int8",
    "BigIntegerField": "int8",
    "IntegerField": "int4",
    "PositiveIntegerField": "int4",
    "PositiveSmallIntegerField": "int2",
    "SmallIntegerField": "int2",
    "ForeignKey": "int8",
    "OneToOneField": "int8",
    "CharField": "text",
    "TextField": "text",
    "SlugField": "text",
    "EmailField": "text",
    "URLField": "text",
    "DateTimeField": "timestamptz",
    "DateField": "date",
    "BooleanField": "bool",
    "FloatField": "float8",
    "DecimalField": "numeric",
    "JSONField": "jsonb",
}


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _concrete(model: type[Model], names: Sequence[str] | None) -> list:
    """The fields ``names`` (names, attnames or columns) of ``model``; all but the primary
    key when ``names`` is None."""
    if names is None:
        return [f for f in model._meta.concrete_fields if not f.primary_key]
    return [_column_field(model, n) for n in names]


def _pg_types(fields) -> list[str] | None:
    """The binary COPY types of ``fields``, or None when one has no known type (foreign
    keys to a non-integer key, custom fields): then COPY uses the text format."""
    types = []
    for field in fields:
        internal = field.get_internal_type()
        if internal in ("ForeignKey", "OneToOneField"):
            internal = field.target_field.get_internal_type()
            if internal in ("AutoField", "BigAutoField"):
                internal = "BigIntegerField" if internal == "BigAutoField" else "IntegerField"
        pg = _PG_TYPES.get(internal)
        if pg is None:
            return None
        types.append(pg)
    return types


def _prepared(fields, objs: Iterable[Model], *, add: bool) -> list[list]:
    """Database values of ``objs`` (``pre_save`` applied: ``auto_now`` and the like); a
    value repeated in a column (a timestamp, a factory, a status) is prepared once."""
    caches: list[dict] = [{} for _ in fields]
    rows = []
    for obj in objs:
        row = []
        for field, cache in zip(fields, caches, strict=True):
            value = field.pre_save(obj, add)
            try:
                prepared = cache[value]
            except KeyError:
                prepared = cache[value] = field.get_db_prep_save(value, connection)
            except TypeError:  # unhashable (JSON)
                prepared = field.get_db_prep_save(value, connection)
            row.append(prepared)
        rows.append(row)
    return rows


# --- PostgreSQL primitives ----------------------------------------------------------------
_SEQUENCES: dict[str, str] = {}


def next_ids(cursor, table: str, count: int) -> list[int]:
    """PostgreSQL: ``count`` fresh ids of ``table`` drawn from its sequence in one round
    trip (rows copied with these ids need no RETURNING)."""
    if not count:
        return []
    if table not in _SEQUENCES:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        _SEQUENCES[table] = cursor.fetchone()[0]
    cursor.execute(
        "SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)",
        [_SEQUENCES[table], count],
    )
    return cursor.fetchone()[0]


def copy_rows(
    cursor, table: str, columns: Sequence[str], rows: Iterable, types: Sequence[str] | None
) -> None:
    """PostgreSQL: ``COPY table (columns) FROM STDIN`` of ``rows`` on a psycopg cursor; in
    the binary format when ``types`` are given (the server reads integers, timestamps and
    JSON without parsing text, and the driver writes them in C)."""
    cols = ", ".join(_quote(c) for c in columns)
    binary = " (FORMAT BINARY)" if types is not None else ""
    with cursor.copy(f"COPY {_quote(table)} ({cols}) FROM STDIN{binary}") as copy:
        if types is not None:
            copy.set_types(list(types))
        write = copy.write_row
        for row in rows:
            write(row)


def _stage(cursor, table: str, columns: Sequence[str]) -> str:
    """An empty temporary table shaped like ``columns`` of ``table`` (rows go at commit)."""
    stage = f"stage_{table}_{zlib.crc32(' '.join(columns).encode()):x}"  # per column set
    cols = ", ".join(_quote(c) for c in columns)
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_quote(stage)} ON COMMIT DELETE ROWS AS "
        f"SELECT {cols} FROM {_quote(table)} WITH NO DATA"
    )
    # Empty after a commit already; inside an outer transaction the last call's rows go.
    cursor.execute(f"TRUNCATE {_quote(stage)}")
    return stage


def _raw_cursor():
    """A Django cursor whose driver errors surface as Django's (IntegrityError …)."""
    return connection.cursor()


def _one_transaction():
    """The statements of a staged write in one transaction: the staging table empties at
    commit (``ON COMMIT DELETE ROWS``), so in autocommit the ``COPY`` into it would commit
    and lose its rows before the statement that reads them. Inside a caller's transaction
    no savepoint is taken (an error aborts the caller's transaction as any write's does)."""
    return transaction.atomic(savepoint=False)


# --- rows as dicts ------------------------------------------------------------------------
def insert_rows(
    model: type[Model],
    rows: list[dict],
    columns: Sequence[str],
    *,
    encoders: dict[str, tuple[str, Callable]] | None = None,
    ids: bool = True,
) -> list[int]:
    """Insert ``rows`` (dicts of column values, without ``id``) and return their new ids in
    order; each row's ``"id"`` is set too.

    PostgreSQL: ids from the sequence and one binary ``COPY``; ``encoders`` maps a column
    to ``(copy type, function)`` for values the caller encodes itself (a JSON column sent
    as pre-built jsonb bytes). ``ids=False``: the caller needs no ids; PostgreSQL's rows
    take theirs from the column's default as they are copied (no round trip to draw
    them) and an empty list is returned. Elsewhere: ``bulk_create`` (RETURNING)."""
    if not rows:
        return []
    if not _is_postgresql():
        objs = [model(**{c: row[c] for c in columns}) for row in rows]
        ids = _bulk_create(model, objs)
        for row, pk in zip(rows, ids, strict=True):
            row["id"] = pk
        return ids
    fields = [_column_field(model, c) for c in columns]
    types = _pg_types(fields)
    encoders = encoders or {}
    if types is not None:
        types = [
            encoders[c][0] if c in encoders else t for c, t in zip(columns, types, strict=True)
        ]
    table = model._meta.db_table
    with _raw_cursor() as wrapper, connection.wrap_database_errors:
        cursor = wrapper.cursor  # the psycopg cursor under Django's wrapper, for COPY
        if not ids:
            copy_rows(cursor, table, columns, _encoded(rows, columns, encoders), types)
            return []
        ids = next_ids(cursor, table, len(rows))
        for row, pk in zip(rows, ids, strict=True):
            row["id"] = pk
        copy_rows(cursor, table, ["id", *columns], _encoded(rows, ["id", *columns], encoders),
                  None if types is None else [_pk_type(model), *types])  # fmt: skip
    return ids


def update_rows(
    model: type[Model],
    rows: list[dict],
    columns: Sequence[str],
    *,
    encoders: dict[str, tuple[str, Callable]] | None = None,
    prepared: bool = False,
) -> None:
    """``UPDATE`` the ``columns`` of ``rows`` (dicts with ``"id"``) by primary key.
    PostgreSQL: ``COPY`` into a staging table and one ``UPDATE … FROM``; elsewhere one
    ``executemany``. ``prepared``: the values are database values already."""
    if not rows:
        return
    table = model._meta.db_table
    if not _is_postgresql():
        fields = [_column_field(model, c) for c in columns]
        values = [
            [
                row[c] if prepared else f.get_db_prep_save(row[c], connection)
                for f, c in zip(fields, columns, strict=True)
            ]
            + [row["id"]]
            for row in rows
        ]
        sets = ", ".join(f"{_quote(f.column)} = %s" for f in fields)
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {_quote(table)} SET {sets} WHERE id = %s", values)
        return
    fields = [_column_field(model, c) for c in columns]
    types = _pg_types(fields)
    encoders = encoders or {}
    if types is not None:
        types = [
            encoders[c][0] if c in encoders else t for c, t in zip(columns, types, strict=True)
        ]
        types = [_pk_type(model), *types]
    with _one_transaction(), _raw_cursor() as wrapper, connection.wrap_database_errors:
        cursor = wrapper.cursor
        all_columns = ["id", *columns]
        # Pre-encoded JSON (COPY type bytea) lands in the staging table's jsonb column:
        # a binary COPY sends jsonb's own wire form.
        stage = _stage(cursor, table, all_columns)
        copy_rows(cursor, stage, all_columns, _encoded(rows, all_columns, encoders),
                  types)  # fmt: skip
        # A temporary table has no statistics until analysed: the planner would take it
        # for a thousand rows and hash the whole target table rather than look each id up.
        # (A few rows are not worth the statistics written.)
        if len(rows) >= 100:
            cursor.execute(f"ANALYZE {_quote(stage)}")
        sets = ", ".join(f"{_quote(c)} = s.{_quote(c)}" for c in columns)
        cursor.execute(
            f"UPDATE {_quote(table)} t SET {sets} FROM {_quote(stage)} s WHERE t.id = s.id"
        )


def _encoded(rows: Iterable[dict], columns: Sequence[str], encoders: dict):
    """Each row's values in ``columns`` order, the ``encoders`` applied."""
    getter = itemgetter(*columns)
    if not encoders:
        if len(columns) == 1:
            return ((getter(row),) for row in rows)
        return map(getter, rows)
    at = [(i, encoders[c][1]) for i, c in enumerate(columns) if c in encoders]

    def encode(row):
        values = list(getter(row))
        for i, func in at:
            values[i] = func(values[i])
        return values

    return map(encode, rows)


def _column_field(model: type[Model], column: str):
    for field in model._meta.concrete_fields:
        if field.column == column or field.attname == column or field.name == column:
            return field
    raise ValueError(f"{model.__name__} has no column {column!r}")


def _pk_type(model: type[Model]) -> str:
    return _PG_TYPES.get(model._meta.pk.get_internal_type(), "int8")


# --- model instances ----------------------------------------------------------------------
def _bulk_create(model: type[Model], objs: list[Model], **options) -> list[int]:
    """``bulk_create`` that returns the primary keys. Where the database cannot return
    rows from a bulk insert (SQLite before 3.35), rows are inserted one by one."""
    if not objs:
        return []
    if connection.features.can_return_rows_from_bulk_insert:
        model.objects.bulk_create(objs, batch_size=BATCH_SIZE, **options)
    else:
        if options:
            raise NotImplementedError("upserts need a database that returns bulk insert rows")
        for obj in objs:
            obj.save(force_insert=True)
    return [obj.pk for obj in objs]


def insert(
    model: type[Model], objs: Sequence[Model], fields: Sequence[str] | None = None
) -> list[int]:
    """Insert ``objs``; set and return their primary keys (in order). ``fields``: the
    columns to write (default: every concrete field but the primary key)."""
    objs = list(objs)
    if not objs:
        return []
    if not _is_postgresql() or len(objs) < COPY_THRESHOLD:
        return _bulk_create(model, objs)
    concrete = _concrete(model, fields)
    rows = _prepared(concrete, objs, add=True)
    table = model._meta.db_table
    types = _pg_types(concrete)
    with _raw_cursor() as wrapper, connection.wrap_database_errors:
        cursor = wrapper.cursor
        ids = next_ids(cursor, table, len(objs))
        copy_rows(
            cursor,
            table,
            [model._meta.pk.column, *(f.column for f in concrete)],
            ([pk, *row] for pk, row in zip(ids, rows, strict=True)),
            None if types is None else [_pk_type(model), *types],
        )
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
    return ids


# Large upserts on PostgreSQL go through COPY → staging table → one INSERT … ON CONFLICT
# (False: Django's bulk_create(update_conflicts=True) for every size).
UPSERT_VIA_COPY = True


def upsert(
    model: type[Model],
    objs: Sequence[Model],
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
) -> list[int]:
    """``INSERT … ON CONFLICT (unique_fields) DO UPDATE SET update_fields`` of ``objs``; set
    and return the primary keys of the rows written, inserted or updated, in order."""
    objs = list(objs)
    if not objs:
        return []
    if not UPSERT_VIA_COPY or not _is_postgresql() or len(objs) < COPY_THRESHOLD:
        return _bulk_create(
            model, objs, update_conflicts=True, unique_fields=unique_fields,
            update_fields=update_fields,
        )  # fmt: skip
    concrete = _concrete(model, None)
    rows = _prepared(concrete, objs, add=True)
    table = model._meta.db_table
    columns = [f.column for f in concrete]
    keys = [_column_field(model, n).column for n in unique_fields]
    key_at = [columns.index(k) for k in keys]
    cols = ", ".join(_quote(c) for c in columns)
    sets = ", ".join(
        f"{_quote(c)} = EXCLUDED.{_quote(c)}"
        for c in (_column_field(model, n).column for n in update_fields)
    )
    with _one_transaction(), _raw_cursor() as wrapper, connection.wrap_database_errors:
        cursor = wrapper.cursor
        stage = _stage(cursor, table, columns)
        copy_rows(cursor, stage, columns, rows, _pg_types(concrete))
        key_cols = ", ".join(_quote(k) for k in keys)
        cursor.execute(
            f"INSERT INTO {_quote(table)} ({cols}) SELECT {cols} FROM {_quote(stage)} "
            f"ON CONFLICT ({key_cols}) DO UPDATE SET {sets} "
            f"RETURNING {_quote(model._meta.pk.column)}, {key_cols}"
        )
        by_key = {tuple(found[1:]): found[0] for found in cursor.fetchall()}
    ids = []
    for obj, row in zip(objs, rows, strict=True):
        pk = by_key.get(tuple(row[i] for i in key_at))
        if pk is None:
            # The key as PostgreSQL returns it may differ in form from the Python value
            # (a timestamp's precision or zone): find the row the statement wrote by key.
            pk = (
                model._default_manager.filter(**{f: getattr(obj, f) for f in unique_fields})
                .values_list("pk", flat=True)
                .first()
            )
        if pk is None:
            raise IntegrityError(f"{model.__name__}: the upsert wrote no row for {obj!r}")
        obj.pk = pk
        obj._state.adding = False
        ids.append(pk)
    return ids


def update(model: type[Model], objs: Iterable[Model], fields: Sequence[str]) -> int:
    """``UPDATE`` the ``fields`` of ``objs`` by primary key; how many objects."""
    objs = list(objs)
    concrete = _concrete(model, fields)
    rows = [
        {"id": obj.pk, **{f.column: v for f, v in zip(concrete, values, strict=True)}}
        for obj, values in zip(objs, _prepared(concrete, objs, add=False), strict=True)
    ]
    update_rows(model, rows, [f.column for f in concrete], prepared=True)
    return len(rows)


# --- link tables and deletes --------------------------------------------------------------
def insert_pairs(table: str, columns: tuple[str, str], rows: list[tuple[int, int]]) -> None:
    """Rows of a many-to-many table (two id columns)."""
    if not rows:
        return
    qn = _quote
    if _is_postgresql():
        with _raw_cursor() as wrapper, connection.wrap_database_errors:
            copy_rows(wrapper.cursor, table, columns, rows, ["int8", "int8"])
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {qn(table)} ({qn(columns[0])}, {qn(columns[1])}) VALUES (%s, %s)", rows
        )


def delete_where(table: str, column: str, values: list[int]) -> None:
    """``DELETE FROM table WHERE column = value`` for every value, in one statement."""
    if not values:
        return
    qn = _quote
    with connection.cursor() as cursor:
        if _is_postgresql():
            cursor.execute(
                f"DELETE FROM {qn(table)} WHERE {qn(column)} = ANY(%s::bigint[])", [list(values)]
            )
            return
        cursor.executemany(
            f"DELETE FROM {qn(table)} WHERE {qn(column)} = %s", [(v,) for v in values]
        )


def delete_pairs(table: str, columns: tuple[str, str], rows: list[tuple[int, int]]) -> None:
    """Delete the given rows of a many-to-many table (two id columns), in one statement
    on PostgreSQL."""
    if not rows:
        return
    qn = _quote
    first, second = qn(columns[0]), qn(columns[1])
    with connection.cursor() as cursor:
        if _is_postgresql():
            cursor.execute(
                f"DELETE FROM {qn(table)} AS t USING unnest(%s::bigint[], %s::bigint[]) "
                f"AS d(a, b) WHERE t.{first} = d.a AND t.{second} = d.b",
                [[a for a, _b in rows], [b for _a, b in rows]],
            )
            return
        cursor.executemany(
            f"DELETE FROM {qn(table)} WHERE {first} = %s AND {second} = %s", list(rows)
        )
