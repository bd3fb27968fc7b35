"""Modbus TCP source against a real pymodbus server; a dropped connection mid-sync."""

from __future__ import annotations

import pytest

from connectors.models import Device, DeviceSourceRecord, MetricSample
from connectors.simulators.modbus_server import ModbusSimulator, ModbusUnit
from tests.connectors.helpers import make_connector, run_sync
from tests.connectors.proxy import DroppingProxy

pytestmark = pytest.mark.django_db(transaction=True)

UNITS = [
    ModbusUnit(i, f"DMG-{i:04d}", good_count=1000 + i, total_count=1100 + i) for i in range(1, 11)
]


@pytest.fixture(scope="module")
def modbus_server():
    with ModbusSimulator(UNITS, vendor="DMG MORI", product_code="DMU 50", revision="3.2") as sim:
        yield sim


def test_identification_and_mapped_counters_of_every_unit(world, modbus_server):
    connector = make_connector(world.factory_a, "modbus", settings=modbus_server.settings())
    run = run_sync(connector)
    assert run.status == "succeeded", run.message
    assert run.created == 10
    device = Device.objects.get(serial_number="DMG-0003")
    assert (device.manufacturer, device.model, device.firmware) == ("DMG MORI", "DMU 50", "3.2")
    good = MetricSample.objects.get(device=device, metric="good_count")
    assert good.value == 1003 and good.source == "modbus"
    assert MetricSample.objects.filter(factory=world.factory_a).count() == 20


def test_a_dropped_connection_ends_partial_marks_nothing_stale_and_the_next_run_is_exact(
    world, modbus_server
):
    settings = modbus_server.settings()
    direct = make_connector(world.factory_a, "modbus", name="cells", settings=settings)
    first = run_sync(direct)
    assert first.created == 10
    # Each unit takes 4 requests (identification, serial, two counters): drop in unit 4.
    with DroppingProxy(modbus_server.port, drop_after=13) as proxy:
        direct.settings = {**settings, "port": proxy.port}
        direct.save()
        broken = run_sync(direct)
    assert broken.status == "partial", broken.message
    assert "connection lost" in broken.message
    assert broken.stale == 0
    assert not Device.objects.filter(status="stale").exists()
    direct.settings = settings
    direct.save()
    fixed = run_sync(direct)
    assert fixed.status == "succeeded"
    assert (fixed.created, fixed.stale) == (0, 0)
    assert Device.objects.filter(factory=world.factory_a).count() == 10
    assert DeviceSourceRecord.objects.filter(connector=direct).count() == 10 + 3
    assert set(Device.objects.values_list("status", flat=True)) == {"active"}


def test_same_payload_twice_second_run_is_all_unchanged(world, modbus_server):
    settings = {k: v for k, v in modbus_server.settings().items() if k != "registers"}
    connector = make_connector(world.factory_a, "modbus", settings=settings)
    run_sync(connector)
    before = list(Device.objects.values_list("id", "updated_at").order_by("id"))
    second = run_sync(connector)
    assert (second.created, second.updated, second.unchanged, second.stale) == (0, 0, 10, 0)
    assert list(Device.objects.values_list("id", "updated_at").order_by("id")) == before
