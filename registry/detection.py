"""Duplicate detection as a service: load plain records, match (``registry.duplicates``),
persist findings with their lifecycle. A constant number of queries, whatever the
number of factories, tools or adoptions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from registry.choices import LIVE_FINDING_STATUSES, AdoptionStatus, FindingStatus
from registry.duplicates import AdoptionRec, FindingRec, ToolRec, detect
from registry.models import Adoption, Capability, DuplicateFinding, Tool, ToolAlias
from registry.resolution import normalize
from registry.selectors import effective_cost


@dataclass
class DetectionSummary:
    findings: int = 0
    created: int = 0
    updated: int = 0
    reopened: int = 0
    resolved: int = 0


def _load_records() -> tuple[list[ToolRec], list[AdoptionRec]]:
    aliases: dict[int, list[str]] = defaultdict(list)
    for tool_id, key in ToolAlias.objects.values_list("tool_id", "normalized_name"):
        aliases[tool_id].append(key)
    tools, per_seat = [], {}
    for pk, key, vendor, homepage, ring, cost in Tool.objects.values_list(
        "pk", "normalized_name", "vendor", "homepage", "ring", "annual_cost_per_seat"
    ):
        tools.append(ToolRec(pk, key, normalize(vendor), homepage, ring, tuple(aliases[pk])))
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
    adoptions = []
    for pk, factory_id, tool_id, cost, seats, declared in Adoption.objects.filter(
        status=AdoptionStatus.ACTIVE, tool__isnull=False
    ).values_list("pk", "factory_id", "tool_id", "annual_cost", "seats", "declared_capability"):
        caps = tool_caps.get(tool_id, [])
        declared_cap = cap_by_name.get((declared or "").strip().lower()) or cap_by_name.get(
            slugify((declared or "").replace("/", " "))
        )
        # The capability the factory names wins when the tool offers it (a suite used
        # for one purpose overlaps only there).
        if declared_cap is not None and declared_cap in caps:
            caps = [declared_cap]
        adoptions.append(
            AdoptionRec(pk, factory_id, tool_id, effective_cost(cost, seats, per_seat[tool_id]),
                        tuple(caps))
        )  # fmt: skip
    return tools, adoptions


def _apply(finding: DuplicateFinding, rec: FindingRec) -> None:
    finding.kind = rec.kind
    finding.capability_id = rec.capability_id
    finding.scope_id = rec.scope_id
    finding.annual_cost_at_stake = rec.cost.quantize(Decimal("0.01"))
    finding.suggested_standard_id = rec.standard_id
    finding.detail = rec.detail


@transaction.atomic
def duplicates_detect(*, now=None) -> DetectionSummary:
    """Recompute every finding; keep each one's identity and status across runs.

    - a finding found again keeps its status, except: a resolved one reopens (it recurred)
      and a waived one whose waiver expired reopens;
    - a live or waived finding no longer found is resolved.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    tools, adoptions = _load_records()
    recs = detect(tools, adoptions)
    existing = {f.key: f for f in DuplicateFinding.objects.all()}
    summary = DetectionSummary(findings=len(recs))
    to_create, to_update = [], []
    for rec in recs:
        finding = existing.pop(rec.key, None)
        if finding is None:
            finding = DuplicateFinding(key=rec.key, first_detected=now, last_detected=now)
            _apply(finding, rec)
            to_create.append(finding)
            continue
        _apply(finding, rec)
        finding.last_detected = now
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
        to_update.append(finding)
    for finding in existing.values():  # no longer detected (manual findings stay as they are)
        if not finding.key.startswith("manual:") and finding.status in (
            *LIVE_FINDING_STATUSES,
            FindingStatus.WAIVED,
        ):
            finding.status = FindingStatus.RESOLVED
            finding.resolved_at = now
            to_update.append(finding)
            summary.resolved += 1
    DuplicateFinding.objects.bulk_create(to_create)
    fields = [
        "kind", "capability", "scope", "annual_cost_at_stake", "suggested_standard", "status",
        "detail", "waiver_reason", "waiver_approver", "waiver_expires_on", "note",
        "last_detected", "resolved_at",
    ]  # fmt: skip
    DuplicateFinding.objects.bulk_update(to_update, fields, batch_size=1000)
    summary.created, summary.updated = len(to_create), len(to_update) - summary.resolved

    # The tools and factories of every current finding, rewritten in bulk.
    by_key = {f.key: f for f in [*to_create, *to_update]}
    tool_through = DuplicateFinding.tools.through
    factory_through = DuplicateFinding.factories.through
    # Every current finding has last_detected == now: one DELETE each, no id lists.
    tool_through.objects.filter(duplicatefinding__last_detected=now).delete()
    factory_through.objects.filter(duplicatefinding__last_detected=now).delete()
    tool_rows, factory_rows = [], []
    for rec in recs:
        pk = by_key[rec.key].pk
        tool_rows += [tool_through(duplicatefinding_id=pk, tool_id=t) for t in rec.tool_ids]
        factory_rows += [
            factory_through(duplicatefinding_id=pk, factory_id=f) for f in rec.factory_ids
        ]
    tool_through.objects.bulk_create(tool_rows)
    factory_through.objects.bulk_create(factory_rows)
    return summary


def summary_dict(summary: DetectionSummary) -> dict:
    return asdict(summary)
