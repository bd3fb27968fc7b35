"""Reads of the host application's state: is a host running, what has it heard."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from connectors.mqtt_host.state import MqttHostState

# The host moves its heartbeat every poll (3 s by default); past this it is taken as gone.
HOST_STALE_SECONDS = 15


def host_running(state: MqttHostState | None, now=None) -> bool:
    """Whether a host process has shown itself for the connector recently."""
    if state is None or state.heartbeat_at is None:
        return False
    now = now or timezone.now()
    return state.heartbeat_at >= now - timedelta(seconds=HOST_STALE_SECONDS)


def live_host_state(connector_id: int) -> MqttHostState | None:
    """The state of the connector's host when a host process runs for it, else None."""
    state = MqttHostState.objects.filter(connector_id=connector_id).first()
    return state if host_running(state) else None


def known_devices(connector_id: int) -> dict[str, dict]:
    """Identity of every device a host has ever heard born on the connector."""
    known = (
        MqttHostState.objects.filter(connector_id=connector_id)
        .values_list("known", flat=True)
        .first()
    )
    return dict(known or {})


def host_summary(state: MqttHostState | None) -> dict | None:
    """The host's state as the connector's API and page show it."""
    if state is None:
        return None
    nodes = state.nodes or {}
    return {
        "host_id": state.host_id,
        "running": host_running(state),
        "connected": host_running(state) and state.connected_at is not None,
        "heartbeat_at": state.heartbeat_at,
        "connected_at": state.connected_at,
        "last_message_at": state.last_message_at,
        "edge_nodes": len(nodes),
        "edge_nodes_online": sum(1 for n in nodes.values() if n.get("online")),
        "devices": len(state.devices or {}),
        "births": state.births,
        "deaths": state.deaths,
        "metrics": state.metrics,
        "rejected": state.rejected,
        "message": state.message,
    }
