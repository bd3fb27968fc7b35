"""Small builders for registry tests (real rows, no mocks)."""

from __future__ import annotations

import itertools
from decimal import Decimal

from registry import services
from registry.models import Adoption, Capability, Tool

_seq = itertools.count(1)


def capability(slug: str = "", name: str = "") -> Capability:
    n = next(_seq)
    slug = slug or f"cap-{n}"
    found = Capability.objects.filter(slug=slug).first()
    return found or Capability.objects.create(
        name=name or slug.replace("-", " ").title(), slug=slug
    )


def tool(name: str = "", *, caps=(), ring: str = "assess", vendor: str = "", **fields) -> Tool:
    name = name or f"Tool {next(_seq)}"
    return services.tool_create(name=name, vendor=vendor, ring=ring, capabilities=caps, **fields)


def adoption(factory, used: Tool | None, *, name: str = "", cost=None, seats=None, **fields):
    return Adoption.objects.create(
        factory=factory,
        tool=used,
        declared_name=name or (used.name if used else f"Unknown {next(_seq)}"),
        annual_cost=Decimal(cost) if cost is not None else None,
        seats=seats,
        resolution_confidence=1.0 if used else None,
        **fields,
    )
