"""Duplicate detection as a service: load plain records, match (``registry.duplicates``),
persist findings with their lifecycle. A constant number of queries, whatever the
number of factories, tools or adoptions."""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from coe import bulk, derived
from coe.changelog import log_bulk
from coe.choices import EventKind
from coe.models import Factory
from registry.choices import LIVE_FINDING_STATUSES, AdoptionStatus, FindingKind, FindingStatus
from registry.duplicates import AdoptionRec, FindingRec, ToolRec, detect
from registry.figures import refresh_tool_figures
from registry.finding_events import emit_finding_events
from registry.models import (
    FACTORY_PREVIEW,
    Adoption,
    Capability,
    DuplicateFinding,
    FindingStake,
    Tool,
    ToolAlias,
    ToolRingOverride,
)
from registry.resolution import normalize
from registry.selectors import effective_cost


@dataclass
class DetectionSummary:
    findings: int = 0
    created: int = 0
    updated: int = 0
    reopened: int = 0
    resolved: int = 0


def _load_records(
    factories: set[int] | None = None, capabilities: set[int] | None = None
) -> tuple[list[ToolRec], list[AdoptionRec], dict[int, str], set[int]]:
    """Tools, active adoptions (unresolved ones that declare a known capability too) and
    factory kinds. Scoped (``factories``/``capabilities`` given): only the adoptions of the
    capabilities those factories use or that were named (all factories), and no aliases
    (same_tool is not re-detected); the capabilities concerned are returned last."""
    scoped = factories is not None or capabilities is not None
    aliases: dict[int, list[str]] = defaultdict(list)
    if not scoped:
        for tool_id, key in ToolAlias.objects.values_list("tool_id", "normalized_name"):
            aliases[tool_id].append(key)
    overrides: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for tool_id, kind, ring in ToolRingOverride.objects.values_list(
        "tool_id", "factory_kind", "ring"
    ):
        overrides[tool_id].append((kind, ring))
    tools, per_seat = [], {}
    for pk, key, vendor, homepage, ring, cost in Tool.objects.values_list(
        "pk", "normalized_name", "vendor", "homepage", "ring", "annual_cost_per_seat"
    ):
        tools.append(
            ToolRec(pk, key, normalize(vendor), homepage, ring, tuple(aliases[pk]),
                    tuple(overrides[pk]))
        )  # fmt: skip
        per_seat[pk] = cost
    tool_caps: dict[int, list[int]] = defaultdict(list)
    for tool_id, cap_id in Tool.capabilities.through.objects.values_list(
        "tool_id", "capability_id"
    ):
        tool_caps[tool_id].append(cap_id)
    cap_by_name: dict[str, int] = {}
    for pk, name, slug in Capability.objects.values_list("pk", "name", "slug"):
        cap_by_name[name.lower()] = pk
        cap_by_name[slug] = pk
    columns = (
        "pk", "factory_id", "tool_id", "annual_cost", "seats", "declared_capability",
        "normalized_name", "factory__kind",
    )  # fmt: skip
    kinds: dict[int, str] = {}
    active = Adoption.objects.filter(status=AdoptionStatus.ACTIVE)

    def records(rows) -> list[AdoptionRec]:
        out = []
        for pk, factory_id, tool_id, cost, seats, declared, name, kind in rows:
            kinds[factory_id] = kind
            declared_cap = cap_by_name.get((declared or "").strip().lower()) or cap_by_name.get(
                slugify((declared or "").replace("/", " "))
            )
            if tool_id is None:  # unresolved: counts where it declares a capability
                if declared_cap is not None:
                    out.append(
                        AdoptionRec(pk, factory_id, None, effective_cost(cost, seats, None),
                                    (declared_cap,), name)
                    )  # fmt: skip
                continue
            caps = tool_caps.get(tool_id, [])
            # The capability the factory names wins when the tool offers it (a suite used
            # for one purpose overlaps only there).
            if declared_cap is not None and declared_cap in caps:
                caps = [declared_cap]
            out.append(
                AdoptionRec(pk, factory_id, tool_id,
                            effective_cost(cost, seats, per_seat[tool_id]), tuple(caps))
            )  # fmt: skip
        return out

    if not scoped:
        adoptions = records(active.values_list(*columns))
        concerned: set[int] = set()
    else:
        own = records(active.filter(factory_id__in=factories or ()).values_list(*columns))
        concerned = set(capabilities or ()) | {c for a in own for c in a.capability_ids}
        offering = sorted({t for t, caps in tool_caps.items() if concerned.intersection(caps)})
        rows = active.filter(
            Q(tool_id__in=offering) | Q(tool__isnull=True) & ~Q(declared_capability="")
        ).values_list(*columns)
        adoptions = [a for a in records(rows) if concerned.intersection(a.capability_ids)]
    return tools, adoptions, kinds, concerned


def _baseline(finding: DuplicateFinding, rec: FindingRec, costs: dict) -> None:
    """The money at stake and each covered adoption's cost, taken once: when a finding is
    first detected (or first seen by this version); realised savings are measured against it."""
    if finding.baseline:
        return
    finding.cost_at_detection = finding.annual_cost_at_stake
    finding.baseline = {
        str(pk): [costs[pk][0], str(costs[pk][1])]
        for pk in rec.detail.get("adoptions_at_stake", [])
        if pk in costs
    }


def _apply(finding: DuplicateFinding, rec: FindingRec, slugs: dict[int, str]) -> None:
    finding.kind = rec.kind
    finding.factory_count = len(rec.factory_ids)
    finding.factory_preview = [slugs[f] for f in rec.factory_ids[:FACTORY_PREVIEW] if f in slugs]
    finding.capability_id = rec.capability_id
    finding.scope_id = rec.scope_id
    finding.annual_cost_at_stake = rec.cost.quantize(Decimal("0.01"))
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


def _state(finding: DuplicateFinding) -> tuple:
    return tuple(getattr(finding, finding._meta.get_field(f).attname) for f in _COMPARED)


def _links(ids: set[int] | None = None) -> dict[int, tuple[frozenset, frozenset]]:
    """``{finding id: (tool ids, factory ids)}`` as stored (two queries), of ``ids`` only
    when given."""
    tools: dict[int, set] = defaultdict(set)
    factories: dict[int, set] = defaultdict(set)
    tool_links = DuplicateFinding.tools.through.objects.all()
    factory_links = DuplicateFinding.factories.through.objects.all()
    if ids is not None:
        tool_links = tool_links.filter(duplicatefinding_id__in=ids)
        factory_links = factory_links.filter(duplicatefinding_id__in=ids)
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


def _in_scope(factories: set[int] | None, capabilities: set[int] | None) -> Q:
    """The stored findings an incremental run owns: the overlaps of its factories and the
    fragmentation of its capabilities (everything when not scoped)."""
    if factories is None and capabilities is None:
        return Q()
    return Q(kind=FindingKind.OVERLAP, scope_id__in=factories or ()) | Q(
        kind=FindingKind.FRAGMENTATION, capability_id__in=capabilities or ()
    )


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
    if factories is None and capabilities is None:
        refresh_tool_figures()  # the nightly run also settles the registry list's figures
    today = timezone.localdate(now)
    tools, adoptions, kinds, concerned = _load_records(factories, capabilities)
    scoped = factories is not None or capabilities is not None
    if scoped:
        capabilities = concerned
        factories = set(factories or ())
    recs = detect(
        tools, adoptions, factory_kinds=kinds, factories=factories, capabilities=capabilities
    )
    costs = {a.id: (a.factory_id, a.cost) for a in adoptions}
    scope = _in_scope(factories, capabilities)
    existing = {f.key: f for f in DuplicateFinding.objects.filter(scope)}
    snapshots = {f.pk: copy.copy(f) for f in existing.values()}  # for the change log
    stored_links = _links(set(snapshots) if scoped else None) if existing else {}
    summary = DetectionSummary(findings=len(recs))
    slugs = dict(
        Factory.objects.filter(
            pk__in={f for rec in recs for f in rec.factory_ids[:FACTORY_PREVIEW]}
        ).values_list("pk", "slug")
    )
    to_create, to_update, relink, created_recs = [], [], [], []
    events: list = []  # (kind, finding, factory ids) for the outbox
    for rec in recs:
        finding = existing.pop(rec.key, None)
        if finding is None:
            finding = DuplicateFinding(key=rec.key, first_detected=now, last_detected=now)
            _apply(finding, rec, slugs)
            _baseline(finding, rec, costs)
            to_create.append(finding)
            created_recs.append(rec)
            continue
        before = _state(finding)
        _apply(finding, rec, slugs)
        _baseline(finding, rec, costs)
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
        if _state(finding) != before:
            to_update.append(finding)
        if stored_links.get(finding.pk) != (frozenset(rec.tool_ids), frozenset(rec.factory_ids)):
            relink.append((finding.pk, rec))
    for finding in existing.values():  # no longer detected (manual findings stay as they are)
        live = (*LIVE_FINDING_STATUSES, FindingStatus.WAIVED)
        if not finding.key.startswith("manual:") and finding.status in live:
            finding.status = FindingStatus.RESOLVED
            finding.resolved_at = now
            to_update.append(finding)
            summary.resolved += 1
            events.append(
                (EventKind.FINDING_RESOLVED, finding, stored_links.get(finding.pk, ((), ()))[1])
            )
    summary.created = len(to_create)
    new_recs = {finding.key: rec for finding, rec in zip(to_create, created_recs, strict=True)}
    _write(to_create, to_update, relink, new_recs, now, scope)
    # The factories' open findings and money at stake (their KPI figures) changed.
    touched = {fid for _kind, _finding, ids in events for fid in ids}
    touched |= {fid for _pk, rec in relink for fid in rec.factory_ids}
    touched |= {f.scope_id for f in to_update + to_create if f.scope_id}
    changed_pks = {f.pk for f in to_update}
    touched |= {fid for pk, links in stored_links.items() if pk in changed_pks for fid in links[1]}
    derived.touch(touched, ())
    write_stakes([*to_create, *to_update], {pk: fac for pk, (fac, _cost) in costs.items()})
    # One change-log entry per finding opened, reopened, resolved or changed (one INSERT).
    log_bulk(DuplicateFinding, to_create)
    log_bulk(DuplicateFinding, to_update, action="update", before=snapshots)
    if to_create:  # their ids came back from the insert
        events = [
            (EventKind.FINDING_OPENED, f, new_recs[f.key].factory_ids) for f in to_create
        ] + events
    emit_finding_events(events)
    return summary


def _write(to_create: list, to_update: list, relink: list, new_recs: dict, now, scope: Q) -> None:
    """Persist in a fixed number of statements (``coe.bulk``: one statement per table and
    kind of write), whatever the number of findings. New findings' links use the ids the
    insert returns (set on the objects too); only findings in ``scope`` are touched."""
    bulk.update(DuplicateFinding, to_update, _FIELDS)
    created = bulk.insert(DuplicateFinding, to_create)
    # Every finding detected now (not resolved, not manual) was seen now: one UPDATE.
    DuplicateFinding.objects.filter(scope).exclude(status=FindingStatus.RESOLVED).exclude(
        key__startswith="manual:"
    ).update(last_detected=now)
    ids = {finding.key: pk for finding, pk in zip(to_create, created, strict=True)}
    relink = relink + [(ids[key], rec) for key, rec in new_recs.items()]
    if not relink:
        return
    for through, column, attr in (
        (DuplicateFinding.tools.through, "tool_id", "tool_ids"),
        (DuplicateFinding.factories.through, "factory_id", "factory_ids"),
    ):
        table = through._meta.db_table
        bulk.delete_where(table, "duplicatefinding_id", [pk for pk, _rec in relink])
        rows = [(pk, other) for pk, rec in relink for other in getattr(rec, attr)]
        bulk.insert_pairs(table, ("duplicatefinding_id", column), rows)


def stake_rows(finding: DuplicateFinding, factory_of: dict[int, int]) -> list[FindingStake]:
    """The adoptions ``finding`` covers, from its ``detail`` (at stake now) and ``baseline``."""
    baseline = {
        int(pk): (fac, Decimal(cost)) for pk, (fac, cost) in (finding.baseline or {}).items()
    }
    live = set((finding.detail or {}).get("adoptions_at_stake", []))
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


def write_stakes(findings: list[DuplicateFinding], factory_of: dict[int, int]) -> None:
    """Replace the stake rows of ``findings`` (two statements, whatever their number)."""
    if not findings:
        return
    bulk.delete_where(FindingStake._meta.db_table, "finding_id", [f.pk for f in findings])
    bulk.insert(FindingStake, [row for f in findings for row in stake_rows(f, factory_of)])


def summary_dict(summary: DetectionSummary) -> dict:
    return asdict(summary)
