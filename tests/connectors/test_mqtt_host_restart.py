"""The host application across a broker restart: a Mosquitto process of the test's own is
killed and started again on the same port; the host reconnects with backoff, announces
itself again, and the edge node (waiting for its primary host) births again."""

from __future__ import annotations

import pytest

from connectors.simulators.mqtt import wait_until
from tests.connectors.helpers import run_sync
from tests.connectors.mqtt_host_helpers import (
    db_until,
    mosquitto,
    quiet_edge,
    running_host,
    state_of,
)
from tests.connectors.test_mqtt_host import devices_born, host_state, plant, sparkplug_connector

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_host_reconnects_after_a_broker_restart_and_the_edge_births_again(world):
    with mosquitto() as broker:
        connector = sparkplug_connector(world.factory_a, "127.0.0.1", broker.port)
        group, host_id = connector.settings["group_id"], connector.settings["host_id"]
        with (
            running_host(),
            quiet_edge("127.0.0.1", broker.port, group, plant(), primary_host_id=host_id) as sim,
        ):
            assert db_until(lambda: devices_born(connector, 4))
            first = host_state(connector).connected_at
            births = sim.births_published
            broker.kill()
            assert db_until(lambda: host_state(connector).connected_at is None)
            assert "reconnecting" in host_state(connector).message
            broker.start()  # a fresh broker: no session, no retained message survived
            assert db_until(lambda: (host_state(connector).connected_at or first) > first, 60)
            assert wait_until(lambda: sim.births_published > births, timeout=60)
            assert db_until(lambda: devices_born(connector, 4))
            assert state_of("127.0.0.1", broker.port, host_id)["online"] is True
            run = run_sync(connector)
            assert run.status == "succeeded", run.message
            assert (run.created, run.unchanged, run.stale) == (0, 4, 0)
