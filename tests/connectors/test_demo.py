"""The demo loader syncs the three connected plants against real local simulators."""

import pytest
from django.core.management import call_command

from connectors.models import Device, DeviceSourceRecord, SyncRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_load_demo_pulls_a_few_hundred_devices_over_opcua_mqtt_and_modbus(capsys):
    call_command("load_demo")
    out = capsys.readouterr().out
    assert "Press shop OPC UA: succeeded" in out
    total = Device.objects.count()
    assert 200 <= total <= 400
    kinds = set(DeviceSourceRecord.objects.values_list("source_kind", flat=True))
    assert kinds == {"opcua", "mqtt", "modbus"}
    assert Device.objects.filter(status="stale").exists()
    assert Device.objects.filter(status="offline", factory__slug="puebla-assembly").exists()
    # Pilsen's CNC cells answer on OPC UA and Modbus: one device, two sources, OPC UA firmware.
    cell = Device.objects.get(serial_number="CNC-0003")
    assert cell.source_records.count() == 2 and cell.firmware == "3.2.7"
    assert not SyncRun.objects.filter(status="failed").exists()
