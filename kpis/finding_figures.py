"""A factory's finding figures (open findings, money at stake) refreshed alone, by one SQL
statement: what a detection run changes, for the thousand factories a fragmentation
finding can list, without recomputing their ROI, finance and spend
(``kpis.rollups.rebuild``). The same figures as ``kpis.rollups._findings``: each live
finding the factory takes part in (as its scope or among its factories) counted once."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from kpis.models import FactoryFigures
from registry.choices import LIVE_FINDING_STATUSES
from registry.models import DuplicateFinding


def _sql(n_ids: int) -> str:
    """One statement: the live findings the factories take part in, each (factory,
    finding) once, summed per factory (a set-based aggregate, not a subquery per factory;
    no de-duplicating UNION)."""
    qn = connection.ops.quote_name
    figures, finding = qn(FactoryFigures._meta.db_table), qn(DuplicateFinding._meta.db_table)
    links = qn(DuplicateFinding.factories.through._meta.db_table)
    live = ", ".join(["%s"] * len(LIVE_FINDING_STATUSES))
    marks = ", ".join(["%s"] * n_ids)
    # A finding's links are unique per factory; its scope counts when not also linked.
    part = (
        f"SELECT l.factory_id, f.annual_cost_at_stake AS cost FROM {links} l "
        f"JOIN {finding} f ON f.id = l.duplicatefinding_id "
        f"WHERE f.status IN ({live}) AND l.factory_id IN ({marks}) "
        f"UNION ALL SELECT f.scope_id, f.annual_cost_at_stake FROM {finding} f "
        f"WHERE f.status IN ({live}) AND f.scope_id IN ({marks}) AND NOT EXISTS "
        f"(SELECT 1 FROM {links} s WHERE s.duplicatefinding_id = f.id "
        f"AND s.factory_id = f.scope_id)"
    )
    # The totals joined once (UPDATE … FROM), not looked up per figures row; a factory
    # with no live finding has no totals (zero).
    return (
        f"WITH totals AS (SELECT p.factory_id, COUNT(*) AS n, SUM(COALESCE(p.cost, 0)) AS c "
        f"FROM ({part}) p GROUP BY p.factory_id), "
        f"wanted AS (SELECT g.factory_id, COALESCE(t.n, 0) AS n, COALESCE(t.c, 0) AS c "
        f"FROM {figures} g LEFT JOIN totals t ON t.factory_id = g.factory_id "
        f"WHERE g.factory_id IN ({marks})) "
        f"UPDATE {figures} SET open_findings = w.n, at_stake = w.c, refreshed_at = %s "
        f"FROM wanted w WHERE {figures}.factory_id = w.factory_id"
    )


def refresh_finding_figures(factory_ids: list[int]) -> list[int]:
    """Recompute the finding figures of those of ``factory_ids`` that have figures; returns
    the others (they need their figures built in full)."""
    ids = sorted(set(factory_ids))
    if not ids:
        return []
    statuses = [str(s) for s in LIVE_FINDING_STATUSES]
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 3000):  # SQLite's limit on parameters
            chunk = ids[start : start + 3000]
            params = [*statuses, *chunk, *statuses, *chunk, *chunk, timezone.now()]
            cursor.execute(_sql(len(chunk)), params)
    have = set(
        FactoryFigures.objects.filter(factory_id__in=ids).values_list("factory_id", flat=True)
    )
    return [pk for pk in ids if pk not in have]
