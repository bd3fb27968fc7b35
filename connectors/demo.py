"""Demo connectors of the Northwind plants, synced once against in-process simulators.

Stuttgart's presses and robots answer on OPC UA (with the OPC UA Machinery example
machines), Puebla's edge nodes speak Sparkplug B over MQTT (Mosquitto on 127.0.0.1:1883
when it answers, else an embedded broker, on 1883 when that port is free), Pilsen's CNC
cells sit behind a Modbus TCP gateway and also expose OPC UA. The simulators run on
127.0.0.1 for the length of the load; each connector syncs for real, then the plants
change a little (a gateway goes quiet, cells are retired, devices die) and a second sync
shows stale and offline devices.
Deterministic (fixed names, serials and counts) and idempotent (connectors are updated
in place; syncs of unchanged data write nothing). ``manage.py simulate``
(``connectors.demo_simulators``) runs the same plants, as the load leaves them, on the
connectors' addresses for as long as the demo runs.
"""

from __future__ import annotations

import errno
import random
import threading
from dataclasses import dataclass

from django.db import transaction

from connectors.choices import SyncTrigger
from connectors.models import Connector
from connectors.services import connector_create, connector_update, sync_run_execute, sync_run_start
from connectors.simulators.base import bindable, free_port
from connectors.simulators.modbus_server import ModbusSimulator, ModbusUnit
from connectors.simulators.mqtt import SparkplugDevice, SparkplugSimulator, broker, wait_until
from connectors.simulators.opcua_server import OpcUaSimulator, SimDevice, nodeset_dir

SEED = 2026
LOCAL = ["127.0.0.0/8"]


def _port(preferred: int) -> int:
    """``preferred`` when a server can bind it now, else a free port. The demo's fixed
    ports lie in Linux's ephemeral range, so any outgoing connection of the machine (to
    the database, a browser, a broker) may hold one as its local port: nothing answers
    there, yet no server can listen on it."""
    return preferred if bindable(preferred) else free_port()


def _any_port(_preferred: int) -> int:
    return free_port()


def stuttgart_devices(rng: random.Random) -> list[SimDevice]:
    presses = [
        SimDevice(
            f"Press {i:02d}",
            "Schuler",
            rng.choice(["MSD 2500", "MSD 1600", "ServoLine 800"]),
            f"SCH-{40100 + i}",
            rng.choice(["4.2.1", "4.2.1", "4.3.0"]),
            "B",
            counters={"GoodParts": rng.randint(20000, 90000)} if i <= 6 else {},
        )
        for i in range(1, 71)
    ]
    robots = [
        SimDevice(
            f"Robot {i:02d}",
            "KUKA",
            rng.choice(["KR 210 R2700", "KR 120 R3100"]),
            f"KUKA-{503300 + i}",
            rng.choice(["8.7.4", "8.6.9"]),
            machine=True,
        )
        for i in range(1, 61)
    ]
    return presses + robots


def puebla_nodes(rng: random.Random) -> dict[str, list[SparkplugDevice]]:
    kinds = [
        ("nutrunner", "Atlas Copco", "Power Focus 6000", "PF6"),
        ("agv", "MiR", "MiR250", "MIR"),
        ("vision", "Cognex", "In-Sight 3800", "CGX"),
        ("conveyor", "Siemens", "SIMATIC S7-1500", "S7"),
    ]
    nodes = {}
    for n in range(1, 5):
        devices = []
        for i in range(1, 21):
            name, vendor, model, prefix = kinds[(n + i) % len(kinds)]
            devices.append(
                SparkplugDevice(
                    f"{name}-{i:02d}",
                    vendor,
                    model,
                    f"{prefix}-{n}{i:03d}",
                    rng.choice(["1.4.2", "1.5.0", "2.0.1"]),
                    {
                        "good_count": rng.randint(500, 5000),
                        "cycle_time_s": round(rng.uniform(20, 90), 1),
                    },
                )
            )
        nodes[f"cell-{n}"] = devices
    return nodes


def pilsen_units(rng: random.Random) -> list[ModbusUnit]:
    return [
        ModbusUnit(
            i,
            f"CNC-{i:04d}",
            good_count=rng.randint(1000, 9000),
            total_count=rng.randint(9000, 9900),
        )
        for i in range(1, 41)
    ]


def pilsen_cells() -> list[SimDevice]:
    return [
        SimDevice(f"CNC cell {i:02d}", "DMG MORI", "DMU 50 3rd Gen", f"CNC-{i:04d}", "3.2.7")
        for i in range(1, 13)
    ]


@dataclass
class DemoPlants:
    """The demo plants as ``load_demo`` leaves them (the same seed, the same draws)."""

    stuttgart: list[SimDevice]
    pilsen_cells: list[SimDevice]
    pilsen_units: list[ModbusUnit]  # all 40; four were retired (RETIRED_UNITS)
    puebla: dict[str, list[SparkplugDevice]]


RETIRED_UNITS = 4  # Pilsen's last four CNC cells left the Modbus gateway
QUIET_NODE = "cell-4"  # Puebla's gateway that went quiet
DEAD_DEVICES = 2  # Puebla cell-1's first nutrunners that died
PUEBLA_HOST_ID = "coe-puebla"  # the primary host Puebla's edge nodes wait for


def demo_plants() -> DemoPlants:
    rng = random.Random(SEED)
    stuttgart = stuttgart_devices(rng)
    units = pilsen_units(rng)
    return DemoPlants(stuttgart, pilsen_cells(), units, puebla_nodes(rng))


def _upsert(factory, name: str, kind: str, settings: dict, schedule: str = "@hourly") -> Connector:
    connector = Connector.objects.filter(factory=factory, name=name).first()
    if connector is None:
        return connector_create(
            factory=factory, name=name, kind=kind, settings=settings, schedule=schedule
        )
    return connector_update(
        connector=connector, settings=settings, kind=kind, schedule=schedule, enabled=True
    )


def _sync(connector: Connector, stdout) -> None:
    run = sync_run_start(connector=connector, trigger=SyncTrigger.SCHEDULE, enqueue=False)
    run = sync_run_execute(run_id=run.pk)
    counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
    stdout.write(
        f"  {connector.factory.slug} / {connector.name}: {run.status} ({counts}) {run.message}"
    )


def _stuttgart(factory, rng, stdout, choose_port=_port) -> None:
    with OpcUaSimulator(
        stuttgart_devices(rng), load_nodesets=nodeset_dir().exists(), port=choose_port(48400)
    ) as sim:
        metric_map = {node: "good_count" for key, node in sim.counter_nodes.items()}
        connector = _upsert(
            factory,
            "Press shop OPC UA",
            "opcua",
            {"endpoint": sim.endpoint, "metric_map": metric_map},
        )
        _sync(connector, stdout)


def _pilsen(factory, rng, stdout, choose_port=_port) -> None:
    units = pilsen_units(rng)
    cells = pilsen_cells()
    with OpcUaSimulator(cells, load_nodesets=False, port=choose_port(48410)) as sim:
        _sync(_upsert(factory, "CNC cells OPC UA", "opcua", {"endpoint": sim.endpoint}), stdout)
    modbus_port = choose_port(50200)
    with ModbusSimulator(
        units, vendor="DMG MORI", product_code="DMU 50", revision="3.2", port=modbus_port
    ) as sim:
        connector = _upsert(factory, "CNC gateway Modbus", "modbus", sim.settings())
        _sync(connector, stdout)
    # Four cells were retired: the next full sync no longer finds them (stale, kept).
    with ModbusSimulator(
        units[:-RETIRED_UNITS],
        vendor="DMG MORI",
        product_code="DMU 50",
        revision="3.2",
        port=modbus_port,
    ):
        _sync(connector, stdout)


def _puebla(factory, rng, stdout, choose_port=_port) -> None:
    nodes = puebla_nodes(rng)
    with (
        broker(prefer_local=True, port=choose_port(1883)) as (host, port),
        SparkplugSimulator(host, port, "puebla", nodes) as sim,
    ):
        settings = {
            "host": host,
            "port": port,
            "group_id": "puebla",
            "listen_seconds": 2,
            "host_id": PUEBLA_HOST_ID,
        }
        connector = _upsert(factory, "Assembly Sparkplug B", "mqtt", settings)
        _sync(connector, stdout)
        # Cell 4's gateway goes quiet (stale at the next sync); two nutrunners die during it.
        sim.node_alive[QUIET_NODE] = False
        births = sim.births_published

        def deaths() -> None:
            # The plant's side, while the sync listens: once the rebirths are out.
            if wait_until(lambda: sim.births_published >= births + 3, timeout=10):
                for device in nodes["cell-1"][:DEAD_DEVICES]:
                    sim.publish_device_death("cell-1", device.device_id)

        plant = threading.Thread(target=deaths, daemon=True)
        plant.start()
        _sync(connector, stdout)
        plant.join(15)


def _plant(step, factory, rng: random.Random, stdout) -> None:
    """One plant's simulators and syncs. A port taken between choosing it and the
    simulator's bind runs the plant again on free ports, with the same devices (the
    random state restored); a simulator that cannot start at all is reported."""
    state = rng.getstate()
    for choose_port in (_port, _any_port):
        rng.setstate(state)
        try:
            step(factory, rng, stdout, choose_port=choose_port)
            return
        except OSError as exc:  # ConnectionError and TimeoutError among them
            if exc.errno == errno.EADDRINUSE and choose_port is _port:
                stdout.write(
                    f"  {factory.slug}: a simulator's port was taken ({exc}); again on free ports"
                )
                continue
            stdout.write(
                f"  {factory.slug}: simulator unavailable ({exc}); its connector was not synced"
            )
            return


def load_demo(core: dict, stdout) -> None:
    """Demo connectors for the three connected Automotive plants, each synced for real."""
    factories = core["factories"]
    plants = ["stuttgart-press", "puebla-assembly", "pilsen-machining"]
    with transaction.atomic():
        for slug in plants:
            factory = factories[slug]
            if factory.network_allowlist != LOCAL:
                factory.network_allowlist = LOCAL
                factory.save(update_fields=["network_allowlist"])
    stdout.write("Connectors: syncing the demo plants against local simulators")
    rng = random.Random(SEED)
    for step, slug in (
        (_stuttgart, "stuttgart-press"),
        (_pilsen, "pilsen-machining"),
        (_puebla, "puebla-assembly"),
    ):
        _plant(step, factories[slug], rng, stdout)
    from connectors.demo_kpis import load_kpi_demo

    load_kpi_demo(core, stdout)
