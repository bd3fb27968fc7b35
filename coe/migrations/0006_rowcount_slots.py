"""Per-factory row counts spread over slots (coe.rowcounts): concurrent writers of one
factory each change their own row instead of queueing on one.

The triggers are replaced: PostgreSQL's functions in place; SQLite's triggers are
dropped before the count table is rebuilt (they name it) and created again after."""

from django.db import migrations, models

from coe import rowcounts

COUNTED = rowcounts.COUNTED
_tables: list[str] = []  # the counted tables, between the steps of one run

# The functions and SQLite triggers as they were before the slots (to migrate back).
_OLD_PG_FUNCTIONS = f"""
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
"""


def _old_sqlite(table: str) -> list[str]:
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


def drop_sqlite_triggers(apps, schema_editor):
    _tables[:] = rowcounts.counted_tables(schema_editor)
    if schema_editor.connection.vendor != "postgresql":
        for table in _tables:
            rowcounts.drop_triggers(schema_editor, table)


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        tables = rowcounts.counted_tables(schema_editor)
    else:
        tables = _tables
    for table in tables:
        rowcounts.drop_triggers(schema_editor, table)
        rowcounts.create_triggers(schema_editor, table)


def collapse_slots(apps, schema_editor):
    """Back to one row per table and factory: each factory's slots summed into slot 0."""
    drop_sqlite_triggers(apps, schema_editor)
    schema_editor.execute(
        f"UPDATE {COUNTED} SET row_count = (SELECT sum(o.row_count) FROM {COUNTED} o"
        f" WHERE o.table_name = {COUNTED}.table_name AND o.factory_id = {COUNTED}.factory_id)"
        " WHERE slot = 0",
        params=None,
    )
    schema_editor.execute(
        f"INSERT INTO {COUNTED} (table_name, factory_id, slot, row_count)"
        f" SELECT table_name, factory_id, 0, sum(row_count) FROM {COUNTED} o"
        f" WHERE NOT EXISTS (SELECT 1 FROM {COUNTED} z WHERE z.table_name = o.table_name"
        " AND z.factory_id = o.factory_id AND z.slot = 0) GROUP BY table_name, factory_id",
        params=None,
    )
    schema_editor.execute(f"DELETE FROM {COUNTED} WHERE slot <> 0", params=None)
    if schema_editor.connection.vendor == "postgresql":
        # The inserts' foreign-key checks now: the table is altered next.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE", params=None)


def create_old_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_OLD_PG_FUNCTIONS, params=None)
        return
    for table in _tables:
        for sql in _old_sqlite(table):
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("coe", "0005_data_generations"),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, create_old_triggers),
        migrations.AddField(
            model_name="factoryrowcount",
            name="slot",
            field=models.SmallIntegerField(db_default=0, default=0),
        ),
        migrations.RemoveConstraint(
            model_name="factoryrowcount",
            name="rowcount_table_factory",
        ),
        migrations.AddConstraint(
            model_name="factoryrowcount",
            constraint=models.UniqueConstraint(
                fields=("table_name", "factory", "slot"), name="rowcount_table_factory_slot"
            ),
        ),
        migrations.RunPython(create_triggers, collapse_slots),
    ]
