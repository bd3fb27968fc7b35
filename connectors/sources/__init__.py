"""Source adapters, one module per kind, registered in one kind→class table.

An adapter fetches from its source and yields plain records (``connectors.records``); it
never writes the database. Heavy protocol libraries are imported inside the adapters, so
importing this table is cheap.
"""

from __future__ import annotations

from connectors.sources.base import Adapter
from connectors.sources.delivery import GitHubAdapter, GitLabAdapter, JiraAdapter
from connectors.sources.modbus import ModbusAdapter
from connectors.sources.mqtt import MqttAdapter
from connectors.sources.opcua import OpcUaAdapter
from connectors.sources.push import PushAdapter
from connectors.sources.rest import NetBoxAdapter, RestAdapter, SnipeITAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    "opcua": OpcUaAdapter,
    "mqtt": MqttAdapter,
    "modbus": ModbusAdapter,
    **{a.kind: a for a in (PushAdapter, RestAdapter, NetBoxAdapter, SnipeITAdapter)},
    **{a.kind: a for a in (GitLabAdapter, GitHubAdapter, JiraAdapter)},
}


def adapter_class(kind: str) -> type[Adapter]:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise ValueError(f"unknown connector kind {kind!r}") from None


def validate_settings(kind: str, settings: dict) -> dict:
    """The settings of a ``kind`` connector, checked and normalised; ValueError when wrong."""
    if not isinstance(settings, dict):
        raise ValueError("settings must be a JSON object")
    return adapter_class(kind).validate_settings(settings)
