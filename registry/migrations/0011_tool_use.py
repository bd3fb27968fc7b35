"""The portfolio's use of each tool, kept by PostgreSQL triggers (``registry.tool_use``)."""

from django.db import migrations

from registry.tool_use import install, remove


class Migration(migrations.Migration):
    dependencies = [("registry", "0010_active_adoption_use")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
