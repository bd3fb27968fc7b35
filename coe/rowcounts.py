"""Exact per-factory row counts of large tables, kept by the database.

An API list answers ``count``; counting every device of a 1,000-factory portfolio on each
request reads the whole table (~200,000 rows), so a list that is not filtered reads the
sum of the stored counts of the factories the caller sees instead
(:class:`coe.models.FactoryRowCount`: a few rows per table and factory, summed on read).

The counts are kept by triggers, not by the application: every write path (the ORM, the
bulk ``COPY`` of ``coe.bulk``, raw SQL, a cascade from a deleted factory) changes them in
the same statement and transaction as the rows, so a count read in any snapshot is the
number of rows that snapshot holds.

- PostgreSQL: statement-level triggers over transition tables (one grouped upsert per
  INSERT, COPY or DELETE statement), a row trigger for the rare row that moves to
  another factory (``WHEN`` the factory id changed: an ordinary update costs no function
  call), and a TRUNCATE trigger that forgets the table's counts. A factory's count is
  spread over up to :data:`SLOTS` rows: a statement changes the row of the slot of its
  server process (``pg_backend_pid() % SLOTS``). Concurrent writers of one factory (the
  ingest's background writers, two syncs) then each change their own row: with a
  single row, each waited at its first write for the other's transaction to commit,
  which serialised their work.
- SQLite: row triggers on slot 0 (one writer at a time; the demo's scale).

A table is counted once its migration calls :func:`install` (which also counts the rows
already there). Deletes and moves only ever change a factory that still has counts: a
factory's rows are created by an insert and go with the factory (a cascade that deletes
them before the factory's other rows must not leave a row behind).
"""

from __future__ import annotations

from django.db.models import Sum

COUNTED = "coe_factoryrowcount"
SLOTS = 8
_SLOT = f"pg_backend_pid() % {SLOTS}"
_ADD = f"""
    ON CONFLICT (table_name, factory_id, slot)
    DO UPDATE SET row_count = {COUNTED}.row_count + EXCLUDED.row_count;"""
_COUNTED = f"EXISTS (SELECT 1 FROM {COUNTED} k WHERE k.table_name = TG_TABLE_NAME AND k.factory_id"

_PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION coe_rowcount_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {COUNTED} (table_name, factory_id, slot, row_count)
    SELECT TG_TABLE_NAME, factory_id, {_SLOT}, count(*) FROM coe_rowcount_new
    WHERE factory_id IS NOT NULL GROUP BY factory_id ORDER BY factory_id{_ADD}
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION coe_rowcount_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {COUNTED} (table_name, factory_id, slot, row_count)
    SELECT TG_TABLE_NAME, gone.factory_id, {_SLOT}, -gone.n
    FROM (SELECT factory_id, count(*) AS n FROM coe_rowcount_old GROUP BY factory_id) gone
    WHERE {_COUNTED} = gone.factory_id)
    ORDER BY gone.factory_id{_ADD}
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION coe_rowcount_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {COUNTED} (table_name, factory_id, slot, row_count)
    SELECT TG_TABLE_NAME, OLD.factory_id, {_SLOT}, -1
    WHERE {_COUNTED} = OLD.factory_id){_ADD}
    IF NEW.factory_id IS NOT NULL THEN
        INSERT INTO {COUNTED} (table_name, factory_id, slot, row_count)
        VALUES (TG_TABLE_NAME, NEW.factory_id, {_SLOT}, 1){_ADD}
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
        f"INSERT INTO {COUNTED} (table_name, factory_id, slot, row_count) "
        f"VALUES ('{table}', NEW.factory_id, 0, 1) ON CONFLICT (table_name, factory_id, slot) "
        "DO UPDATE SET row_count = row_count + 1"
    )
    # Slot 0 unless the factory's counts are in another (a database copied from one
    # PostgreSQL wrote): the sum is what counts.
    remove = (
        f"UPDATE {COUNTED} SET row_count = row_count - 1 WHERE id = (SELECT min(id) "
        f"FROM {COUNTED} WHERE table_name = '{table}' AND factory_id = OLD.factory_id)"
    )
    return [
        f"CREATE TRIGGER {table}_rowcount_added AFTER INSERT ON {table} "
        f"WHEN NEW.factory_id IS NOT NULL BEGIN {add}; END",
        f"CREATE TRIGGER {table}_rowcount_removed AFTER DELETE ON {table} BEGIN {remove}; END",
        f"CREATE TRIGGER {table}_rowcount_moved AFTER UPDATE OF factory_id ON {table} "
        f"WHEN OLD.factory_id IS NOT NEW.factory_id BEGIN {remove}; "
        f"INSERT INTO {COUNTED} (table_name, factory_id, slot, row_count) "
        f"SELECT '{table}', NEW.factory_id, 0, 1 WHERE NEW.factory_id IS NOT NULL "
        "ON CONFLICT (table_name, factory_id, slot) DO UPDATE SET row_count = row_count + 1; END",
    ]


def trigger_names(table: str, vendor: str) -> list[str]:
    kinds = ["added", "removed", "moved"] + (["truncated"] if vendor == "postgresql" else [])
    return [f"{table}_rowcount_{kind}" for kind in kinds]


def install(schema_editor, table: str) -> None:
    """Create ``table``'s triggers and count its rows as they are (in a migration: the
    triggers' lock holds writers off until the migration commits, so none is missed)."""
    create_triggers(schema_editor, table)
    schema_editor.execute(f"DELETE FROM {COUNTED} WHERE table_name = '{table}'", params=None)
    # The slot is left to the column's default (0): a migration of an earlier schema
    # (before the slots) installs with the same statement.
    schema_editor.execute(
        f"INSERT INTO {COUNTED} (table_name, factory_id, row_count) "
        f"SELECT '{table}', factory_id, count(*) FROM {table} "
        "WHERE factory_id IS NOT NULL GROUP BY factory_id",
        params=None,
    )


def uninstall(schema_editor, table: str) -> None:
    drop_triggers(schema_editor, table)
    schema_editor.execute(f"DELETE FROM {COUNTED} WHERE table_name = '{table}'", params=None)


def drop_triggers(schema_editor, table: str) -> None:
    vendor = schema_editor.connection.vendor
    for name in trigger_names(table, vendor):
        on = f" ON {table}" if vendor == "postgresql" else ""
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{on}", params=None)


def counted_tables(schema_editor) -> list[str]:
    """The tables whose triggers are installed."""
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t"
                " JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
            )
        else:
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        return sorted(t for t, name in cursor.fetchall() if name == f"{t}_rowcount_added")


def create_triggers(schema_editor, table: str) -> None:
    """``table``'s triggers (PostgreSQL: and the functions they call) as this module
    writes them, without counting again."""
    vendor = schema_editor.connection.vendor
    for sql in _postgresql(table) if vendor == "postgresql" else _sqlite(table):
        schema_editor.execute(sql, params=None)


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
