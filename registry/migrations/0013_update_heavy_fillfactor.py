"""Room on each page for the rows detection rewrites in place.

Every detection run updates findings (standard, money at stake, ``last_detected``) and
marks stake rows; PostgreSQL can then keep the new row version on the same page without
touching the indexes (a heap-only update) only where the page has room. Bulk-written
pages are full, so a run after an import rewrote every index entry of each row it touched.
New pages keep 15 % free; existing ones get it as they are rewritten (``VACUUM FULL`` to
repack at once). SQLite has no such setting.
"""

from django.db import migrations

TABLES = {"registry_duplicatefinding": 85, "registry_findingstake": 85}


def _set(schema_editor, reset: bool) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, fill in TABLES.items():
        option = "RESET (fillfactor)" if reset else f"SET (fillfactor = {fill})"
        schema_editor.execute(f"ALTER TABLE {table} {option}", params=None)


def forwards(apps, schema_editor) -> None:
    _set(schema_editor, False)


def backwards(apps, schema_editor) -> None:
    _set(schema_editor, True)


class Migration(migrations.Migration):
    dependencies = [("registry", "0012_stake_finding_index")]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False)
    ]
