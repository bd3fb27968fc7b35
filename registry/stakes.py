"""A finding's stake rows (:class:`registry.models.FindingStake`): the adoptions it covers,
written by detection beside the finding's ``detail`` and ``baseline``.

A finding first seen (or whose baseline is taken now) gets its rows written whole. A
finding already stored, whose baseline never changes again, gets only the difference
between the adoptions at stake it stored and those at stake now: a factory joining a
capability adds a row or two to its fragmentation finding rather than rewriting the
finding's thousands. An overlap or same-tool finding lists its adoptions at stake in its
``detail`` too; a fragmentation finding (thousands of them) in its rows only. A fixed
number of statements, whatever the number of findings or rows.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection

from coe import bulk
from registry.choices import FindingKind
from registry.models import DuplicateFinding, FindingStake


def stored_at_stake(findings: dict[int, DuplicateFinding]) -> dict[int, set[int]]:
    """The adoptions each of ``findings`` (by id, as stored) has at stake: its ``detail``,
    or for a fragmentation finding its rows (one query)."""
    found = {
        pk: set((f.detail or {}).get("adoptions_at_stake", []))
        for pk, f in findings.items()
        if f.kind != FindingKind.FRAGMENTATION
    }
    rows = [pk for pk, f in findings.items() if f.kind == FindingKind.FRAGMENTATION]
    found.update((pk, set()) for pk in rows)
    if rows:
        for fid, pk in FindingStake.objects.filter(finding_id__any=rows, at_stake=True).values_list(
            "finding_id", "adoption_id"
        ):
            found[fid].add(pk)
    return found


def _live(finding: DuplicateFinding, previous: dict[int, set[int]]) -> set[int]:
    """What ``finding`` has at stake now: as detected (``_at_stake``), else (no longer
    detected) as it stored."""
    live = getattr(finding, "_at_stake", None)
    return live if live is not None else previous.get(finding.pk, set())


def stake_rows(
    finding: DuplicateFinding, baseline: dict, factory_of: dict[int, int], live: set[int]
) -> list[FindingStake]:
    """The adoptions ``finding`` covers: at stake now (``live``) and/or in its
    ``baseline`` (``{adoption id: (factory id, cost)}``)."""
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
        live, before = _live(f, previous), previous[f.pk]
        added += [(f.pk, pk) for pk in sorted(live - before)]
        removed += [(f.pk, pk) for pk in sorted(before - live)]
    baselines = {
        f.pk: {int(pk): (fac, Decimal(cost)) for pk, (fac, cost) in (f.baseline or {}).items()}
        for f in whole
    }
    wanted = {pk for f in whole for pk in _live(f, previous)} | {pk for _f, pk in added}
    loaded.read_costs({pk for pk in wanted if loaded.cost(pk) is None})
    factory_of = {pk: c[0] for pk in wanted if (c := loaded.cost(pk)) is not None}
    bulk.delete_where(FindingStake._meta.db_table, "finding_id", [f.pk for f in whole])
    bulk.insert(
        FindingStake,
        [
            row
            for f in whole
            for row in stake_rows(f, baselines[f.pk], factory_of, _live(f, previous))
        ],
    )
    _unstake(removed)
    _stake([(fid, pk, factory_of.get(pk)) for fid, pk in added])


def write_stake_deltas(deltas, loaded) -> None:
    """Bring the rows of fragmentation findings updated by difference
    (:class:`registry.duplicates.FragmentationDelta`) in step with them: only the touched
    factories' adoptions can have changed, so only their rows are read and written."""
    if not deltas:
        return
    factories = sorted({f for d in deltas for f in d.stake_factories})
    before: dict[int, set[int]] = {d.finding_id: set() for d in deltas}
    for fid, pk in FindingStake.objects.filter(
        finding_id__any=sorted(before), factory_id__any=factories, at_stake=True
    ).values_list("finding_id", "adoption_id"):
        before[fid].add(pk)
    added, removed = [], []
    for d in deltas:
        added += [
            (d.finding_id, pk, c[0] if (c := loaded.cost(pk)) else None)
            for pk in sorted(d.at_stake - before[d.finding_id])
        ]
        removed += [(d.finding_id, pk) for pk in sorted(before[d.finding_id] - d.at_stake)]
        # The standard moved: the other factories' adoptions of both tools change too.
        added += [(d.finding_id, pk, factory) for pk, factory in d.staked]
        removed += [(d.finding_id, pk) for pk in d.unstaked]
    _unstake(removed)
    _stake(added)


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
            # One statement: the rows without a baseline go, the others are marked (both
            # parts see the rows as they were, so they never touch the same row).
            cursor.execute(
                f"WITH gone AS (DELETE FROM {_TABLE} AS t USING {pairs_sql} "
                f"WHERE {match} AND t.baseline_cost IS NULL) "
                f"UPDATE {_TABLE} AS t SET at_stake = false FROM {pairs_sql} "
                f"WHERE {match} AND t.baseline_cost IS NOT NULL",
                params + params,
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
