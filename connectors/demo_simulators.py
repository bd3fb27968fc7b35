"""The demo plants' simulators on the demo connectors' addresses (``manage.py simulate``).

The plants are those ``load_demo`` builds (same seed), in the state the load leaves them:
Stuttgart's presses and robots and Pilsen's CNC cells on OPC UA, Pilsen's Modbus gateway
without its four retired cells, Puebla's Sparkplug B edge nodes with cell 4 quiet and two
nutrunners of cell 1 dead. The addresses come from the demo connectors in the database
(defaults when the demo is not loaded). Puebla's edge nodes are quiet edges: they birth
on connect and when asked, wait for the primary host (the connector's ``host_id``), and
publish data only every ``data_seconds`` when that is set. With no broker answering on
the connector's address, an embedded broker (amqtt) is started there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

from connectors.demo import (
    DEAD_DEVICES,
    PUEBLA_HOST_ID,
    QUIET_NODE,
    RETIRED_UNITS,
    demo_plants,
)
from connectors.simulators.base import port_open
from connectors.simulators.modbus_server import ModbusSimulator
from connectors.simulators.mqtt import EmbeddedBroker, SparkplugSimulator
from connectors.simulators.opcua_server import OpcUaSimulator, nodeset_dir

# Demo connector → (factory, default port); load_demo moves a port only when it is taken.
DEMO_CONNECTORS = {
    "Press shop OPC UA": ("stuttgart-press", 48400),
    "CNC cells OPC UA": ("pilsen-machining", 48410),
    "CNC gateway Modbus": ("pilsen-machining", 50200),
    "Assembly Sparkplug B": ("puebla-assembly", 1883),
}


def demo_addresses() -> dict[str, dict]:
    """Where each demo connector looks: ``{name: {host, port, …settings}}``."""
    from connectors.models import Connector

    found = {
        name: {"host": "127.0.0.1", "port": port} for name, (_, port) in DEMO_CONNECTORS.items()
    }
    for connector in Connector.objects.filter(name__in=DEMO_CONNECTORS).select_related("factory"):
        factory, _ = DEMO_CONNECTORS[connector.name]
        if connector.factory.slug != factory:
            continue
        settings = dict(connector.settings)
        if connector.kind == "opcua":
            parts = urlsplit(settings["endpoint"])
            settings.update(host=parts.hostname or "127.0.0.1", port=parts.port or 4840)
        found[connector.name] = {**found[connector.name], **settings}
    return found


@contextmanager
def demo_simulators(
    *, primary_host: bool = True, data_seconds: float | None = None
) -> Iterator[list[str]]:
    """Runs every demo simulator for the block; yields one line per simulator."""
    plants = demo_plants()
    where = demo_addresses()
    lines: list[str] = []
    with ExitStack() as stack:
        press = where["Press shop OPC UA"]
        sim = stack.enter_context(
            OpcUaSimulator(
                plants.stuttgart, load_nodesets=nodeset_dir().exists(), port=press["port"]
            )
        )
        lines.append(f"stuttgart-press: OPC UA {sim.endpoint} ({len(plants.stuttgart)} devices)")
        cells = where["CNC cells OPC UA"]
        sim = stack.enter_context(
            OpcUaSimulator(plants.pilsen_cells, load_nodesets=False, port=cells["port"])
        )
        lines.append(f"pilsen-machining: OPC UA {sim.endpoint} ({len(plants.pilsen_cells)} cells)")
        gateway = where["CNC gateway Modbus"]
        units = plants.pilsen_units[:-RETIRED_UNITS]
        stack.enter_context(
            ModbusSimulator(
                units,
                vendor="DMG MORI",
                product_code="DMU 50",
                revision="3.2",
                port=gateway["port"],
            )
        )
        lines.append(f"pilsen-machining: Modbus 127.0.0.1:{gateway['port']} ({len(units)} units)")
        lines += _puebla(
            stack, plants.puebla, where["Assembly Sparkplug B"], primary_host, data_seconds
        )
        yield lines


def _puebla(stack: ExitStack, nodes, settings: dict, primary_host: bool, data_seconds) -> list[str]:
    host, port = settings["host"], settings["port"]
    lines = []
    if not port_open(host, port):
        embedded = EmbeddedBroker(port)
        embedded.start()
        stack.callback(embedded.stop)
        lines.append(f"puebla-assembly: embedded MQTT broker on 127.0.0.1:{port}")
    for device in nodes["cell-1"][:DEAD_DEVICES]:
        device.alive = False
    host_id = settings.get("host_id", PUEBLA_HOST_ID) if primary_host else None
    sim = SparkplugSimulator(
        host, port, settings.get("group_id", "puebla"), nodes, primary_host_id=host_id
    )
    sim.node_alive[QUIET_NODE] = False
    sim.start(births=True, tick_seconds=data_seconds)
    stack.callback(sim.stop)
    waiting = f", waiting for primary host {host_id}" if host_id else ""
    lines.append(
        f"puebla-assembly: {len(nodes) - 1} Sparkplug B edge nodes on {host}:{port}{waiting}"
        f" ({QUIET_NODE} quiet)"
    )
    return lines
