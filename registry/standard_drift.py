"""Overlap standards a scoped detection run would otherwise leave stale.

An overlap's suggested standard is picked by the portfolio-wide rule
(:func:`registry.duplicates.pick_standard`): among the tools the factory pays for, the one
more factories use for the capability wins a tie. So one factory's import can change the
standard another factory's overlap should suggest, although nothing in that factory
changed. A scoped run re-detects the overlaps of the factories it was given; this module
finds the other factories' live overlaps in a concerned capability that would now suggest
another standard, so the run re-detects those overlaps too (each one alone, not every
overlap of its factory) and agrees with a full run.

Everything is read from what the scoped run loaded (the concerned capabilities' use, and
which factories run each of those tools) plus the stored findings' standards: no
factory's adoptions are read unless its standard changed.
"""

from __future__ import annotations

from collections import defaultdict

from registry.choices import FindingKind, FindingStatus
from registry.duplicates import standard_order
from registry.models import DuplicateFinding


def drifted_overlaps(loaded, factories: set[int]) -> set[tuple[int, int]]:
    """(factory, capability) of the stored live overlaps outside ``factories``, in one of
    ``loaded.concerned``, whose standard differs from the one the rule now picks."""
    if not loaded.concerned:
        return set()
    stored = (
        DuplicateFinding.objects.filter(
            kind=FindingKind.OVERLAP, capability_id__in=loaded.concerned
        )
        .exclude(status=FindingStatus.RESOLVED)
        .exclude(scope_id__in=factories)
        .values_list("scope_id", "capability_id", "suggested_standard_id", "scope__kind")
    )
    rows = list(stored)
    usage = loaded.usage or {}
    tools = {t.id: t for t in loaded.tools}
    scopes: dict[tuple[int, str], set[int]] = defaultdict(set)
    for factory_id, cap, _standard, kind in rows:
        scopes[(cap, kind)].add(factory_id)
    # An overlap's candidates are the tools someone uses for the capability that the
    # factory runs (for it or for another one: every candidate is paid for), so the rule
    # picks, for every factory at once, the first tool it runs in one order per
    # capability and kind of factory.
    picks: dict[tuple[int, str], dict[int, int]] = {}
    for (cap, kind), waiting in scopes.items():
        use, picked = usage.get(cap), {}
        picks[(cap, kind)] = picked
        if use is None:
            continue
        for tool_id in standard_order(use.factories, tools, use.counts(), kind=kind):
            hit = waiting.intersection(loaded.tool_factories[tool_id])
            picked.update(dict.fromkeys(hit, tool_id))
            waiting = waiting - hit
            if not waiting:
                break
    return {
        (factory_id, cap)
        for factory_id, cap, standard, kind in rows
        if picks[(cap, kind)].get(factory_id) != standard
    }
