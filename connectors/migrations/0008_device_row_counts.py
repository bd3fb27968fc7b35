"""Devices per factory counted by triggers (coe.rowcounts): the device list's count."""

from django.db import migrations

from coe import rowcounts

TABLE = "connectors_device"


def install(apps, schema_editor):
    rowcounts.install(schema_editor, TABLE)


def uninstall(apps, schema_editor):
    rowcounts.uninstall(schema_editor, TABLE)


class Migration(migrations.Migration):
    dependencies = [
        ("coe", "0004_factory_name_index_and_row_counts"),
        ("connectors", "0007_merge_device_order_and_run_resends"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
