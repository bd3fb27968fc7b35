"""Room on each page for the finding figures every detection run moves in place (a
fragmentation finding's change reaches a thousand factories): half of each page stays
free, so PostgreSQL keeps the new row versions beside the old ones without touching the
indexes. SQLite has no such setting."""

from django.db import migrations


def _set(schema_editor, reset: bool) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    option = "RESET (fillfactor)" if reset else "SET (fillfactor = 50)"
    schema_editor.execute(f"ALTER TABLE kpis_factoryfigures {option}", params=None)


def forwards(apps, schema_editor) -> None:
    _set(schema_editor, False)


def backwards(apps, schema_editor) -> None:
    _set(schema_editor, True)


class Migration(migrations.Migration):
    dependencies = [("kpis", "0001_factory_month_and_figures")]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False)
    ]
