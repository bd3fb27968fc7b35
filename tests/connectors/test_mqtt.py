"""MQTT source through a real broker: Sparkplug B births, data, deaths; plain JSON topics.

The broker is an embedded amqtt broker, or the one of ``MQTT_BROKER_URL`` (CI: Mosquitto at
mqtt://127.0.0.1:1883). Group ids and topics are unique per test so parallel runs never meet.
"""

from __future__ import annotations

import json
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest

from connectors.models import Device, MetricSample
from connectors.services import sync_run_execute, sync_run_start
from connectors.simulators.mqtt import SparkplugDevice, SparkplugSimulator, broker, wait_until
from tests.connectors.helpers import make_connector, run_sync

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def mqtt_broker():
    with broker() as address:
        yield address


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def plant(n: int = 3) -> dict[str, list[SparkplugDevice]]:
    return {
        "line1": [
            SparkplugDevice(
                f"press{i}", "Schuler", "MSD 1600", f"SCH-{i:03d}", "2.1", {"good_count": 100 + i}
            )
            for i in range(n)
        ]
    }


def test_births_become_devices_and_data_becomes_metric_samples(world, mqtt_broker):
    host, port = mqtt_broker
    group = unique("grp")
    with SparkplugSimulator(host, port, group, plant()) as sim:
        connector = make_connector(
            world.factory_a,
            "mqtt",
            settings={"host": host, "port": port, "group_id": group, "listen_seconds": 1.5},
        )
        run = run_sync(connector)
        assert run.status == "succeeded", run.message
        assert sim.rebirths >= 1  # the sync asked the edge node to rebirth
    # The edge node itself (NBIRTH) and its three devices (DBIRTH).
    assert run.created == 4
    press = Device.objects.get(serial_number="SCH-001")
    assert (press.manufacturer, press.model, press.firmware) == ("Schuler", "MSD 1600", "2.1")
    record = press.source_records.get()
    assert record.source_id == f"{group}/line1/press1"
    samples = MetricSample.objects.filter(device=press, metric="good_count")
    assert samples.exists() and samples.first().value == 101


def test_a_device_death_marks_the_device_offline(world, mqtt_broker):
    host, port = mqtt_broker
    group = unique("grp")
    with SparkplugSimulator(host, port, group, plant()) as sim:
        connector = make_connector(
            world.factory_a,
            "mqtt",
            settings={"host": host, "port": port, "group_id": group, "listen_seconds": 2},
        )
        run = sync_run_start(connector=connector, enqueue=False)
        worker = threading.Thread(target=sync_run_execute, kwargs={"run_id": run.pk})
        worker.start()
        assert wait_until(lambda: sim.births_published >= 2)  # the initial round + the rebirth
        sim.publish_device_death("line1", "press2")
        worker.join(30)
    run.refresh_from_db()
    assert run.status == "succeeded", run.message
    assert Device.objects.get(serial_number="SCH-002").status == "offline"
    assert Device.objects.get(serial_number="SCH-000").status == "active"


def test_a_node_that_no_longer_answers_leaves_its_devices_stale(world, mqtt_broker):
    host, port = mqtt_broker
    group = unique("grp")
    settings = {"host": host, "port": port, "group_id": group, "listen_seconds": 1.5}
    connector = make_connector(world.factory_a, "mqtt", settings=settings)
    nodes = {
        **plant(),
        "line2": [SparkplugDevice("robot", "KUKA", "KR 6", "KUKA-1", "8.7", {"cycles": 7})],
    }
    with SparkplugSimulator(host, port, group, nodes):
        assert run_sync(connector).created == 6
    # line1's gateway is gone; line2 still answers: line1's node and devices go stale.
    with SparkplugSimulator(host, port, group, {"line2": nodes["line2"]}):
        second = run_sync(connector)
    assert second.status == "succeeded", second.message
    assert second.stale == 4
    assert Device.objects.filter(status="stale").count() == 4


def test_a_sync_that_no_edge_node_answers_ends_partial_and_marks_nothing_stale(world, mqtt_broker):
    host, port = mqtt_broker
    group = unique("grp")
    settings = {"host": host, "port": port, "group_id": group, "listen_seconds": 1}
    connector = make_connector(world.factory_a, "mqtt", settings=settings)
    with SparkplugSimulator(host, port, group, plant()):
        assert run_sync(connector).created == 4
    # Nobody answers the rebirth requests: silence proves nothing.
    second = run_sync(connector)
    assert (second.status, second.message) == ("partial", "no edge node answered in 1 s")
    assert second.stale == 0
    assert not Device.objects.filter(status="stale").exists()


def test_plain_json_topics_with_a_field_mapping(world, mqtt_broker):
    host, port = mqtt_broker
    prefix = unique("plant")
    connector = make_connector(
        world.factory_a,
        "mqtt",
        settings={
            "host": host,
            "port": port,
            "mode": "json",
            "topics": [f"{prefix}/+/status"],
            "mapping": {"source_id": "id", "serial_number": "sn", "manufacturer": "vendor"},
            "metrics": {"parts": "good_count"},
            "listen_seconds": 1.5,
        },
    )
    publisher = mqtt.Client(client_id=unique("pub"))
    publisher.connect(host, port)
    publisher.loop_start()
    run = sync_run_start(connector=connector, enqueue=False)
    worker = threading.Thread(target=sync_run_execute, kwargs={"run_id": run.pk})
    worker.start()
    try:
        body = {"id": "filler-7", "sn": "FIL-0007", "vendor": "Krones", "parts": 42}
        # Publish while the sync listens (its subscription races the first message).
        assert wait_until(
            lambda: (
                not publisher.publish(f"{prefix}/filler7/status", json.dumps(body), qos=1)
                or not worker.is_alive()
            ),
            timeout=20,
        )
        worker.join(30)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    run.refresh_from_db()
    assert run.status == "succeeded", run.message
    device = Device.objects.get(serial_number="FIL-0007")
    assert device.manufacturer == "Krones"
    assert device.source_records.get().source_id == "filler-7"
    assert MetricSample.objects.filter(device=device, metric="good_count", value=42).exists()
