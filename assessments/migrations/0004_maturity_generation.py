"""The maturity data generation (coe.generations): triggers on the tables the portfolio's
maturity charts read, so those charts are memoised until one of them changes."""

from django.db import migrations

from coe import generations

GROUP = "maturity"


def install(apps, schema_editor):
    generations.install(schema_editor, GROUP)


def uninstall(apps, schema_editor):
    generations.uninstall(schema_editor, GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("coe", "0005_data_generations"),
        ("assessments", "0003_factory_maturity_rows"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
