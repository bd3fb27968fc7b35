"""The demo simulators (what ``manage.py simulate`` runs) serve every demo connector.

In-process, so it runs on SQLite too; ``test_mqtt_host_process.py`` runs the command
itself and ends it with SIGTERM (PostgreSQL).
"""

from __future__ import annotations

import pytest

from connectors.demo_simulators import demo_simulators
from connectors.simulators.opcua_server import nodeset_dir
from tests.connectors.helpers import run_sync
from tests.connectors.mqtt_host_helpers import unique
from tests.connectors.test_mqtt_host_process import demo_connectors

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_simulators_answer_on_the_demo_connectors_addresses(world):
    connectors = demo_connectors(unique("puebla"))
    # Edge nodes that do not wait for a host and publish data: a listening sync hears
    # the data, asks for rebirths and gets the births.
    with demo_simulators(primary_host=False, data_seconds=0.2) as lines:
        assert len(lines) == 4
        runs = {name: run_sync(c) for name, c in connectors.items()}
    for name, run in runs.items():
        assert run.status == "succeeded", (name, run.message)
    seen = {name: run.created + run.updated + run.unchanged for name, run in runs.items()}
    # With the shared Machinery nodesets loaded, the press shop's server also carries the
    # Machinery Examples' machine, reachable by two nodes with one identity.
    examples = 2 if nodeset_dir().exists() else 0
    assert seen == {
        "Press shop OPC UA": 130 + examples,
        "CNC cells OPC UA": 12,
        "CNC gateway Modbus": 36,
        "Assembly Sparkplug B": 3 + 58,
    }
