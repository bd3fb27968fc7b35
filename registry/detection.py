"""Duplicate detection as a service: load plain records, match (``registry.duplicates``),
persist findings with their lifecycle. A constant number of queries, whatever the
number of factories, tools or adoptions."""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from coe import bulk, derived
from coe.changelog import log_bulk
from coe.choices import EventKind
from coe.models import Factory
from registry.choices import LIVE_FINDING_STATUSES, FindingKind, FindingStatus
from registry.detection_load import load_full, load_overlaps, load_scoped, load_usage
from registry.duplicates import FindingRec, detect
from registry.figure_shifts import FigureShifts
from registry.figures import refresh_tool_figures
from registry.finding_events import emit_finding_events
from registry.fragmentation_delta import plan as plan_fragmentation
from registry.models import FACTORY_PREVIEW, DuplicateFinding
from registry.stakes import stored_at_stake, write_stake_deltas, write_stakes
from registry.standard_drift import drifted_overlaps


@dataclass
class DetectionSummary:
    findings: int = 0
    created: int = 0
    updated: int = 0
    reopened: int = 0
    resolved: int = 0


CENT = Decimal("0.01")


def _baseline(finding: DuplicateFinding, rec: FindingRec, cost_of) -> None:
    """The money at stake and each covered adoption's cost, taken once: when a finding is
    first detected (or first seen by this version); realised savings are measured against it."""
    if finding.baseline is KEPT or finding.baseline:
        return
    finding.cost_at_detection = finding.annual_cost_at_stake
    found = {pk: cost_of(pk) for pk in rec.at_stake_ids()}
    finding.baseline = {
        str(pk): [factory_id, str(Decimal(cost).quantize(CENT))]
        for pk, (factory_id, cost) in ((pk, c) for pk, c in found.items() if c is not None)
    }


# Stands for a finding's baseline once taken: it never changes again, so detection does
# not read it (for a fragmentation finding, one entry per adoption of the capability).
KEPT = type("Kept", (), {"__repr__": lambda self: "<baseline kept>"})()


def _existing(scope: Q) -> dict[str, DuplicateFinding]:
    """The stored findings in ``scope`` by key, their taken baselines left unread."""
    found = {}
    no_baseline = ExpressionWrapper(Q(baseline={}), output_field=BooleanField())
    for finding in (
        DuplicateFinding.objects.filter(scope).defer("baseline").annotate(no_baseline=no_baseline)
    ):
        finding.baseline = {} if finding.no_baseline else KEPT
        del finding.no_baseline
        found[finding.key] = finding
    return found


def _apply(finding: DuplicateFinding, rec: FindingRec, slugs: dict[int, str]) -> None:
    finding.kind = rec.kind
    if rec.delta is None:
        finding.factory_count = len(rec.factory_ids)
        first = rec.factory_ids[:FACTORY_PREVIEW]
        finding.factory_preview = [slugs[f] for f in first if f in slugs]
    else:  # updated by difference: the preview moves only when factories joined or left
        finding.factory_count = rec.delta.factory_count
        if rec.delta.first_factories is not None:
            first = rec.delta.first_factories
            finding.factory_preview = [slugs[f] for f in first if f in slugs]
    finding._at_stake = set(rec.at_stake_ids())  # its stake rows (registry.stakes)
    finding.capability_id = rec.capability_id
    finding.scope_id = rec.scope_id
    finding.annual_cost_at_stake = rec.cost.quantize(CENT)
    finding.suggested_standard_id = rec.standard_id
    finding.detail = rec.detail


_FIELDS = [
    "key", "kind", "capability", "scope", "annual_cost_at_stake", "suggested_standard",
    "status", "detail", "waiver_reason", "waiver_approver", "waiver_expires_on", "note",
    "first_detected", "last_detected", "resolved_at", "cost_at_detection", "baseline",
    "factory_count", "factory_preview",
]  # fmt: skip
# What a re-run compares to decide whether a row needs writing (last_detected is bumped
# for every detected finding by one UPDATE).
_COMPARED = [f for f in _FIELDS if f not in ("key", "first_detected", "last_detected")]


_ATTNAMES = {name: DuplicateFinding._meta.get_field(name).attname for name in _FIELDS}
_COMPARED_ATTNAMES = [_ATTNAMES[name] for name in _COMPARED]


def _changed(before: tuple, after: tuple) -> list[int]:
    """The compared columns (their index in ``_COMPARED``) two states of a finding differ in."""
    return [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]


def _state(finding: DuplicateFinding) -> tuple:
    return tuple(getattr(finding, attname) for attname in _COMPARED_ATTNAMES)


def _snapshot(finding: DuplicateFinding) -> DuplicateFinding:
    """A read-only copy of a stored finding's values (what it was before the run: the
    change log's "before"), without the pickling round ``copy.copy`` makes of a model."""
    copied = DuplicateFinding.__new__(DuplicateFinding)
    copied.__dict__ = finding.__dict__.copy()
    copied._state = copy.copy(finding._state)  # its own cache of related objects
    copied._state.fields_cache = dict(finding._state.fields_cache)
    return copied


def _figure_state(finding: DuplicateFinding, factory_ids) -> tuple:
    """What a finding counts for in its factories' figures (``registry.figure_shifts``)."""
    return finding.status, finding.scope_id, finding.annual_cost_at_stake, factory_ids


def _links(ids: set[int] | None = None) -> dict[int, tuple[frozenset, frozenset]]:
    """``{finding id: (tool ids, factory ids)}`` as stored (two queries), of ``ids`` only
    when given."""
    tools: dict[int, set] = defaultdict(set)
    factories: dict[int, set] = defaultdict(set)
    tool_links = DuplicateFinding.tools.through.objects.all()
    factory_links = DuplicateFinding.factories.through.objects.all()
    if ids is not None:
        tool_links = tool_links.filter(duplicatefinding_id__any=ids)
        factory_links = factory_links.filter(duplicatefinding_id__any=ids)
    for fid, tid in tool_links.values_list("duplicatefinding_id", "tool_id"):
        tools[fid].add(tid)
    for fid, fac in factory_links.values_list("duplicatefinding_id", "factory_id"):
        factories[fid].add(fac)
    return {
        fid: (frozenset(tools[fid]), frozenset(factories[fid]))
        for fid in tools.keys() | factories.keys()
    }


# One detection at a time on PostgreSQL: concurrent runs (an import's, the nightly one, a
# requested one) queue behind this transaction-level advisory lock. SQLite serialises
# writers itself.
DETECTION_LOCK = 0x434F_4544


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DETECTION_LOCK])


def after_detection(*, wait: bool = True) -> bool:
    """Hold detection's lock shared until the current transaction ends (PostgreSQL; shared,
    so readers do not queue behind each other): a running detection commits first and the
    next waits. A full build of finding figures reads the findings under it: a run moves
    the figures by difference (``registry.figure_shifts``), so figures read before the run
    committed and written after it would lose the run's change. Returns whether it is
    held. ``wait=False`` (inside a writer's transaction, which may hold rows a running
    detection needs, so waiting could deadlock): False while a run is in progress."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [DETECTION_LOCK])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock_shared(%s)", [DETECTION_LOCK])
        return bool(cursor.fetchone()[0])


def _in_scope(
    factories: set[int] | None, capabilities: set[int] | None, overlaps: set[tuple[int, int]]
) -> Q:
    """The stored findings an incremental run owns: the overlaps of its factories, the
    other factories' ``overlaps`` (factory, capability) and the fragmentation of its
    capabilities (everything when not scoped). A capability's fragmentation finding and a
    single overlap are found by their keys (the unique index), not among the capability's
    many overlaps; a finding recorded by hand is never detection's."""
    if factories is None and capabilities is None:
        return Q()
    keys = [f"fragmentation:{cap}" for cap in sorted(capabilities or ())]
    keys += [f"overlap:{factory}:{cap}" for factory, cap in sorted(overlaps)]
    return Q(kind=FindingKind.OVERLAP, scope_id__any=factories or ()) | Q(key__any=keys)


@transaction.atomic
def duplicates_detect(
    *, now=None, factories: set[int] | None = None, capabilities: set[int] | None = None
) -> DetectionSummary:
    """Recompute the findings; keep each one's identity and status across runs.

    With ``factories`` and/or ``capabilities`` only the overlaps of those factories and
    the fragmentation of the capabilities they use (and of ``capabilities``) are
    recomputed — what an import or an adoption change can have changed.

    - a finding found again keeps its status, except: a resolved one reopens (it recurred)
      and a waived one whose waiver expired reopens;
    - a live or waived finding no longer found is resolved;
    - only rows that changed are written (a nightly re-run of an unchanged portfolio
      writes one UPDATE of ``last_detected``).
    """
    _lock()
    now = now or timezone.now()
    today = timezone.localdate(now)
    scoped = factories is not None or capabilities is not None
    drifted: set[tuple[int, int]] = set()
    by_delta: list[FindingRec] = []  # fragmentation findings updated by difference
    if not scoped:
        refresh_tool_figures()  # the nightly run also settles the registry list's figures
    if scoped:
        factories = set(factories or ())
        loaded = load_scoped(factories, set(capabilities or ()))
        by_delta, whole, before = plan_fragmentation(loaded, factories, today)
        load_usage(loaded, whole)  # the capabilities whose fragmentation is recomputed
        # Other factories' overlaps whose standard moved with this change.
        drifted = drifted_overlaps(loaded, factories, before)
        load_overlaps(loaded, drifted)
        capabilities = loaded.concerned
    else:
        loaded = load_full()
        whole = capabilities
    recs = detect(
        loaded.tools, loaded.adoptions, factory_kinds=loaded.kinds, factories=factories,
        capabilities=whole, usage=loaded.usage, overlaps=drifted,
    )  # fmt: skip
    recs = sorted(recs + by_delta, key=lambda rec: rec.key)
    scope = _in_scope(factories, capabilities, drifted)
    existing = _existing(scope)
    snapshots = {f.pk: _snapshot(f) for f in existing.values()}  # for the change log
    delta_ids = {rec.delta.finding_id for rec in by_delta}
    stored_links = _links(set(snapshots) - delta_ids if scoped else None) if existing else {}
    loaded.read_costs(
        {
            pk
            for rec in recs
            if rec.key not in existing or existing[rec.key].baseline == {}
            for pk in rec.at_stake_ids()
        }
    )  # the costs new baselines record
    summary = DetectionSummary(findings=len(recs))
    slugs = dict(
        Factory.objects.filter(
            pk__any={
                f
                for rec in recs
                for f in (
                    rec.factory_ids[:FACTORY_PREVIEW]
                    if rec.delta is None
                    else rec.delta.first_factories or ()
                )
            }
        ).values_list("pk", "slug")
    )
    to_create, to_update, relink, created_recs = [], [], [], []
    joined, left, by_difference = [], [], []  # of the findings updated by difference
    written: set[int] = set()  # the compared columns (their index) some finding changed
    relinked: list[DuplicateFinding] = []  # stored findings whose tools or factories moved
    detected = {rec.key: rec for rec in recs}
    events: list = []  # (kind, finding, factory ids) for the outbox
    for rec in recs:
        finding = existing.pop(rec.key, None)
        if finding is None:
            finding = DuplicateFinding(key=rec.key, first_detected=now, last_detected=now)
            _apply(finding, rec, slugs)
            _baseline(finding, rec, loaded.cost)
            to_create.append(finding)
            created_recs.append(rec)
            continue
        before = _state(finding)
        _apply(finding, rec, slugs)
        _baseline(finding, rec, loaded.cost)
        expired = (
            finding.status == FindingStatus.WAIVED
            and finding.waiver_expires_on is not None
            and finding.waiver_expires_on < today
        )
        if finding.status == FindingStatus.RESOLVED or expired:
            finding.status = FindingStatus.OPEN
            finding.resolved_at = None
            if expired:
                finding.note = f"Waiver expired on {finding.waiver_expires_on.isoformat()}."
                finding.waiver_reason, finding.waiver_approver = "", None
                finding.waiver_expires_on = None
            summary.reopened += 1
            events.append((EventKind.FINDING_REOPENED, finding, rec.factory_ids))
        summary.updated += 1
        after = _state(finding)
        if after != before:
            to_update.append(finding)
            written.update(_changed(before, after))
        if rec.delta is not None:  # its tools are those stored; factories by difference
            joined += [(finding.pk, f) for f in sorted(rec.delta.joined)]
            left += [(finding.pk, f) for f in sorted(rec.delta.left)]
            by_difference.append((finding, rec.delta))
        elif stored_links.get(finding.pk) != (frozenset(rec.tool_ids), frozenset(rec.factory_ids)):
            relink.append((finding.pk, rec))
            relinked.append(finding)
    for finding in existing.values():  # no longer detected (manual findings stay as they are)
        live = (*LIVE_FINDING_STATUSES, FindingStatus.WAIVED)
        if not finding.key.startswith("manual:") and finding.status in live:
            before = _state(finding)
            finding.status = FindingStatus.RESOLVED
            finding.resolved_at = now
            to_update.append(finding)
            written.update(_changed(before, _state(finding)))
            summary.resolved += 1
            events.append(
                (EventKind.FINDING_RESOLVED, finding, stored_links.get(finding.pk, ((), ()))[1])
            )
    summary.created = len(to_create)
    new_recs = {finding.key: rec for finding, rec in zip(to_create, created_recs, strict=True)}
    # Only the columns some finding changed are written (a run moving costs and standards
    # does not rewrite every finding's key, status, waiver and timestamps).
    fields = [name for i, name in enumerate(_COMPARED) if i in written]
    written_names = [*fields, "last_detected"]  # what the update below can change
    _write(to_create, to_update, relink, new_recs, now, scope, stored_links, (joined, left), fields)
    # The factories' open findings and money at stake (their KPI figures), moved by
    # difference in this transaction: each finding written, as it was and as it is now.
    shifts = FigureShifts()
    for finding in to_create:
        shifts.finding(None, _figure_state(finding, new_recs[finding.key].factory_ids))
    # (A finding whose factories moved while its columns stayed is among the relinked.)
    updated = {f.pk for f in to_update}
    for finding in [*to_update, *(f for f in relinked if f.pk not in updated)]:
        if finding.pk not in delta_ids:
            stored = stored_links.get(finding.pk, ((), ()))[1]
            rec = detected.get(finding.key)
            after = stored if rec is None else rec.factory_ids  # a resolved one keeps its links
            shifts.finding(
                _figure_state(snapshots[finding.pk], stored), _figure_state(finding, after)
            )
    for finding, delta in by_difference:
        before = snapshots[finding.pk]
        shifts.by_difference(
            finding.pk, finding.status, before.annual_cost_at_stake,
            finding.annual_cost_at_stake, delta.joined, delta.left,
        )  # fmt: skip
    derived.shift_findings(shifts.by_factory(), shifts.moved)
    stakes_wanted = [f for f in [*to_create, *to_update] if f.pk not in delta_ids]
    previous = stored_at_stake(
        {pk: snapshot for pk, snapshot in snapshots.items() if pk not in delta_ids}
    )
    write_stakes(stakes_wanted, loaded, previous)
    write_stake_deltas([rec.delta for rec in by_delta], loaded)
    # One change-log entry per finding opened, reopened, resolved or changed (one INSERT).
    log_bulk(DuplicateFinding, to_create)
    log_bulk(DuplicateFinding, to_update, action="update", before=snapshots, fields=written_names)
    if to_create:  # their ids came back from the insert
        events = [
            (EventKind.FINDING_OPENED, f, new_recs[f.key].factory_ids) for f in to_create
        ] + events
    emit_finding_events(events)
    return summary


def _write(
    to_create: list,
    to_update: list,
    relink: list,
    new_recs: dict,
    now,
    scope: Q,
    stored_links,
    factory_delta: tuple[list, list] = ([], []),
    fields: list[str] = _FIELDS,
) -> None:
    """Persist in a fixed number of statements (``coe.bulk``: one statement per table and
    kind of write), whatever the number of findings. New findings' links use the ids the
    insert returns (set on the objects too); only findings in ``scope`` are touched."""
    # Every finding detected now (not resolved, not manual) was seen now: those written
    # anyway carry it, the others get it by one UPDATE.
    for finding in to_update:
        if finding.status != FindingStatus.RESOLVED and not finding.key.startswith("manual:"):
            finding.last_detected = now
    fields = [*fields, "last_detected"]
    # A baseline already taken was not read (KEPT) and is not written back.
    kept = [f for f in to_update if f.baseline is KEPT]
    if kept:
        bulk.update(DuplicateFinding, kept, [f for f in fields if f != "baseline"])
    taken = [f for f in to_update if f.baseline is not KEPT]
    if taken:
        bulk.update(DuplicateFinding, taken, fields)
    created = bulk.insert(DuplicateFinding, to_create)
    DuplicateFinding.objects.filter(scope).exclude(status=FindingStatus.RESOLVED).exclude(
        key__startswith="manual:"
    ).exclude(last_detected=now).update(last_detected=now)
    ids = {finding.key: pk for finding, pk in zip(to_create, created, strict=True)}
    relink = relink + [(ids[key], rec) for key, rec in new_recs.items()]
    joined, left = factory_delta
    if not relink and not joined and not left:
        return
    # Only the links that changed are written: a factory joining a capability adds one
    # link to its fragmentation finding, not a rewrite of the finding's thousand.
    for n, (through, column, attr) in enumerate(
        (
            (DuplicateFinding.tools.through, "tool_id", "tool_ids"),
            (DuplicateFinding.factories.through, "factory_id", "factory_ids"),
        )
    ):
        columns = ("duplicatefinding_id", column)
        added, removed = ([], []) if n == 0 else (list(joined), list(left))
        for pk, rec in relink:
            stored = stored_links.get(pk, (frozenset(), frozenset()))[n]
            wanted = set(getattr(rec, attr))
            added += [(pk, other) for other in sorted(wanted - stored)]
            removed += [(pk, other) for other in sorted(stored - wanted)]
        bulk.delete_pairs(through._meta.db_table, columns, removed)
        bulk.insert_pairs(through._meta.db_table, columns, added)


def summary_dict(summary: DetectionSummary) -> dict:
    return asdict(summary)
