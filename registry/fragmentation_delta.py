"""A scoped run's fragmentation findings, updated by the touched factories' difference.

The capabilities a factory imports into are used by most of the portfolio: recomputing
their fragmentation findings means re-reading nearly every adoption, and rewriting
findings that list a thousand factories and tens of thousands of adoptions. Yet what a
few factories' change does to such a finding is small, unless something about the whole
capability moves. So a scoped run reads the capability's use counted per tool (factories,
cost: ``registry.detection_load._counts``) and, when

- the stored finding is live (not resolved, no expired waiver) with its baseline taken,
- the capability's tools are those the finding counted (``detail["factories_per_tool"]``),
  and
- at least two factories still take part,

updates the finding by the touched factories' part alone: its counts, cost and standard
from the aggregate (what a full run computes from the same adoptions), the factories
joining or leaving it, and the touched factories' stake rows. When the suggested standard
moved (a factory's change reordered two tools), the other factories' adoptions of the two
tools change their stake rows too: those of the former standard are now at stake, those
of the new one no longer (read by one query over the two tools). Any other capability is
recomputed in full (:func:`registry.detection_load.load_usage`, then
:func:`registry.duplicates.fragmentation`). Either way the stored result is what a full
run leaves (``tests/registry/test_detection_agreement.py``).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.db.models.fields.json import KeyTransform

from registry.choices import LIVE_FINDING_STATUSES, AdoptionStatus, FindingStatus
from registry.duplicates import FindingRec, FragmentationDelta, pick_standard
from registry.models import FACTORY_PREVIEW, Adoption, DuplicateFinding


def _uses_of(own, cap: int, standard: int) -> tuple[set[int], set[int]]:
    """(factories, adoption ids at stake) of the touched factories' adoptions of registry
    tools for ``cap``, the adoptions of ``standard`` not at stake (fragmentation counts
    registry tools only)."""
    factories, at_stake = set(), set()
    for a in own:
        if a.tool_id is not None and cap in a.capability_ids:
            factories.add(a.factory_id)
            if a.tool_id != standard:
                at_stake.add(a.id)
    return factories, at_stake


def plan(
    loaded, factories: set[int], today
) -> tuple[list[FindingRec], set[int], dict[int, dict[int, int] | None]]:
    """(the findings updated by difference, the concerned capabilities to recompute in
    full, per concerned capability the factories per tool its stored live finding
    counted — None when there is none — for :mod:`registry.standard_drift`)."""
    concerned = loaded.concerned
    if not concerned:
        return [], set(), {}
    keys = {f"fragmentation:{cap}": cap for cap in concerned}
    stored = DuplicateFinding.objects.filter(key__any=sorted(keys))
    no_baseline = set(stored.filter(baseline={}).values_list("pk", flat=True))
    rows = stored.annotate(counts=KeyTransform("factories_per_tool", "detail")).values_list(
        "pk", "capability_id", "status", "waiver_expires_on", "suggested_standard_id",
        "factory_count", "counts",
    )  # fmt: skip
    before: dict[int, dict[int, int] | None] = dict.fromkeys(concerned)
    candidates = {}
    former: dict[int, int] = {}  # per capability whose standard moved: the stored one
    tools = {t.id: t for t in loaded.tools}
    usage = loaded.usage or {}
    for pk, cap, status, expires, standard, count, counts in rows:
        if status == FindingStatus.RESOLVED or not isinstance(counts, dict):
            continue
        counted = {int(t): n for t, n in counts.items()}
        before[cap] = counted
        expired = status == FindingStatus.WAIVED and expires is not None and expires < today
        live = status in LIVE_FINDING_STATUSES or (status == FindingStatus.WAIVED and not expired)
        use = usage.get(cap)
        if not live or pk in no_baseline or use is None or standard is None:
            continue
        if set(use.tools()) != set(counted) or len(counted) < 2:
            continue
        candidates[cap] = (pk, pick_standard(use.tools(), tools, use.counts()), count)
        if candidates[cap][1] != standard:
            former[cap] = standard
    members = _members({pk for pk, _s, _c in candidates.values()}, factories)
    restaked = _restaked(loaded, factories, former, {c: s for c, (_p, s, _n) in candidates.items()})
    # Per capability: the factories joining and leaving, the touched adoptions at stake.
    moved: dict[int, tuple[frozenset, frozenset, set[int]]] = {}
    for cap, (pk, standard, count) in list(candidates.items()):
        now, at_stake = _uses_of(loaded.adoptions, cap, standard)
        was = members.get(pk, set())
        joined, left = frozenset(now - was), frozenset(was - now)
        if count + len(joined) - len(left) < 2:
            del candidates[cap]  # it no longer fragments: recomputed (and resolved) in full
            continue
        moved[cap] = (joined, left, at_stake)
    heads = _heads(
        {candidates[cap][0] for cap, (joined, left, _s) in moved.items() if joined or left},
        FACTORY_PREVIEW + max((len(left) for _j, left, _s in moved.values()), default=0),
    )
    recs = []
    for cap, (pk, standard, count) in sorted(candidates.items()):
        use = usage[cap]
        counts = use.counts()
        joined, left, at_stake = moved[cap]
        first = None
        if joined or left:
            first = sorted((set(heads.get(pk, [])) - left) | joined)[:FACTORY_PREVIEW]
        recs.append(
            FindingRec(
                key=f"fragmentation:{cap}",
                kind="fragmentation",
                capability_id=cap,
                scope_id=None,
                tool_ids=sorted(counts),
                factory_ids=[],
                cost=sum((use.cost[t] for t in counts if t != standard), Decimal("0")),
                standard_id=standard,
                detail={"factories_per_tool": {str(t): counts[t] for t in sorted(counts)}},
                at_stake=[],
                delta=FragmentationDelta(
                    finding_id=pk,
                    joined=joined,
                    left=left,
                    factory_count=count + len(joined) - len(left),
                    first_factories=first,
                    stake_factories=frozenset(factories),
                    at_stake=frozenset(at_stake),
                    staked=restaked.get(cap, ((), ()))[0],
                    unstaked=restaked.get(cap, ((), ()))[1],
                ),
            )
        )
    return recs, set(concerned) - set(candidates), before


def _restaked(
    loaded, factories: set[int], former: dict[int, int], standard: dict[int, int]
) -> dict[int, tuple[tuple, tuple]]:
    """Per capability whose suggested standard moved (``former``: the stored one), the
    other factories' adoptions of the former standard counted for it, now at stake, as
    (adoption, factory), and those of the new standard, no longer at stake (one query over
    the two tools' adoptions; the touched factories' are compared with their rows)."""
    if not former:
        return {}
    tools = sorted(set(former.values()) | {standard[cap] for cap in former})
    rows = Adoption.objects.filter(status=AdoptionStatus.ACTIVE, tool_id__any=tools).exclude(
        factory_id__any=sorted(factories)
    )
    found: dict[int, tuple[list, list]] = {cap: ([], []) for cap in former}
    registry = loaded.registry
    for pk, factory_id, tool_id, declared in rows.order_by("pk").values_list(
        "pk", "factory_id", "tool_id", "declared_capability"
    ):
        caps = registry.caps_of(tool_id, declared or None)
        for cap, was in former.items():
            if cap not in caps:
                continue
            if tool_id == was:
                found[cap][0].append((pk, factory_id))
            elif tool_id == standard[cap]:
                found[cap][1].append(pk)
    return {cap: (tuple(staked), tuple(unstaked)) for cap, (staked, unstaked) in found.items()}


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _members(findings: set[int], factories: set[int]) -> dict[int, set[int]]:
    """Which of ``factories`` each finding lists now (one query)."""
    if not findings or not factories:
        return {}
    found: dict[int, set[int]] = {}
    links = DuplicateFinding.factories.through.objects.filter(
        duplicatefinding_id__any=sorted(findings), factory_id__any=sorted(factories)
    )
    for fid, factory in links.values_list("duplicatefinding_id", "factory_id"):
        found.setdefault(fid, set()).add(factory)
    return found


def _heads(findings: set[int], n: int) -> dict[int, list[int]]:
    """The first ``n`` factory ids each finding lists (one query, a window per finding)."""
    if not findings:
        return {}
    links = _table(DuplicateFinding.factories.through)
    marks = ", ".join(["%s"] * len(findings))
    found: dict[int, list[int]] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the first n of each from the links' index
            cursor.execute(
                "SELECT f.id, l.factory_id FROM unnest(%s::bigint[]) AS f (id) CROSS JOIN "
                f"LATERAL (SELECT factory_id FROM {links} WHERE duplicatefinding_id = f.id "
                "ORDER BY factory_id LIMIT %s) l ORDER BY 1, 2",
                [sorted(findings), n],
            )
            for fid, factory in cursor.fetchall():
                found.setdefault(fid, []).append(factory)
            return found
        cursor.execute(
            "SELECT f, c FROM (SELECT duplicatefinding_id AS f, factory_id AS c, ROW_NUMBER() "
            "OVER (PARTITION BY duplicatefinding_id ORDER BY factory_id) AS n "
            f"FROM {links} WHERE duplicatefinding_id IN ({marks})) x WHERE n <= %s",
            [*sorted(findings), n],
        )
        for fid, factory in cursor.fetchall():
            found.setdefault(fid, []).append(factory)
    return found
