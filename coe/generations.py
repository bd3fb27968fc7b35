"""Data generations: portfolio-wide aggregates memoised until the data under them changes.

Some figures a page shows add up every row of a large table — the annual cost at stake
counts each adoption covered by a live finding once (55,000 stake rows at 1,000
factories), the realised savings sum every stake's drop in cost — and they change only
when the registry is written. A *group* names the tables such a figure reads; its
:class:`coe.models.DataGeneration` row holds a number the database replaces on every
write to one of those tables, by trigger, in the same statement and transaction as the
write — whatever wrote it: the ORM, ``coe.bulk``'s COPY, raw SQL, a cascade. A figure is
memoised in the cache under (group, generation, what was asked), so:

- after a commit, every reader sees the new generation and computes afresh: no stale
  figure outlives the write that changed it, and nothing needs invalidating by hand;
- the new number is unique, never reused (a PostgreSQL sequence; a random 63-bit number
  on SQLite), so a transaction that rolls back leaves only an entry nobody can read, and
  a figure read inside a transaction that wrote is filed under that transaction's own
  private generation;
- the generation is read before the figure, so a write committing in between can only
  make the memoised figure newer than its key, never older.

A write serialises on its group's row until it commits (one row per group, updated once
per statement), like any counter kept in the same transaction; writers of the registry
already take turns under detection's advisory lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import connection

T = TypeVar("T")

TABLE = "coe_datageneration"
SEQUENCE = "coe_datageneration_seq"
MEMO_SECONDS = 3600  # a figure nobody reads for an hour leaves the cache
_MISSING = object()

# The tables each group's figures read, the scoping of who sees what included.
GROUPS: dict[str, tuple[str, ...]] = {
    "registry": (
        "registry_adoption",
        "registry_tool",
        "registry_duplicatefinding",
        "registry_duplicatefinding_factories",
        "registry_findingstake",
        "coe_factory",
        "coe_membership",
    ),
    # The portfolio's maturity charts: stage distribution and dimension heatmaps.
    "maturity": (
        "assessments_factorymaturity",
        "assessments_factorydimensionscore",
        "coe_factory",
        "coe_membership",
    ),
}


def _postgresql(group: str, table: str) -> list[str]:
    trigger = f"{table}_generation_{group}"
    return [
        f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}",
        "CREATE OR REPLACE FUNCTION coe_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN UPDATE {TABLE} SET generation = nextval('{SEQUENCE}') WHERE name = TG_ARGV[0];\n"
        "RETURN NULL; END $$",
        f"CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION coe_generation_bump('{group}')",
    ]


def _sqlite(group: str, table: str) -> list[str]:
    bump = f"UPDATE {TABLE} SET generation = abs(random()) WHERE name = '{group}'"
    return [
        f"CREATE TRIGGER {table}_generation_{group}_{event.lower()} AFTER {event} ON {table} "
        f"BEGIN {bump}; END"
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def _trigger_names(group: str, table: str, vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"{table}_generation_{group}"]
    return [f"{table}_generation_{group}_{e}" for e in ("insert", "update", "delete")]


def install(schema_editor, group: str) -> None:
    """Create ``group``'s row and the triggers on its tables (in a migration)."""
    vendor = schema_editor.connection.vendor
    schema_editor.execute(f"DELETE FROM {TABLE} WHERE name = %s", params=[group])
    for table in GROUPS[group]:
        statements = _postgresql(group, table) if vendor == "postgresql" else _sqlite(group, table)
        for sql in statements:
            schema_editor.execute(sql, params=None)
    fresh = f"nextval('{SEQUENCE}')" if vendor == "postgresql" else "abs(random())"
    schema_editor.execute(
        f"INSERT INTO {TABLE} (name, generation) VALUES (%s, {fresh})", params=[group]
    )


def migration(group: str):
    """The migration operation that installs ``group`` (and removes it going back)."""
    from django.db import migrations

    return migrations.RunPython(
        lambda apps, schema_editor: install(schema_editor, group),
        lambda apps, schema_editor: uninstall(schema_editor, group),
    )


def uninstall(schema_editor, group: str) -> None:
    vendor = schema_editor.connection.vendor
    for table in GROUPS[group]:
        for name in _trigger_names(group, table, vendor):
            on = f" ON {table}" if vendor == "postgresql" else ""
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{on}", params=None)
    # Kept, with no generation: a missing row would be put back by ``current``.
    schema_editor.execute(f"UPDATE {TABLE} SET generation = NULL WHERE name = %s", params=[group])


def _fresh() -> str:
    """SQL for a generation never used before."""
    return f"nextval('{SEQUENCE}')" if connection.vendor == "postgresql" else "abs(random())"


def current(group: str) -> int | None:
    """The group's generation as this transaction sees it (None: not kept). A row that
    is missing — a test database flushed between tests — is put back with a fresh
    number, so no figure memoised before can be read under it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT generation FROM {TABLE} WHERE name = %s", [group])
        row = cursor.fetchone()
        if row is None and group in GROUPS:
            cursor.execute(
                f"INSERT INTO {TABLE} (name, generation) VALUES (%s, {_fresh()}) "
                "ON CONFLICT (name) DO NOTHING",
                [group],
            )
            cursor.execute(f"SELECT generation FROM {TABLE} WHERE name = %s", [group])
            row = cursor.fetchone()
    return row[0] if row else None


def memoised(group: str, asked: tuple, compute: Callable[[], T]) -> T:
    """``compute()``, or what it returned before at the group's current generation for
    the same ``asked`` (everything the figure depends on besides the group's tables: the
    function, the SQL of the rows it was given and its parameters)."""
    generation = current(group)
    if generation is None:
        return compute()
    digest = hashlib.sha256(repr(asked).encode()).hexdigest()[:32]
    key = f"coe:generation:{group}:{generation}:{digest}"
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(key, value, MEMO_SECONDS)
    return value


def query_key(queryset) -> tuple:
    """What identifies a queryset's rows for :func:`memoised`: its SQL and parameters."""
    sql, params = queryset.query.sql_with_params()
    return (sql, tuple(params))
