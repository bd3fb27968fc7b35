"""OPC UA source against a real asyncua server loading the shared companion nodesets."""

from __future__ import annotations

import pytest

from connectors.models import Device, MetricSample
from connectors.simulators.opcua_server import OpcUaSimulator, SimDevice, nodeset_dir
from tests.connectors.helpers import make_connector, run_sync

pytestmark = pytest.mark.django_db(transaction=True)

ADDED = [
    SimDevice(
        "Press 10", "Schuler", "MSD 2500", "SCH-0010", "4.2", "B", counters={"GoodParts": 1200}
    ),
    SimDevice("Robot 3", "KUKA", "KR 210 R2700", "KUKA-503311", "8.7.4", machine=True),
]


@pytest.fixture(scope="module")
def opcua_server():
    if not nodeset_dir().exists():
        pytest.skip(f"needs the OPC UA nodesets in {nodeset_dir()} (../shared/data/opcua)")
    with OpcUaSimulator(ADDED) as sim:
        yield sim


def test_sync_finds_the_machinery_example_machines_and_the_added_devices(world, opcua_server):
    connector = make_connector(world.factory_a, settings={"endpoint": opcua_server.endpoint})
    run = run_sync(connector)
    assert run.status == "succeeded", run.message
    engel = Device.objects.get(factory=world.factory_a, serial_number="235223")
    assert (engel.manufacturer, engel.model, engel.firmware) == (
        "ENGEL AUSTRIA GMBH",
        "Viper 6",
        "70.0.1",
    )
    # The example machine is reachable by two nodes with one identity: one device.
    assert engel.source_records.count() >= 1
    press = Device.objects.get(serial_number="SCH-0010")
    assert (press.manufacturer, press.model, press.firmware, press.hardware_revision) == (
        "Schuler",
        "MSD 2500",
        "4.2",
        "B",
    )
    robot = Device.objects.get(serial_number="KUKA-503311")
    assert robot.manufacturer == "KUKA" and robot.name == "Robot 3"
    assert run.created == Device.objects.filter(factory=world.factory_a).count()

    again = run_sync(connector)
    assert again.status == "succeeded"
    assert (again.created, again.updated, again.stale) == (0, 0, 0)
    assert again.unchanged == run.created + run.updated + run.unchanged


def test_mapped_counters_land_as_metric_samples(world, opcua_server):
    node = opcua_server.counter_nodes["Press 10/GoodParts"]
    connector = make_connector(
        world.factory_a,
        settings={"endpoint": opcua_server.endpoint, "metric_map": {node: "good_count"}},
    )
    run = run_sync(connector)
    assert run.status == "succeeded" and run.metrics == 1
    sample = MetricSample.objects.get(factory=world.factory_a, metric="good_count")
    assert sample.value == 1200 and sample.source == "opcua"


def test_username_and_password_are_used_and_a_wrong_password_fails_the_run(world):
    with OpcUaSimulator(ADDED[:1], load_nodesets=False, users={"operator": "op-pass"}) as sim:
        good = make_connector(
            world.factory_a,
            name="with login",
            settings={"endpoint": sim.endpoint},
            credentials={"username": "operator", "password": "op-pass"},
        )
        assert run_sync(good).status == "succeeded"
        assert Device.objects.filter(serial_number="SCH-0010").exists()
        bad = make_connector(
            world.factory_a,
            name="wrong login",
            settings={"endpoint": sim.endpoint},
            credentials={"username": "operator", "password": "nope"},
        )
        run = run_sync(bad)
        assert run.status == "failed"
        assert "op-pass" not in run.message and "nope" not in run.message


def test_an_unreachable_server_fails_the_run_with_a_clear_message(world):
    from connectors.simulators.base import free_port

    connector = make_connector(
        world.factory_a, settings={"endpoint": f"opc.tcp://127.0.0.1:{free_port()}"}
    )
    run = run_sync(connector)
    assert run.status == "failed" and "source unreachable" in run.message
