"""Reads of the registry worth naming: the resolver snapshot, effective costs, scoped lists."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import QuerySet

from coe.scoping import restrict_through
from registry.models import Adoption, DuplicateFinding, Tool, ToolAlias
from registry.resolution import Resolver, ToolEntry


def registry_resolver() -> Resolver:
    """A resolver over the whole registry (two queries)."""
    aliases: dict[int, list[str]] = defaultdict(list)
    for tool_id, name in ToolAlias.objects.values_list("tool_id", "name"):
        aliases[tool_id].append(name)
    return Resolver(
        ToolEntry(id=pk, name=name, vendor=vendor, aliases=tuple(aliases.get(pk, ())))
        for pk, name, vendor in Tool.objects.values_list("pk", "name", "vendor")
    )


def effective_cost(annual_cost, seats, cost_per_seat) -> Decimal:
    """An adoption's annual cost: declared, else seats × cost per seat, else 0."""
    if annual_cost is not None:
        return Decimal(annual_cost)
    if seats and cost_per_seat is not None:
        return Decimal(cost_per_seat) * seats
    return Decimal("0")


def adoptions_visible(user) -> QuerySet[Adoption]:
    """Adoptions of the user's factories (all of them for CoE staff)."""
    from coe.scoping import restrict

    return restrict(Adoption.objects.all(), user)


def findings_visible(user) -> QuerySet[DuplicateFinding]:
    """Findings scoped to one of the user's factories, or portfolio-wide findings that
    involve one of them (a member sees the fragmentation their factory takes part in)."""
    return restrict_through(DuplicateFinding.objects.all(), user, "scope", "factories")


def unresolved_names(adoptions: QuerySet[Adoption], *, with_candidates: bool = True) -> list[dict]:
    """The unresolved queue: one row per normalised declared name, most adoptions first,
    with the factories that use it and the resolver's best (rejected) guess."""
    groups: dict[str, dict] = {}
    for key, name, slug in (
        adoptions.filter(tool__isnull=True, status="active")
        .order_by("normalized_name", "declared_name")
        .values_list("normalized_name", "declared_name", "factory__slug")
    ):
        row = groups.setdefault(
            key,
            {"normalized_name": key, "declared_name": name, "adoptions": 0, "factories": []},
        )
        row["adoptions"] += 1
        if slug not in row["factories"]:
            row["factories"].append(slug)
    rows = sorted(groups.values(), key=lambda r: (-r["adoptions"], r["normalized_name"]))
    if with_candidates and rows:
        resolver = registry_resolver()
        names = dict(Tool.objects.values_list("pk", "slug"))
        for row in rows:
            match = resolver.resolve_key(row["normalized_name"], row["declared_name"])
            row["candidate"] = names.get(match.candidate_id or match.tool_id)
            row["candidate_confidence"] = match.confidence
    for row in rows:
        row.setdefault("candidate", None)
        row.setdefault("candidate_confidence", 0.0)
    return rows
