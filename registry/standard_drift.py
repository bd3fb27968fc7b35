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
    usage = loaded.usage or {}
    tools = {t.id: t for t in loaded.tools}
    # An overlap's candidates are the tools someone uses for the capability that the
    # factory runs (for it or for another one: every candidate is paid for), so the rule
    # picks the first of them in one order per capability and kind of factory.
    orders: dict[tuple[int, str], list[int]] = {}
    drifted = set()
    for factory_id, cap, standard, kind in stored:
        use = usage.get(cap)
        now = None
        if use is not None:
            order = orders.get((cap, kind))
            if order is None:
                order = orders[(cap, kind)] = standard_order(
                    use.factories, tools, use.counts(), kind=kind
                )
            now = next((t for t in order if factory_id in loaded.tool_factories[t]), None)
        if now != standard:
            drifted.add((factory_id, cap))
    return drifted
