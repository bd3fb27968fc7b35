"""The demo's simulators start even when a fixed port is held by an outgoing connection.

The demo prefers fixed ports (48400, 48410, 50200) that lie in Linux's ephemeral range:
any outgoing connection on the machine (to PostgreSQL, a browser, a broker) may hold one
as its local port. Nothing answers there, so "is anything listening?" says free, yet no
server can bind it. CI once loaded the demo while a parallel test process's connection
held such a port, and the press shop's connector was not synced.
"""

from __future__ import annotations

import errno
import random
import socket
from contextlib import contextmanager
from io import StringIO

import pytest

from connectors import demo
from connectors.models import SyncRun
from connectors.simulators.base import bindable, port_open
from connectors.simulators.modbus_server import ModbusSimulator
from connectors.simulators.opcua_server import OpcUaSimulator


@contextmanager
def held_as_local_port(port: int):
    """An established connection whose local end is 127.0.0.1:``port``."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.socket()
        try:
            client.bind(("127.0.0.1", port))
        except OSError as exc:  # already held by something else: as good for these tests
            client.close()
            assert exc.errno == errno.EADDRINUSE
            yield
            return
        client.connect(listener.getsockname())
        accepted, _ = listener.accept()
        try:
            yield
        finally:
            accepted.close()
            client.close()


def test_a_port_held_by_an_outgoing_connection_is_not_chosen():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with held_as_local_port(port):
        assert not port_open("127.0.0.1", port)  # nothing answers there …
        assert not bindable(port)  # … yet no server can listen on it
        assert demo._port(port) != port


def test_simulators_on_a_held_port_fail_with_address_in_use():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with held_as_local_port(port):
        with pytest.raises(OSError) as opcua, OpcUaSimulator([], load_nodesets=False, port=port):
            pass
        assert opcua.value.errno == errno.EADDRINUSE
        # pymodbus gives up listening without an error of its own: the simulator says so
        # instead of serving nothing.
        unit = demo.pilsen_units(random.Random(1))[:1]
        with pytest.raises(OSError) as modbus, ModbusSimulator(unit, port=port):
            pass
        assert modbus.value.errno == errno.EADDRINUSE


@pytest.mark.django_db(transaction=True)
def test_a_plant_whose_port_is_taken_at_bind_time_runs_again_on_free_ports(world, monkeypatch):
    """The port passes the check, then is taken before the Modbus gateway binds it: the
    plant runs again on free ports, with the same devices, and both connectors sync."""
    factory = world.factory_a
    factory.network_allowlist = demo.LOCAL
    factory.save(update_fields=["network_allowlist"])
    monkeypatch.setattr(demo, "bindable", lambda port: True)  # the check passes …
    out, rng = StringIO(), random.Random(demo.SEED)
    with held_as_local_port(50200):  # … the bind does not
        demo._plant(demo._pilsen, factory, rng, out)
    lines = out.getvalue()
    assert "a simulator's port was taken" in lines and "again on free ports" in lines
    assert f"{factory.slug} / CNC cells OPC UA: succeeded" in lines
    assert f"{factory.slug} / CNC gateway Modbus: succeeded" in lines
    assert "simulator unavailable" not in lines
    assert not SyncRun.objects.filter(status="failed").exists()
    gateway = factory.connectors.get(name="CNC gateway Modbus")
    assert gateway.settings["port"] != 50200
    # The same cells as a run that had its ports at once: the random state was restored
    # before the second try, so the draws after the plant are what one try leaves.
    once = random.Random(demo.SEED)
    demo.pilsen_units(once)
    assert rng.getstate() == once.getstate()
    assert factory.devices.filter(serial_number="CNC-0012").exists()
