"""Data migration: the default capability taxonomy for both factory kinds."""

from django.db import migrations


def load(apps, schema_editor):
    from registry.taxonomy import load_taxonomy

    load_taxonomy(apps.get_model("registry", "Capability"))


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_registry_models")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
