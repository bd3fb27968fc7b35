"""Adoptions per factory counted by triggers (coe.rowcounts): the adoption list's count."""

from django.db import migrations

from coe import rowcounts

TABLE = "registry_adoption"


def install(apps, schema_editor):
    rowcounts.install(schema_editor, TABLE)


def uninstall(apps, schema_editor):
    rowcounts.uninstall(schema_editor, TABLE)


class Migration(migrations.Migration):
    dependencies = [
        ("coe", "0004_factory_name_index_and_row_counts"),
        ("registry", "0007_tool_portfolio_figures"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
