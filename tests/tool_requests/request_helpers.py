"""Builders for tool-request tests: a small registry around the personas' factories."""

from __future__ import annotations

from decimal import Decimal

from tests.registry.builders import adoption, capability, tool
from tool_requests import services as request_services
from tool_requests.models import ToolRequest


def registry(world) -> dict:
    """Monitoring: Grafana (adopt, used by B), Datadog (trial), Nagios (hold)."""
    cap = capability("monitoring", "Monitoring")
    tools = {
        "grafana": tool("Grafana", caps=[cap], ring="adopt", vendor="Grafana Labs"),
        "datadog": tool("Datadog", caps=[cap], ring="trial", vendor="Datadog"),
        "nagios": tool("Nagios", caps=[cap], ring="hold", vendor="Nagios"),
    }
    adoption(world.factory_b, tools["grafana"], cost=1200)
    return {"cap": cap, **tools}


def make_request(world, *, key: str = "a", who: str = "member_a", tool_obj=None, **fields):
    """A draft request of factory ``key`` by persona ``who`` (default: Datadog, trial ring)."""
    if tool_obj is None and "proposed_name" not in fields:
        tool_obj = registry_tool(world, "datadog")
    fields.setdefault("justification", "We need it.")
    return request_services.tool_request_create(
        factory=world.factory_of(key), requester=world.users[who], tool=tool_obj, **fields
    )


def registry_tool(world, slug: str):
    from registry.models import Tool

    found = Tool.objects.filter(slug=slug).first()
    if found is None:
        registry(world)
        found = Tool.objects.get(slug=slug)
    return found


def move(req: ToolRequest, *steps: tuple[str, object], **kwargs) -> ToolRequest:
    for action, actor in steps:
        req = request_services.tool_request_transition(
            tool_request=req, action=action, actor=actor, comment="ok", **kwargs
        )
    return req


def cost(value) -> Decimal:
    return Decimal(str(value))
