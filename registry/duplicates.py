"""Duplicate-toolset matching: pure functions over plain records (no ORM).

Three kinds of finding (``registry.detection`` loads the records and persists the result):

- ``same_tool``: two registry entries that are one product — same vendor and a
  near-identical name, the same homepage, or one's alias is the other's name;
- ``overlap``: one factory runs two or more active tools for the same capability;
- ``fragmentation``: across the portfolio, factories use different tools for one
  capability. Suggested standard = the adopt-ring tool (the most adopted of them), else
  the most adopted tool; cost at stake = annual cost of the non-standard adoptions.

Every finding carries a stable ``key`` built from ids, so a re-run finds the same finding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

from rapidfuzz import fuzz

RING_RANK = {"adopt": 0, "trial": 1, "assess": 2, "hold": 3, "retired": 4}
SAME_NAME_SCORE = 92  # rapidfuzz ratio of two normalised names of one vendor


@dataclass(frozen=True)
class ToolRec:
    id: int
    name_key: str
    vendor_key: str = ""
    homepage: str = ""
    ring: str = "assess"
    alias_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdoptionRec:
    id: int
    factory_id: int
    tool_id: int
    cost: Decimal
    capability_ids: tuple[int, ...]  # what the factory uses the tool for


@dataclass
class FindingRec:
    key: str
    kind: str
    capability_id: int | None
    scope_id: int | None
    tool_ids: list[int]
    factory_ids: list[int]
    cost: Decimal
    standard_id: int | None
    detail: dict = field(default_factory=dict)


def homepage_key(url: str) -> str:
    """``https://www.GitLab.com/`` → ``gitlab.com``; paths kept (``github.com/org/x``)."""
    if not url:
        return ""
    parts = urlsplit(url.strip().lower() if "//" in url else "//" + url.strip().lower())
    host = parts.netloc.removeprefix("www.")
    return f"{host}{parts.path.rstrip('/')}"


def _pairs_same_tool(tools: list[ToolRec]) -> dict[tuple[int, int], str]:
    """``{(low id, high id): reason}`` for registry entries that are one product."""
    pairs: dict[tuple[int, int], str] = {}

    def add(a: int, b: int, reason: str) -> None:
        if a != b:
            pairs.setdefault((min(a, b), max(a, b)), reason)

    by_name: dict[str, list[int]] = defaultdict(list)
    by_vendor: dict[str, list[ToolRec]] = defaultdict(list)
    by_home: dict[str, list[int]] = defaultdict(list)
    for tool in tools:
        by_name[tool.name_key].append(tool.id)
        if tool.vendor_key:
            by_vendor[tool.vendor_key].append(tool)
        home = homepage_key(tool.homepage)
        if home:
            by_home[home].append(tool.id)
    for tool in tools:
        for alias in tool.alias_keys:
            for other in by_name.get(alias, ()):
                add(tool.id, other, "alias")
    for ids in by_home.values():
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                add(a, b, "homepage")
    for group in by_vendor.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if fuzz.ratio(a.name_key, b.name_key) >= SAME_NAME_SCORE:
                    add(a.id, b.id, "name")
    return pairs


def _standard(tool_ids: Iterable[int], tools: dict[int, ToolRec], uses: dict[int, int]) -> int:
    """The adopt-ring tool (most used first), else the most used, then the better ring."""
    ids = list(tool_ids)
    adopt = [t for t in ids if tools[t].ring == "adopt"]
    pool = adopt or ids
    return min(pool, key=lambda t: (-uses.get(t, 0), RING_RANK.get(tools[t].ring, 9), t))


def detect(tools: Iterable[ToolRec], adoptions: Iterable[AdoptionRec]) -> list[FindingRec]:
    """All current findings, ordered by key."""
    tool_list = list(tools)
    tool_by_id = {t.id: t for t in tool_list}
    adoption_list = [a for a in adoptions if a.tool_id in tool_by_id]
    findings: list[FindingRec] = []

    # Who uses what, per capability and per (factory, capability).
    by_cap: dict[int, list[AdoptionRec]] = defaultdict(list)
    for adoption in adoption_list:
        for cap in adoption.capability_ids:
            by_cap[cap].append(adoption)
    factories_per_tool: dict[int, set[int]] = defaultdict(set)
    cost_per_tool: dict[int, Decimal] = defaultdict(Decimal)
    ids_per_tool: dict[int, list[int]] = defaultdict(list)
    for adoption in adoption_list:
        factories_per_tool[adoption.tool_id].add(adoption.factory_id)
        cost_per_tool[adoption.tool_id] += adoption.cost
        ids_per_tool[adoption.tool_id].append(adoption.id)

    # same_tool
    uses = {t: len(f) for t, f in factories_per_tool.items()}
    for (a, b), reason in sorted(_pairs_same_tool(tool_list).items()):
        standard = _standard((a, b), tool_by_id, uses)
        other = b if standard == a else a
        findings.append(
            FindingRec(
                key=f"same_tool:{a}:{b}",
                kind="same_tool",
                capability_id=None,
                scope_id=None,
                tool_ids=[a, b],
                factory_ids=sorted(factories_per_tool[a] | factories_per_tool[b]),
                cost=cost_per_tool[other],
                standard_id=standard,
                detail={"reason": reason, "adoptions_at_stake": sorted(ids_per_tool[other])},
            )
        )

    for cap, rows in sorted(by_cap.items()):
        cap_uses: dict[int, set[int]] = defaultdict(set)
        for adoption in rows:
            cap_uses[adoption.tool_id].add(adoption.factory_id)
        if len(cap_uses) < 2:
            continue
        portfolio_standard = _standard(
            cap_uses, tool_by_id, {t: len(f) for t, f in cap_uses.items()}
        )
        # overlap: one factory, two or more tools for this capability
        per_factory: dict[int, list[AdoptionRec]] = defaultdict(list)
        for adoption in rows:
            per_factory[adoption.factory_id].append(adoption)
        for factory_id, own in sorted(per_factory.items()):
            tool_ids = sorted({a.tool_id for a in own})
            if len(tool_ids) < 2:
                continue
            if portfolio_standard in tool_ids:
                standard = portfolio_standard
            else:
                spend: dict[int, Decimal] = defaultdict(Decimal)
                for a in own:
                    spend[a.tool_id] += a.cost
                standard = min(
                    tool_ids,
                    key=lambda t: (RING_RANK.get(tool_by_id[t].ring, 9), -spend[t], t),
                )
            at_stake = [a for a in own if a.tool_id != standard]
            findings.append(
                FindingRec(
                    key=f"overlap:{factory_id}:{cap}",
                    kind="overlap",
                    capability_id=cap,
                    scope_id=factory_id,
                    tool_ids=tool_ids,
                    factory_ids=[factory_id],
                    cost=sum((a.cost for a in at_stake), Decimal("0")),
                    standard_id=standard,
                    detail={"adoptions_at_stake": sorted(a.id for a in at_stake)},
                )
            )
        # fragmentation: across factories, different tools for this capability
        factory_ids = sorted({a.factory_id for a in rows})
        if len(factory_ids) < 2:
            continue
        at_stake = [a for a in rows if a.tool_id != portfolio_standard]
        findings.append(
            FindingRec(
                key=f"fragmentation:{cap}",
                kind="fragmentation",
                capability_id=cap,
                scope_id=None,
                tool_ids=sorted(cap_uses),
                factory_ids=factory_ids,
                cost=sum((a.cost for a in at_stake), Decimal("0")),
                standard_id=portfolio_standard,
                detail={
                    "factories_per_tool": {str(t): len(f) for t, f in sorted(cap_uses.items())},
                    "adoptions_at_stake": sorted({a.id for a in at_stake}),
                },
            )
        )
    findings.sort(key=lambda f: f.key)
    return findings
