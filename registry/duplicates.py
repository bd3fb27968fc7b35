"""Duplicate-toolset matching: pure functions over plain records (no ORM).

Three kinds of finding (``registry.detection`` loads the records and persists the result):

- ``same_tool``: two registry entries that are one product — same vendor and a
  near-identical name, the same homepage, or one's alias is the other's name;
- ``overlap``: one factory runs two or more active tools for the same capability;
- ``fragmentation``: across the portfolio, factories use different tools for one
  capability. Cost at stake = annual cost of the non-standard adoptions.

One rule picks the suggested standard for overlap and fragmentation alike
(:func:`pick_standard`): an adopt-ring tool first (for an overlap: the ring for the
factory's kind, a per-kind override winning), then a tool already paid for, then the most
factories using it for the capability, then the better ring, then the lowest id. An
overlap chooses among the capability's tools the factory already pays for (those it runs
for this capability, or for another one: a suite); fragmentation among all the
capability's tools. An
overlap counts an unresolved adoption that declares the capability (the finding marks it
in ``detail["unresolved"]``); fragmentation counts registry tools only.

Every finding carries a stable ``key`` built from ids, so a re-run finds the same finding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple
from urllib.parse import urlsplit

from rapidfuzz import fuzz

RING_RANK = {"adopt": 0, "trial": 1, "assess": 2, "hold": 3, "retired": 4}
SAME_NAME_SCORE = 92  # rapidfuzz ratio of two normalised names of one vendor


class ToolRec(NamedTuple):
    """A registry tool as detection reads it (a tuple: a scoped run makes thousands)."""

    id: int
    name_key: str
    vendor_key: str = ""
    homepage: str = ""
    ring: str = "assess"
    alias_keys: tuple[str, ...] = ()
    ring_overrides: tuple[tuple[str, str], ...] = ()  # (factory kind, ring)

    def ring_for(self, kind: str | None) -> str:
        for override_kind, ring in self.ring_overrides:
            if override_kind == kind:
                return ring
        return self.ring


@dataclass(frozen=True)
class AdoptionRec:
    id: int
    factory_id: int
    tool_id: int | None  # None: unresolved (then ``name`` is its normalised declared name)
    cost: Decimal
    capability_ids: tuple[int, ...]  # what the factory uses the tool for
    name: str = ""


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
    # The adoptions at stake when ``detail`` does not list them (fragmentation: a
    # capability's thousands live in the finding's stake rows only).
    at_stake: list[int] | None = None
    # A fragmentation finding a scoped run updated by the touched factories' difference
    # (``registry.fragmentation_delta``): ``factory_ids`` is then empty and these say what
    # changed.
    delta: FragmentationDelta | None = None

    def at_stake_ids(self) -> list[int]:
        return (
            self.at_stake
            if self.at_stake is not None
            else self.detail.get("adoptions_at_stake", [])
        )


@dataclass
class FragmentationDelta:
    """What a scoped run changes in a stored fragmentation finding: the factories joining
    and leaving it, its new factory count and first factories (the preview), and the
    touched factories' adoptions at stake now (``stake_factories``: whose rows those are)."""

    finding_id: int
    joined: frozenset[int]
    left: frozenset[int]
    factory_count: int
    first_factories: list[int]
    stake_factories: frozenset[int]
    at_stake: frozenset[int]
    # When the suggested standard moved: the other factories' adoptions of the former
    # standard, now at stake, as (adoption, factory), and of the new one, no longer.
    staked: tuple[tuple[int, int], ...] = ()
    unstaked: tuple[int, ...] = ()


@dataclass
class CapUse:
    """One capability's adoptions of registry tools, per tool: the factories using it,
    the adoption ids and their annual cost. Built from adoption records
    (:func:`cap_usage`) or, for a scoped run, read in one query
    (``registry.detection``); fragmentation findings and overlap standards read only this."""

    factories: dict[int, set[int]] = field(default_factory=dict)
    ids: dict[int, list[int]] = field(default_factory=dict)
    cost: dict[int, Decimal] = field(default_factory=dict)
    # Factories per tool when only counted (a scoped run's aggregate): ``factories`` and
    # ``ids`` are then empty.
    uses: dict[int, int] | None = None

    def add(self, tool_id: int, factory_id: int, adoption_id: int, cost: Decimal) -> None:
        if tool_id not in self.factories:
            self.factories[tool_id], self.ids[tool_id] = set(), []
            self.cost[tool_id] = Decimal("0")
        self.factories[tool_id].add(factory_id)
        self.ids[tool_id].append(adoption_id)
        self.cost[tool_id] += cost

    def counts(self) -> dict[int, int]:
        if self.uses is not None:
            return dict(self.uses)
        return {t: len(f) for t, f in self.factories.items()}

    def tools(self) -> list[int]:
        """The tools used for the capability."""
        return list(self.cost)


def cap_usage(adoptions: Iterable[AdoptionRec]) -> dict[int, CapUse]:
    """``{capability: CapUse}`` of the adoptions of registry tools."""
    usage: dict[int, CapUse] = defaultdict(CapUse)
    for adoption in adoptions:
        if adoption.tool_id is not None:
            for cap in adoption.capability_ids:
                usage[cap].add(adoption.tool_id, adoption.factory_id, adoption.id, adoption.cost)
    return usage


def fragmentation(cap: int, use: CapUse, tools: dict[int, ToolRec]) -> FindingRec | None:
    """The fragmentation finding of one capability, if factories use different tools."""
    if len(use.factories) < 2:
        return None
    factory_ids = sorted(set().union(*use.factories.values()))
    if len(factory_ids) < 2:
        return None
    counts = use.counts()
    standard = pick_standard(use.factories, tools, counts)
    others = [t for t in use.factories if t != standard]
    return FindingRec(
        key=f"fragmentation:{cap}",
        kind="fragmentation",
        capability_id=cap,
        scope_id=None,
        tool_ids=sorted(use.factories),
        factory_ids=factory_ids,
        cost=sum((use.cost[t] for t in others), Decimal("0")),
        standard_id=standard,
        detail={"factories_per_tool": {str(t): counts[t] for t in sorted(counts)}},
        at_stake=sorted({i for t in others for i in use.ids[t]}),
    )


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


def pick_standard(
    candidates: Iterable[int],
    tools: dict[int, ToolRec],
    uses: dict[int, int],
    *,
    kind: str | None = None,
    paid: frozenset[int] | set[int] = frozenset(),
) -> int:
    """The suggested standard: a tool in the adopt ring (for ``kind``: a per-kind override
    wins), then one already paid for, then the most used, then the better ring, then the
    lowest id."""
    return min(candidates, key=_preference(tools, uses, kind, paid))


def standard_order(
    candidates: Iterable[int], tools: dict[int, ToolRec], uses: dict[int, int], *, kind=None
) -> list[int]:
    """``candidates`` in the order :func:`pick_standard` prefers them for a factory of
    ``kind`` that pays for every one of them: its pick among any of them is the first."""
    return sorted(candidates, key=_preference(tools, uses, kind, None))


def _preference(tools: dict[int, ToolRec], uses: dict[int, int], kind, paid) -> Callable:
    """The rule's sort key of a tool. ``paid`` None or empty: every candidate alike (all
    paid for, or none), the key leaves the question out (a run sorts thousands)."""

    def alike(t: int) -> tuple:
        tool = tools[t]
        ring = tool.ring_for(kind) if tool.ring_overrides else tool.ring
        return (ring != "adopt", -uses.get(t, 0), RING_RANK.get(ring, 9), t)

    def paid_first(t: int) -> tuple:
        ring = tools[t].ring_for(kind)
        return (ring != "adopt", t not in paid, -uses.get(t, 0), RING_RANK.get(ring, 9), t)

    return paid_first if paid else alike


def detect(
    tools: Iterable[ToolRec],
    adoptions: Iterable[AdoptionRec],
    *,
    factory_kinds: dict[int, str] | None = None,
    factories: set[int] | None = None,
    capabilities: set[int] | None = None,
    usage: dict[int, CapUse] | None = None,
    overlaps: set[tuple[int, int]] = frozenset(),
) -> list[FindingRec]:
    """Current findings, ordered by key.

    A full run (no ``factories``/``capabilities``) returns every finding. An incremental
    run returns only the overlaps of ``factories``, the overlaps ``overlaps`` (factory,
    capability) of other factories and the fragmentation of ``capabilities`` (no same_tool
    findings); ``adoptions`` must then hold every adoption of those factories (for
    ``overlaps``: those of the tools offering the capability, and the unresolved ones),
    and ``usage`` (else ``adoptions``) the portfolio's use of every capability those
    findings concern (the standard depends on it).
    """
    kinds = factory_kinds or {}
    scoped = factories is not None or capabilities is not None
    factories, capabilities = factories or set(), capabilities or set()
    tool_list = list(tools)
    tool_by_id = {t.id: t for t in tool_list}
    adoption_list = [
        a
        for a in adoptions
        if a.tool_id in tool_by_id or (a.tool_id is None and a.name and a.capability_ids)
    ]
    if usage is None:
        usage = cap_usage(adoption_list)
    findings: list[FindingRec] = []

    # Who uses what, per capability; what each factory pays for.
    by_cap: dict[int, list[AdoptionRec]] = defaultdict(list)
    for adoption in adoption_list:
        whole = not scoped or adoption.factory_id in factories
        for cap in adoption.capability_ids:
            if whole or (adoption.factory_id, cap) in overlaps:
                by_cap[cap].append(adoption)
    paid: dict[int, set[int]] = defaultdict(set)  # every tool a factory runs
    for adoption in adoption_list:
        if adoption.tool_id is not None:
            paid[adoption.factory_id].add(adoption.tool_id)
    if not scoped:
        findings += _same_tool(tool_list, adoption_list)

    # overlap: one factory, two or more tools (or unresolved names) for one capability
    for cap, rows in sorted(by_cap.items()):
        use = usage.get(cap) or CapUse()
        cap_counts = use.counts()
        per_factory: dict[int, list[AdoptionRec]] = defaultdict(list)
        for adoption in rows:
            per_factory[adoption.factory_id].append(adoption)
        for factory_id, own in sorted(per_factory.items()):
            tool_ids = sorted({a.tool_id for a in own if a.tool_id is not None})
            unresolved = sorted({a.name for a in own if a.tool_id is None})
            if len(tool_ids) + len(unresolved) < 2:
                continue
            # (the rule's order decides, not the candidates': the smaller side is walked)
            candidates = [t for t in paid[factory_id].union(tool_ids) if t in use.cost]
            standard = (
                pick_standard(
                    candidates, tool_by_id, cap_counts, kind=kinds.get(factory_id),
                    paid=paid[factory_id],
                )
                if candidates
                else None
            )  # fmt: skip
            at_stake = [a for a in own if a.tool_id != standard]
            detail: dict = {"adoptions_at_stake": sorted(a.id for a in at_stake)}
            if unresolved:
                detail["unresolved"] = unresolved
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
                    detail=detail,
                )
            )
    # fragmentation: across factories, different tools for one capability
    for cap, use in sorted(usage.items()):
        if not scoped or cap in capabilities:
            finding = fragmentation(cap, use, tool_by_id)
            if finding is not None:
                findings.append(finding)
    findings.sort(key=lambda f: f.key)
    return findings


def _same_tool(tools: list[ToolRec], adoptions: list[AdoptionRec]) -> list[FindingRec]:
    """Registry entries that are one product; the standard is picked by the same rule."""
    tool_by_id = {t.id: t for t in tools}
    factories_per_tool: dict[int, set[int]] = defaultdict(set)
    cost_per_tool: dict[int, Decimal] = defaultdict(Decimal)
    ids_per_tool: dict[int, list[int]] = defaultdict(list)
    for adoption in adoptions:
        if adoption.tool_id is None:
            continue
        factories_per_tool[adoption.tool_id].add(adoption.factory_id)
        cost_per_tool[adoption.tool_id] += adoption.cost
        ids_per_tool[adoption.tool_id].append(adoption.id)
    uses = {t: len(f) for t, f in factories_per_tool.items()}
    findings = []
    for (a, b), reason in sorted(_pairs_same_tool(tools).items()):
        standard = pick_standard((a, b), tool_by_id, uses)
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
    return findings
