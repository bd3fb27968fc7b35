"""The Sparkplug host application against the machine's Mosquitto (127.0.0.1:1883).

The host's main loop runs in a thread here (``running_host``), exactly as ``mqtt_host``
runs it; ``test_mqtt_host_process.py`` runs the command itself. Group and host ids are
unique per test, so runs on one broker never meet.
"""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt
import pytest

from connectors.models import Connector, Device, MetricSample, MqttHostState
from connectors.services import connector_update
from connectors.simulators.mqtt import SparkplugDevice, SparkplugSimulator
from tests.connectors.helpers import make_connector, run_sync
from tests.connectors.mqtt_host_helpers import (
    db_until,
    local_mosquitto,
    quiet_edge,
    running_host,
    state_of,
    unique,
)

pytestmark = pytest.mark.django_db(transaction=True)


def plant(n: int = 3, **metrics) -> dict[str, list[SparkplugDevice]]:
    return {
        "line1": [
            SparkplugDevice(
                f"press{i}", "Schuler", "MSD 1600", f"SCH-{i:03d}", "2.1", dict(metrics)
            )
            for i in range(n)
        ]
    }


def sparkplug_connector(factory, host, port, **settings) -> Connector:
    group, host_id = unique("grp"), unique("host")
    return make_connector(
        factory,
        "mqtt",
        name=unique("edge"),
        settings={
            "host": host,
            "port": port,
            "group_id": group,
            "host_id": host_id,
            "listen_seconds": 1,
            **settings,
        },
    )


def host_state(connector: Connector) -> MqttHostState | None:
    return MqttHostState.objects.filter(connector=connector).first()


def devices_born(connector: Connector, count: int) -> bool:
    state = host_state(connector)
    return state is not None and len(state.devices) == count


def test_a_quiet_edge_waiting_for_the_primary_host_is_found_by_the_host_and_a_sync(world):
    host, port = local_mosquitto()
    connector = sparkplug_connector(world.factory_a, host, port)
    group, host_id = connector.settings["group_id"], connector.settings["host_id"]
    # The edge node publishes nothing at all until its primary host says it is online.
    with quiet_edge(host, port, group, plant(), primary_host_id=host_id) as sim:
        assert sim.births_published == 0
        with running_host():
            assert db_until(lambda: devices_born(connector, 4), timeout=20)
            state = state_of(host, port, host_id)
            assert state["online"] is True and isinstance(state["timestamp"], int)
            # The host recorded the births through the ingest as they arrived.
            assert db_until(lambda: Device.objects.filter(factory=world.factory_a).count() == 4)
            run = run_sync(connector)
            assert run.status == "succeeded", run.message
            assert "read from the host application" in run.message
            assert (run.created, run.unchanged, run.stale) == (0, 4, 0)
            api = world.client("staff").get(f"/api/connectors/{connector.pk}/").json()
            assert api["host"]["running"] and api["host"]["connected"]
            assert api["host"]["last_message_at"] and api["host"]["devices"] == 4
            page = world.client("staff")
            page.force_login(world.users["staff"])
            html = page.get(f"/connectors/{connector.pk}/").content.decode()
            assert "running and connected" in html and host_id in html
        # Stopped: its offline STATE is retained, and the edge node ended its session.
        assert state_of(host, port, host_id)["online"] is False
        assert db_until(lambda: not sim.host_online["line1"])
    assert host_state(connector).heartbeat_at is None
    Device.objects.filter(factory=world.factory_a).update(status="active")
    silent = run_sync(connector)  # no host: the sync listens, and nobody answers
    assert (silent.status, silent.message) == ("partial", "no edge node answered in 1 s")
    assert silent.stale == 0


def test_the_host_asks_known_nodes_and_nodes_it_hears_data_from_for_a_rebirth(world):
    host, port = local_mosquitto()
    known = sparkplug_connector(world.factory_a, host, port)
    talking = sparkplug_connector(world.factory_a, host, port)
    quiet = SparkplugSimulator(host, port, known.settings["group_id"], plant())
    with running_host():  # a first host run hears the quiet edge born: now it is known
        assert db_until(lambda: (s := host_state(known)) and s.connected_at, timeout=10)
        quiet.start(tick_seconds=None)
        assert db_until(lambda: devices_born(known, 4), timeout=20)
    try:
        births = quiet.births_published
        with (
            SparkplugSimulator(host, port, talking.settings["group_id"], plant(2, rpm=7)) as sim,
            running_host(),
        ):
            # Asked because it was known: it births again, and the new session hears it.
            assert db_until(lambda: quiet.births_published > births, timeout=20)
            assert db_until(lambda: devices_born(known, 4), timeout=20)
            assert db_until(lambda: devices_born(talking, 3), timeout=20)
            assert sim.rebirths >= 1  # asked because its data came without a birth
            assert db_until(
                lambda: MetricSample.objects.filter(metric="rpm", factory=world.factory_a).exists()
            )
    finally:
        quiet.stop()


def test_births_deaths_and_data_are_recorded_as_they_arrive(world):
    host, port = local_mosquitto()
    connector = sparkplug_connector(world.factory_a, host, port)
    with running_host():
        assert db_until(lambda: (s := host_state(connector)) and s.connected_at, timeout=10)
        with quiet_edge(host, port, connector.settings["group_id"], plant(good_count=5)) as sim:
            assert db_until(lambda: Device.objects.filter(status="active").count() == 4)
            sim.nodes["line1"][0].metrics["good_count"] = 6
            sim.publish_data("line1")
            samples = MetricSample.objects.filter(metric="good_count", value=6)
            assert db_until(lambda: samples.filter(device__serial_number="SCH-000").exists())
            sim.publish_device_death("line1", "press2")
            assert db_until(lambda: Device.objects.get(serial_number="SCH-002").status == "offline")
            assert db_until(lambda: host_state(connector).deaths == 1)
            state = host_state(connector)
            assert (
                state.devices[f"{connector.settings['group_id']}/line1/press2"]["online"] is False
            )
            assert state.nodes[f"{connector.settings['group_id']}/line1"]["online"] is True
        # The simulator's NDEATH on shutdown: the node and its devices go offline.
        assert db_until(lambda: Device.objects.filter(status="offline").count() == 4)
        run = run_sync(connector)
        assert run.status == "succeeded", run.message
        assert run.stale == 0  # offline devices the host knows are reported, not stale


def test_connectors_added_changed_and_removed_while_the_host_runs(world):
    host, port = local_mosquitto()
    with running_host(poll_seconds=0.5):
        added = sparkplug_connector(world.factory_a, host, port)
        assert db_until(lambda: (s := host_state(added)) and s.connected_at, timeout=10)
        first_id = added.settings["host_id"]
        assert state_of(host, port, first_id)["online"] is True
        new_id = unique("host")
        connector_update(connector=added, settings={**added.settings, "host_id": new_id})
        assert db_until(lambda: host_state(added).host_id == new_id, timeout=10)
        assert db_until(lambda: host_state(added).connected_at is not None, timeout=10)
        assert state_of(host, port, new_id)["online"] is True
        assert state_of(host, port, first_id)["online"] is False  # the old session left cleanly
        connector_update(connector=added, enabled=False)
        assert db_until(lambda: host_state(added).heartbeat_at is None, timeout=10)
        assert state_of(host, port, new_id)["online"] is False
        removed = sparkplug_connector(world.factory_a, host, port)
        assert db_until(lambda: (s := host_state(removed)) and s.connected_at, timeout=10)
        removed_id = removed.settings["host_id"]
        removed.delete()
        assert db_until(lambda: state_of(host, port, removed_id)["online"] is False, timeout=10)


def test_a_connector_the_allowlist_blocks_is_not_served_and_says_why(world):
    host, port = local_mosquitto()
    world.factory_b.network_allowlist = ["10.0.0.0/8"]
    world.factory_b.save()
    connector = sparkplug_connector(world.factory_b, host, port)
    with running_host():
        assert db_until(lambda: (s := host_state(connector)) and s.message, timeout=10)
    state = host_state(connector)
    assert "not on the factory's network allowlist" in state.message
    assert state.connected_at is None


def test_a_host_that_stopped_beating_is_not_read_and_the_sync_listens(world):
    host, port = local_mosquitto()
    connector = sparkplug_connector(world.factory_a, host, port)
    MqttHostState.objects.create(
        connector=connector,
        host_id="gone",
        heartbeat_at="2020-01-01T00:00:00Z",
        connected_at="2020-01-01T00:00:00Z",
        devices={"x/y": {"serial_number": "GHOST-1", "online": True}},
    )
    run = run_sync(connector)
    assert (run.status, run.message) == ("partial", "no edge node answered in 1 s")
    assert not Device.objects.filter(serial_number="GHOST-1").exists()


def test_json_topics_are_recorded_by_the_host_and_read_by_a_sync(world):
    host, port = local_mosquitto()
    prefix = unique("plant")
    connector = make_connector(
        world.factory_a,
        "mqtt",
        name=unique("json"),
        settings={
            "host": host,
            "port": port,
            "mode": "json",
            "topics": [f"{prefix}/+/status"],
            "mapping": {"source_id": "id", "serial_number": "sn"},
            "metrics": {"parts": "good_count"},
            "host_id": unique("host"),
            "listen_seconds": 1,
        },
    )
    publisher = mqtt.Client(client_id=unique("pub"))
    publisher.connect(host, port)
    publisher.loop_start()
    try:
        with running_host():
            assert db_until(lambda: (s := host_state(connector)) and s.connected_at, timeout=10)
            body = {"id": "filler-7", "sn": "FIL-0007", "parts": 42}
            topic = f"{prefix}/filler7/status"
            # Published until heard: the host's subscription may still be on its way.
            assert db_until(
                lambda: (
                    publisher.publish(topic, json.dumps(body), qos=1)
                    and Device.objects.filter(serial_number="FIL-0007").exists()
                )
            )
            assert db_until(lambda: MetricSample.objects.filter(metric="good_count").exists())
            run = run_sync(connector)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    assert run.status == "succeeded", run.message
    assert (run.created, run.unchanged) == (0, 1)
