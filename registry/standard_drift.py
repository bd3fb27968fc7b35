"""Overlap standards a scoped detection run would otherwise leave stale.

An overlap's suggested standard is picked by the portfolio-wide rule
(:func:`registry.duplicates.pick_standard`): among the tools the factory pays for, the one
more factories use for the capability wins a tie. So one factory's import can change the
standard another factory's overlap should suggest, although nothing in that factory
changed. A scoped run re-detects the overlaps of the factories it was given; this module
finds the other factories whose live overlap in a concerned capability would now suggest
another standard, so the run re-detects them too and agrees with a full run.

Everything is read from what the scoped run loaded (the concerned capabilities' use, and
which factories run each of those tools) plus the stored findings' standards: no
factory's adoptions are read unless its standard changed.
"""

from __future__ import annotations

from collections import defaultdict

from coe.models import Factory
from registry.choices import FindingKind, FindingStatus
from registry.duplicates import pick_standard
from registry.models import DuplicateFinding


def drifted_factories(loaded, factories: set[int]) -> set[int]:
    """Factories outside ``factories`` whose stored overlap standard in one of
    ``loaded.concerned`` differs from the one the rule now picks."""
    if not loaded.concerned:
        return set()
    stored = list(
        DuplicateFinding.objects.filter(
            kind=FindingKind.OVERLAP, capability_id__in=loaded.concerned
        )
        .exclude(status=FindingStatus.RESOLVED)
        .exclude(scope_id__in=factories)
        .values_list("scope_id", "capability_id", "suggested_standard_id")
    )
    if not stored:
        return set()
    scopes = {scope for scope, _cap, _standard in stored}
    # What each of those factories runs among the tools offering a concerned capability
    # (an overlap's candidates: tools it pays for that someone uses for the capability).
    runs: dict[int, set[int]] = defaultdict(set)
    for tool_id, users in loaded.tool_factories.items():
        for factory_id in users & scopes:
            runs[factory_id].add(tool_id)
    kinds = dict(Factory.objects.filter(pk__in=scopes).values_list("pk", "kind"))
    tools = {t.id: t for t in loaded.tools}
    counts = {cap: use.counts() for cap, use in (loaded.usage or {}).items()}
    drifted = set()
    for factory_id, cap, standard in stored:
        use = (loaded.usage or {}).get(cap)
        candidates = sorted(runs[factory_id].intersection(use.factories)) if use else []
        now = (
            pick_standard(
                candidates, tools, counts[cap], kind=kinds.get(factory_id), paid=set(candidates)
            )
            if candidates
            else None
        )
        if now != standard:
            drifted.add(factory_id)
    return drifted
