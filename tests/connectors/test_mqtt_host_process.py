"""``mqtt_host`` and ``simulate`` as the processes they are, ended with SIGTERM.

The processes must see the test's committed rows, so these tests need PostgreSQL
(``DATABASE_URL``); on SQLite they skip, and ``test_mqtt_host.py`` covers the host's loop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager

import pytest
from django.db import connection

from coe.models import Factory
from connectors.demo import PUEBLA_HOST_ID
from connectors.simulators.base import free_port
from connectors.simulators.opcua_server import nodeset_dir
from tests import worker
from tests.connectors.helpers import make_connector, run_sync
from tests.connectors.mqtt_host_helpers import (
    db_until,
    local_mosquitto,
    running_host,
    state_of,
    unique,
)
from tests.connectors.test_mqtt_host import host_state, sparkplug_connector

pytestmark = pytest.mark.django_db(transaction=True)


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): a subprocess cannot share SQLite's test db")


@contextmanager
def command(*args: str):
    """``manage.py <args>`` against the test database; yields the Popen."""
    env = {**os.environ, "DATABASE_URL": worker.test_database_url(), "COE_TESTING": "1"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=worker.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def stop(proc: subprocess.Popen) -> str:
    """SIGTERM, then the exit code must be 0; returns what the process printed."""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def wait_for_line(proc: subprocess.Popen, text: str, limit: int = 200) -> list[str]:
    lines = []
    for _ in range(limit):
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"exited before {text!r}: {''.join(lines)}")
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} in {''.join(lines)}")


def test_sigterm_ends_mqtt_host_cleanly_with_its_offline_state(world):
    needs_postgresql()
    host, port = local_mosquitto()
    connector = sparkplug_connector(world.factory_a, host, port)
    host_id = connector.settings["host_id"]
    with command("mqtt_host", "--poll-seconds", "0.5") as proc:
        assert db_until(lambda: (s := host_state(connector)) and s.connected_at, 30)
        assert state_of(host, port, host_id)["online"] is True
        out = stop(proc)
    assert "mqtt_host: stopped" in out
    assert state_of(host, port, host_id)["online"] is False
    state = host_state(connector)
    assert (state.heartbeat_at, state.connected_at) == (None, None)


def demo_connectors(group: str) -> dict[str, object]:
    """The four demo connectors, on free ports (MQTT: the machine's Mosquitto)."""
    host, port = local_mosquitto()
    factories = {
        slug: Factory.objects.create(slug=slug, name=slug, kind="manufacturing")
        for slug in ("stuttgart-press", "pilsen-machining", "puebla-assembly")
    }
    modbus_port = free_port()
    return {
        "Press shop OPC UA": make_connector(
            factories["stuttgart-press"],
            "opcua",
            name="Press shop OPC UA",
            settings={"endpoint": f"opc.tcp://127.0.0.1:{free_port()}/coe/"},
        ),
        "CNC cells OPC UA": make_connector(
            factories["pilsen-machining"],
            "opcua",
            name="CNC cells OPC UA",
            settings={"endpoint": f"opc.tcp://127.0.0.1:{free_port()}/coe/"},
        ),
        "CNC gateway Modbus": make_connector(
            factories["pilsen-machining"],
            "modbus",
            name="CNC gateway Modbus",
            settings={
                "port": modbus_port,
                "unit_ids": list(range(1, 41)),
                "serial_register": {"address": 100, "count": 8},
            },
        ),
        "Assembly Sparkplug B": make_connector(
            factories["puebla-assembly"],
            "mqtt",
            name="Assembly Sparkplug B",
            settings={
                "host": host,
                "port": port,
                "group_id": group,
                "host_id": unique(PUEBLA_HOST_ID),
                "listen_seconds": 2,
            },
        ),
    }


def test_simulate_serves_every_demo_connector_until_sigterm(world):
    needs_postgresql()
    connectors = demo_connectors(unique("puebla"))
    with command("simulate") as proc:
        wait_for_line(proc, "simulate: running")
        with running_host():  # Puebla's edge nodes wait for their primary host
            runs = {name: run_sync(c) for name, c in connectors.items()}
        out = stop(proc)
    assert "simulate: stopped" in out
    for name, run in runs.items():
        assert run.status == "succeeded", (name, run.message)
    seen = {name: run.created + run.updated + run.unchanged for name, run in runs.items()}
    # Stuttgart: 70 presses + 60 robots; Pilsen: 12 cells on OPC UA, 36 of 40 units on
    # Modbus (four retired); Puebla: cells 1-3 (cell 4 quiet), 20 devices each, two dead
    # (the host recorded Puebla's births before the sync read them: unchanged).
    assert seen == {
        # With the shared Machinery nodesets loaded, the press shop's server also carries the
        # Machinery Examples' machine, reachable by two nodes with one identity.
        "Press shop OPC UA": 130 + (2 if nodeset_dir().exists() else 0),
        "CNC cells OPC UA": 12,
        "CNC gateway Modbus": 36,
        "Assembly Sparkplug B": 3 + 58,
    }


def test_the_simulated_edge_without_a_host_leaves_a_sync_partial(world):
    needs_postgresql()
    connectors = demo_connectors(unique("puebla"))
    with command("simulate") as proc:
        wait_for_line(proc, "simulate: running")
        run = run_sync(connectors["Assembly Sparkplug B"])
        stop(proc)
    assert (run.status, run.message) == ("partial", "no edge node answered in 2 s")
