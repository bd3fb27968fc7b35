"""A factory's finding figures (open findings, money at stake) moved by what a detection
run changed (``registry.figure_shifts``), in the run's own transaction: a run that changes
the cost of fragmentation findings listing a thousand factories adds the change to their
figures instead of recounting each factory's findings (``kpis.rollups._findings`` does
that for a full build). The figures so moved equal a full build's; a factory with no
figures yet is left to one (``coe.derived.touch``).

A full build reads the findings and writes absolute figures; it waits for a running
detection (``registry.detection.after_detection``), so it never overwrites a run's change
with figures read before the run committed.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.utils import timezone

from coe import bulk
from kpis.models import FactoryFigures
from registry.detection import CENT
from registry.models import DuplicateFinding


def shift_finding_figures(
    shifts: dict[int, tuple[int, Decimal]], moved: dict[int, Decimal]
) -> list[int]:
    """Add ``shifts`` (per factory: open findings, money at stake) and, for each factory
    each finding of ``moved`` lists, that finding's change in money at stake to the
    figures; returns the factories concerned that have no figures (they need a full
    build)."""
    if not shifts and not moved:
        return []
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _shift_in_sql(shifts, moved, now)
    through = DuplicateFinding.factories.through
    totals = {pk: [n, Decimal(cost)] for pk, (n, cost) in shifts.items()}
    if moved:
        links = through.objects.filter(duplicatefinding_id__in=sorted(moved)).values_list(
            "duplicatefinding_id", "factory_id"
        )
        for finding_id, factory_id in links:
            totals.setdefault(factory_id, [0, Decimal("0")])[1] += moved[finding_id]
    wanted = sorted(totals)
    figures = [
        row
        for start in range(0, len(wanted), 3000)  # SQLite's limit on parameters
        for row in FactoryFigures.objects.select_for_update()
        .filter(factory_id__in=wanted[start : start + 3000])
        .only("pk", "factory_id", "open_findings", "at_stake")
    ]
    for row in figures:
        n, cost = totals[row.factory_id]
        row.open_findings += n
        row.at_stake += cost
        row.refreshed_at = now
    bulk.update(FactoryFigures, figures, ["open_findings", "at_stake", "refreshed_at"])
    have = {row.factory_id for row in figures}
    return sorted(pk for pk in totals if pk not in have)


def _cents(amount) -> int:
    """An amount of money (two decimals, as findings hold it) in whole cents."""
    return int(Decimal(amount).quantize(CENT).scaleb(2))


def _shift_in_sql(shifts: dict, moved: dict, now) -> list[int]:
    """PostgreSQL: one statement; the moved findings' factories are joined in the database
    (their links are not read out), the shifts come as arrays, in cents (summed as
    integers, exact: every amount has two decimals)."""
    qn = connection.ops.quote_name
    figures = qn(FactoryFigures._meta.db_table)
    links = qn(DuplicateFinding.factories.through._meta.db_table)
    ids, findings = sorted(shifts), sorted(moved)
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH d (factory_id, n, c) AS ("
            "SELECT * FROM unnest(%s::bigint[], %s::int[], %s::bigint[]) "
            f"UNION ALL SELECT l.factory_id, 0, m.c FROM {links} l "
            "JOIN unnest(%s::bigint[], %s::bigint[]) AS m (finding_id, c) "
            "ON l.duplicatefinding_id = m.finding_id), "
            "s AS (SELECT factory_id, SUM(n) AS n, SUM(c) AS c FROM d GROUP BY factory_id), "
            f"u AS (UPDATE {figures} g SET open_findings = g.open_findings + s.n, "
            "at_stake = g.at_stake + s.c::numeric / 100, refreshed_at = %s FROM s "
            "WHERE g.factory_id = s.factory_id RETURNING g.factory_id) "
            "SELECT s.factory_id FROM s WHERE NOT EXISTS "
            "(SELECT 1 FROM u WHERE u.factory_id = s.factory_id) ORDER BY 1",
            [
                ids,
                [shifts[pk][0] for pk in ids],
                [_cents(shifts[pk][1]) for pk in ids],
                findings,
                [_cents(moved[pk]) for pk in findings],
                now,
            ],
        )
        return [row[0] for row in cursor.fetchall()]
