"""Overlap standards a scoped detection run would otherwise leave stale.

An overlap's suggested standard is picked by the portfolio-wide rule
(:func:`registry.duplicates.pick_standard`): among the tools the factory pays for, the one
more factories use for the capability wins a tie. So one factory's import can change the
standard another factory's overlap should suggest, although nothing in that factory
changed. A scoped run re-detects the overlaps of the factories it was given; this module
finds the other factories' live overlaps in a concerned capability that would now suggest
another standard, so the run re-detects those overlaps too (each one alone, not every
overlap of its factory) and agrees with a full run.

An overlap's candidates are the tools someone uses for the capability that the factory
runs (every candidate is paid for), so the rule picks the first tool the factory runs in
one order per capability and kind of factory (:func:`registry.duplicates.standard_order`).
The stored overlaps were picked in the order the capability's stored fragmentation
finding counted (its ``factories_per_tool``, written by the same runs), so a stored
standard is a tool of that order. A factory's pick can move only to a tool that overtook
it: only the capabilities whose order changed are read, and of their overlaps only those
with no standard or one another tool overtook or that left the order (:func:`_suspects`);
their factories' use of the overtaking tools decides (one narrow query).
"""

from __future__ import annotations

from django.db.models import Q

from registry.choices import AdoptionStatus, FindingKind, FindingStatus
from registry.duplicates import standard_order
from registry.models import Adoption, DuplicateFinding


def drifted_overlaps(
    loaded, factories: set[int], before: dict[int, dict[int, int] | None]
) -> set[tuple[int, int]]:
    """(factory, capability) of the stored live overlaps outside ``factories``, in one of
    ``loaded.concerned``, whose standard differs from the one the rule now picks.
    ``before``: per capability the factories per tool the stored findings were picked
    with (None: unknown, every overlap of the capability is checked)."""
    if not loaded.concerned:
        return set()
    usage = loaded.usage or {}
    tools = {t.id: t for t in loaded.tools}
    kinds = {None} | {kind for t in loaded.tools for kind, _ring in t.ring_overrides}
    orders: dict[tuple[int, object], tuple[list[int], list[int]]] = {}

    def order(cap: int, kind) -> tuple[list[int], list[int]]:
        """(order the stored overlaps were picked in, order now) for ``kind``."""
        found = orders.get((cap, kind))
        if found is None:
            use, old = usage.get(cap), before.get(cap)
            now = standard_order(use.tools(), tools, use.counts(), kind=kind) if use else []
            was = (
                standard_order([t for t in old if t in tools], tools, old, kind=kind)
                if old is not None and set(old) <= tools.keys()
                else None
            )
            found = orders[(cap, kind)] = (was, now)
        return found

    # Per capability and kind: for each tool, those now ahead of it that were not (the
    # only tools that can take its place as a factory's pick); None: check every tool.
    ahead: dict[tuple[int, object], dict[int, set[int]] | None] = {}
    for cap in loaded.concerned:
        for kind in kinds:
            was, now = order(cap, kind)
            if was != now:
                ahead[(cap, kind)] = _overtaken(was, now)
    if not ahead:
        return set()
    stored = (
        DuplicateFinding.objects.filter(_suspects(ahead, orders), kind=FindingKind.OVERLAP)
        .exclude(status=FindingStatus.RESOLVED)
        .exclude(scope_id__in=factories)
        .order_by()
        .values_list("scope_id", "capability_id", "suggested_standard_id", "scope__kind")
    )
    # (factory, capability, standard, order now, the tools that decide, whether they are
    # every tool of the capability: the pick is then found afresh)
    waiting = []
    members: dict[tuple[int, object], tuple[set[int], set[int]]] = {}
    for factory_id, cap, standard, kind in stored:
        kind = kind if kind in kinds else None
        was, now = order(cap, kind)
        if was == now:
            continue
        over = ahead[(cap, kind)]
        if (cap, kind) not in members:
            members[(cap, kind)] = (set(was or ()), set(now))
        had, has = members[(cap, kind)]
        if standard is None and over is not None:
            # It ran none of the capability's tools: only a tool new to it can count.
            waiting.append((factory_id, cap, standard, now, has - had, False))
        elif over is None or standard not in had or standard not in has:
            # No order to go by, or its standard is new to or gone from the capability.
            waiting.append((factory_id, cap, standard, now, has, True))
        elif standard in over:
            # It ran none of the tools ahead of its standard: only those now ahead count.
            waiting.append((factory_id, cap, standard, now, over[standard], False))
    if not waiting:
        return set()
    runs: dict[int, set[int]] = {}
    for factory_id, tool_id in (
        Adoption.objects.filter(
            status=AdoptionStatus.ACTIVE,
            factory_id__any=sorted({w[0] for w in waiting}),
            tool_id__any=sorted({t for w in waiting for t in w[4]}),
        )
        .order_by()
        .values_list("factory_id", "tool_id")
        .distinct()
    ):
        runs.setdefault(factory_id, set()).add(tool_id)
    drifted = set()
    for factory_id, cap, standard, now, deciding, afresh in waiting:
        own = runs.get(factory_id, set()) & deciding
        if (own or afresh) and next((t for t in now if t in own), None) != standard:
            drifted.add((factory_id, cap))
    return drifted


def _suspects(ahead: dict, orders: dict) -> Q:
    """The stored overlaps worth checking, per capability whose order changed: those with
    no standard, or one that another tool overtook or that left the capability's order (for
    any kind of factory); every overlap of a capability that has no previous order. A
    stored standard is a tool of the previous order (the order it was picked in): one kept
    and overtaken by none stays, so its overlaps (most of them) are not read."""
    found = Q()
    for cap in sorted({cap for cap, _kind in ahead}):
        kinds = [kind for c, kind in ahead if c == cap]
        if any(ahead[(cap, kind)] is None for kind in kinds):
            found |= Q(capability_id=cap)
            continue
        moved: set[int] = set()
        for kind in kinds:
            was, now = orders[(cap, kind)]
            moved |= (set(was) - set(now)) | ahead[(cap, kind)].keys()
        found |= Q(capability_id=cap) & (
            Q(suggested_standard_id__isnull=True) | Q(suggested_standard_id__any=sorted(moved))
        )
    return found


def _overtaken(was: list[int] | None, now: list[int]) -> dict[int, set[int]] | None:
    """For each tool of both ``was`` and ``now`` (orders of preference) that another tool
    overtook, the tools ahead of it in ``now`` that were not ahead of it in ``was`` (None:
    no previous order). A factory whose pick was the tool ran none of the tools ahead of
    it then, so it keeps the tool unless it runs one of those; a tool not listed was
    overtaken by none."""
    if was is None:
        return None
    position = {t: i for i, t in enumerate(was)}
    last = len(was)  # a tool new to the capability counts as behind every other
    over: dict[int, set[int]] = {}
    furthest = -1  # the largest former position among the tools ahead
    for i, t in enumerate(now):
        at = position.get(t)
        if at is not None and furthest > at:
            over[t] = {q for q in now[:i] if position.get(q, last) > at}
        furthest = max(furthest, position.get(t, last))
    return over
