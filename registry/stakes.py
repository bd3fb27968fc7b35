"""A finding's stake rows (:class:`registry.models.FindingStake`): the adoptions it covers,
written by detection beside the finding's ``detail`` and ``baseline``.

A finding first seen (or whose baseline is taken now) gets its rows written whole. A
finding already stored, whose baseline never changes again, gets only the difference
between the adoptions at stake it stored (its previous ``detail``) and those at stake now:
a factory joining a capability adds a row or two to its fragmentation finding rather than
rewriting the finding's thousands. A fixed number of statements, whatever the number of
findings or rows.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection

from coe import bulk
from registry.models import DuplicateFinding, FindingStake


def live_ids(finding: DuplicateFinding) -> set[int]:
    """The adoptions ``finding`` has at stake (its ``detail``)."""
    return set((finding.detail or {}).get("adoptions_at_stake", []))


def stake_rows(
    finding: DuplicateFinding, baseline: dict, factory_of: dict[int, int]
) -> list[FindingStake]:
    """The adoptions ``finding`` covers: at stake now (its ``detail``) and/or in its
    ``baseline`` (``{adoption id: (factory id, cost)}``)."""
    live = live_ids(finding)
    return [
        FindingStake(
            finding_id=finding.pk,
            adoption_id=pk,
            factory_id=baseline[pk][0] if pk in baseline else factory_of.get(pk),
            at_stake=pk in live,
            baseline_cost=baseline[pk][1] if pk in baseline else None,
        )
        for pk in sorted(live | baseline.keys())
    ]


def write_stakes(findings: list[DuplicateFinding], loaded, previous: dict[int, set[int]]) -> None:
    """Bring the stake rows of ``findings`` in step with them. ``previous``: the adoptions
    at stake each finding stored (by finding id) for those whose baseline was not read
    (taken earlier, never changing: its rows keep it); the others are rewritten whole."""
    if not findings:
        return
    whole = [f for f in findings if f.pk not in previous or isinstance(f.baseline, dict)]
    changed = [f for f in findings if f.pk in previous and not isinstance(f.baseline, dict)]
    added, removed = [], []
    for f in changed:
        live, before = live_ids(f), previous[f.pk]
        added += [(f.pk, pk) for pk in sorted(live - before)]
        removed += [(f.pk, pk) for pk in sorted(before - live)]
    baselines = {
        f.pk: {int(pk): (fac, Decimal(cost)) for pk, (fac, cost) in (f.baseline or {}).items()}
        for f in whole
    }
    wanted = {pk for f in whole for pk in live_ids(f)} | {pk for _f, pk in added}
    loaded.read_costs({pk for pk in wanted if loaded.cost(pk) is None})
    factory_of = {pk: c[0] for pk in wanted if (c := loaded.cost(pk)) is not None}
    bulk.delete_where(FindingStake._meta.db_table, "finding_id", [f.pk for f in whole])
    bulk.insert(
        FindingStake, [row for f in whole for row in stake_rows(f, baselines[f.pk], factory_of)]
    )
    _unstake(removed)
    _stake([(fid, pk, factory_of.get(pk)) for fid, pk in added])


_TABLE = FindingStake._meta.db_table


def _unstake(pairs: list[tuple[int, int]]) -> None:
    """(finding, adoption) no longer at stake: the row goes, unless it holds a baseline."""
    if not pairs:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            pairs_sql = "unnest(%s::bigint[], %s::bigint[]) AS d(f, a)"
            params = [[f for f, _a in pairs], [a for _f, a in pairs]]
            match = "t.finding_id = d.f AND t.adoption_id = d.a"
            cursor.execute(
                f"DELETE FROM {_TABLE} AS t USING {pairs_sql} "
                f"WHERE {match} AND t.baseline_cost IS NULL",
                params,
            )
            cursor.execute(
                f"UPDATE {_TABLE} AS t SET at_stake = false FROM {pairs_sql} WHERE {match}",
                params,
            )
            return
        match = "finding_id = %s AND adoption_id = %s"
        cursor.executemany(f"DELETE FROM {_TABLE} WHERE {match} AND baseline_cost IS NULL", pairs)
        cursor.executemany(f"UPDATE {_TABLE} SET at_stake = %s WHERE {match}", [
            (False, f, a) for f, a in pairs
        ])  # fmt: skip


def _stake(rows: list[tuple[int, int, int | None]]) -> None:
    """(finding, adoption, factory) at stake now: a new row, or the baseline's row marked."""
    if not rows:
        return
    columns = "finding_id, adoption_id, factory_id, at_stake, baseline_cost"
    conflict = "ON CONFLICT (finding_id, adoption_id) DO UPDATE SET at_stake = EXCLUDED.at_stake"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {_TABLE} ({columns}) SELECT f, a, c, true, NULL "
                f"FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS d(f, a, c) {conflict}",
                [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
            )
            return
        cursor.executemany(
            f"INSERT INTO {_TABLE} ({columns}) VALUES (%s, %s, %s, %s, NULL) {conflict}",
            [(f, a, c, True) for f, a, c in rows],
        )
