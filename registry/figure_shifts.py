"""How a detection run moves each factory's finding figures (its open findings and money
at stake, ``kpis.FactoryFigures``), by difference.

A factory takes part in a live finding as its scope or among its factories, once; its
figures are the number of such findings and the sum of their money at stake (as
``kpis.rollups`` computes them in full). A run knows every finding it writes as it was
and as it leaves it, so it knows what each factory gains and loses without reading the
factories' other findings: a fragmentation finding whose cost moved shifts the figures of
the thousand factories it lists by the same amount, which the database adds to each of
them (``moved``) instead of recounting their findings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from registry.choices import LIVE_FINDING_STATUSES

_LIVE = frozenset(LIVE_FINDING_STATUSES)
_ZERO = Decimal("0")


def _parts(status, scope_id: int | None, factories: Iterable[int]) -> set[int]:
    """The factories taking part in a finding in ``status`` (none unless it is live)."""
    if status not in _LIVE:
        return set()
    found = set(factories)
    if scope_id:
        found.add(scope_id)
    return found


class FigureShifts:
    """Per factory the change in open findings and money at stake (``by_factory``), and per
    fragmentation finding updated by difference the change in its money at stake, for
    every factory it lists after the run (``moved``)."""

    def __init__(self) -> None:
        self._by_factory: dict[int, list] = defaultdict(lambda: [0, _ZERO])
        self.moved: dict[int, Decimal] = {}

    def finding(self, before, after) -> None:
        """A finding written in full: ``before`` and ``after`` are (status, scope id, money
        at stake, factory ids), ``before`` None for a new finding."""
        if before is not None and after is not None and _same(before, after):
            return
        for sign, state in ((-1, before), (1, after)):
            if state is None:
                continue
            status, scope_id, cost, factories = state
            amount = (cost or _ZERO) * sign
            for factory_id in _parts(status, scope_id, factories):
                entry = self._by_factory[factory_id]
                entry[0] += sign
                entry[1] += amount

    def by_difference(self, finding_id: int, status, cost_before, cost_after, joined, left) -> None:
        """A fragmentation finding updated by difference (no scope, its status kept): the
        factories ``joined`` gain it and ``left`` lose it; every factory it lists after the
        run (``joined`` among them) sees its cost move. A joining factory is therefore
        counted here at the cost before, the move adding the rest."""
        if status not in _LIVE:
            return
        cost_before, cost_after = cost_before or _ZERO, cost_after or _ZERO
        for factory_id in joined:
            entry = self._by_factory[factory_id]
            entry[0] += 1
            entry[1] += cost_before
        for factory_id in left:
            entry = self._by_factory[factory_id]
            entry[0] -= 1
            entry[1] -= cost_before
        if cost_after != cost_before:
            self.moved[finding_id] = cost_after - cost_before

    def by_factory(self) -> dict[int, tuple[int, Decimal]]:
        """``{factory id: (change in open findings, change in money at stake)}``, zeros left
        out."""
        return {
            factory_id: (n, cost) for factory_id, (n, cost) in self._by_factory.items() if n or cost
        }


def _same(before, after) -> bool:
    """Whether two states count the same for the figures."""
    if (before[0] in _LIVE) != (after[0] in _LIVE):
        return False
    if before[0] not in _LIVE:
        return True
    return (
        before[1] == after[1]
        and (before[2] or _ZERO) == (after[2] or _ZERO)
        and set(before[3]) == set(after[3])
    )
