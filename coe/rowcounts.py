"""Exact per-factory row counts of large tables, kept by the database.

An API list answers ``count``; counting every device of a 1,000-factory portfolio on each
request reads the whole table (~200,000 rows), so a list that is not filtered reads the
sum of the stored counts of the factories the caller sees instead
(:class:`coe.models.FactoryRowCount`, one row per table and factory).

The counts are kept by triggers, not by the application: every write path (the ORM, the
bulk ``COPY`` of ``coe.bulk``, raw SQL, a cascade from a deleted factory) changes them in
the same statement and transaction as the rows, so a count read in any snapshot is the
number of rows that snapshot holds.

- PostgreSQL: statement-level triggers over transition tables (one grouped upsert per
  INSERT or COPY statement, one grouped update per DELETE), a row trigger for the rare
  row that moves to another factory (``WHEN`` the factory id changed: an ordinary update
  costs no function call), and a TRUNCATE trigger that forgets the table's counts.
- SQLite: row triggers (the demo's scale).

A table is counted once its migration calls :func:`install` (which also counts the rows
already there). Deletes only ever decrement: a factory's row is created by an insert and
goes with the factory.
"""

from __future__ import annotations

from django.db.models import Sum

COUNTED = "coe_factoryrowcount"

_PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION coe_rowcount_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {COUNTED} (table_name, factory_id, row_count)
    SELECT TG_TABLE_NAME, factory_id, count(*) FROM coe_rowcount_new
    WHERE factory_id IS NOT NULL GROUP BY factory_id ORDER BY factory_id
    ON CONFLICT (table_name, factory_id)
    DO UPDATE SET row_count = {COUNTED}.row_count + EXCLUDED.row_count;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION coe_rowcount_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {COUNTED} c SET row_count = c.row_count - gone.n
    FROM (SELECT factory_id, count(*) AS n FROM coe_rowcount_old GROUP BY factory_id) gone
    WHERE c.table_name = TG_TABLE_NAME AND c.factory_id = gone.factory_id;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION coe_rowcount_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {COUNTED} SET row_count = row_count - 1
    WHERE table_name = TG_TABLE_NAME AND factory_id = OLD.factory_id;
    IF NEW.factory_id IS NOT NULL THEN
        INSERT INTO {COUNTED} (table_name, factory_id, row_count)
        VALUES (TG_TABLE_NAME, NEW.factory_id, 1)
        ON CONFLICT (table_name, factory_id) DO UPDATE SET row_count = {COUNTED}.row_count + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION coe_rowcount_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {COUNTED} WHERE table_name = TG_TABLE_NAME;
    RETURN NULL;
END $$;
"""


def _postgresql(table: str) -> list[str]:
    return [
        _PG_FUNCTIONS,
        f"CREATE TRIGGER {table}_rowcount_added AFTER INSERT ON {table} "
        "REFERENCING NEW TABLE AS coe_rowcount_new "
        "FOR EACH STATEMENT EXECUTE FUNCTION coe_rowcount_added()",
        f"CREATE TRIGGER {table}_rowcount_removed AFTER DELETE ON {table} "
        "REFERENCING OLD TABLE AS coe_rowcount_old "
        "FOR EACH STATEMENT EXECUTE FUNCTION coe_rowcount_removed()",
        f"CREATE TRIGGER {table}_rowcount_moved AFTER UPDATE OF factory_id ON {table} "
        "FOR EACH ROW WHEN (OLD.factory_id IS DISTINCT FROM NEW.factory_id) "
        "EXECUTE FUNCTION coe_rowcount_moved()",
        f"CREATE TRIGGER {table}_rowcount_truncated AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION coe_rowcount_truncated()",
    ]


def _sqlite(table: str) -> list[str]:
    add = (
        f"INSERT INTO {COUNTED} (table_name, factory_id, row_count) "
        f"VALUES ('{table}', NEW.factory_id, 1) ON CONFLICT (table_name, factory_id) "
        "DO UPDATE SET row_count = row_count + 1"
    )
    remove = (
        f"UPDATE {COUNTED} SET row_count = row_count - 1 "
        f"WHERE table_name = '{table}' AND factory_id = OLD.factory_id"
    )
    return [
        f"CREATE TRIGGER {table}_rowcount_added AFTER INSERT ON {table} "
        f"WHEN NEW.factory_id IS NOT NULL BEGIN {add}; END",
        f"CREATE TRIGGER {table}_rowcount_removed AFTER DELETE ON {table} BEGIN {remove}; END",
        f"CREATE TRIGGER {table}_rowcount_moved AFTER UPDATE OF factory_id ON {table} "
        f"WHEN OLD.factory_id IS NOT NEW.factory_id BEGIN {remove}; "
        f"INSERT INTO {COUNTED} (table_name, factory_id, row_count) "
        f"SELECT '{table}', NEW.factory_id, 1 WHERE NEW.factory_id IS NOT NULL "
        "ON CONFLICT (table_name, factory_id) DO UPDATE SET row_count = row_count + 1; END",
    ]


def trigger_names(table: str, vendor: str) -> list[str]:
    kinds = ["added", "removed", "moved"] + (["truncated"] if vendor == "postgresql" else [])
    return [f"{table}_rowcount_{kind}" for kind in kinds]


def install(schema_editor, table: str) -> None:
    """Create ``table``'s triggers and count its rows as they are (in a migration: the
    triggers' lock holds writers off until the migration commits, so none is missed)."""
    vendor = schema_editor.connection.vendor
    statements = _postgresql(table) if vendor == "postgresql" else _sqlite(table)
    for sql in statements:
        schema_editor.execute(sql, params=None)
    schema_editor.execute(f"DELETE FROM {COUNTED} WHERE table_name = '{table}'", params=None)
    schema_editor.execute(
        f"INSERT INTO {COUNTED} (table_name, factory_id, row_count) "
        f"SELECT '{table}', factory_id, count(*) FROM {table} "
        "WHERE factory_id IS NOT NULL GROUP BY factory_id",
        params=None,
    )


def uninstall(schema_editor, table: str) -> None:
    vendor = schema_editor.connection.vendor
    for name in trigger_names(table, vendor):
        on = f" ON {table}" if vendor == "postgresql" else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{on}", params=None)
    schema_editor.execute(f"DELETE FROM {COUNTED} WHERE table_name = '{table}'", params=None)


def visible_rows(table: str, user) -> int:
    """How many rows of ``table`` the user sees (as ``coe.scoping.restrict`` scopes them):
    the sum of the stored counts of every factory for CoE staff, of theirs otherwise."""
    from coe.models import FactoryRowCount
    from coe.scoping import factory_ids, is_coe_staff

    if user is None or not user.is_authenticated or not user.is_active:
        return 0
    counts = FactoryRowCount.objects.filter(table_name=table)
    if not is_coe_staff(user):
        counts = counts.filter(factory_id__in=factory_ids(user))
    return counts.aggregate(n=Sum("row_count"))["n"] or 0
