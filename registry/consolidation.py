"""Acting on findings: merge two registry tools, plan a consolidation, measure what it saved.

- :func:`tool_merge` folds one tool into another (adoptions, requests, ring history,
  aliases, ring overrides and capabilities move; the merged name becomes an alias; the
  same_tool finding between them resolves; the change log records every moved row).
- :func:`finding_plan` records a consolidation plan on an overlap or fragmentation
  finding; its progress is read from adoptions (:func:`plan_progress`).
- :func:`realised_savings` is the drop in annual cost of the adoptions a finding covered
  when it was first detected (``DuplicateFinding.baseline``) — an adoption retired or
  gone counts as 0 now. :func:`savings_summary` adds it up per factory, business unit and
  the portfolio, with a monthly trend.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from coe import derived
from coe.changelog import log_bulk
from coe.models import Factory
from coe.prefetch import rows
from registry.choices import AdoptionStatus, FindingKind, FindingStatus
from registry.figures import refresh_tool_figures
from registry.models import (
    Adoption,
    DuplicateFinding,
    RingChange,
    Tool,
    ToolAlias,
    ToolRingOverride,
)
from registry.resolution import normalize
from registry.selectors import effective_cost

ZERO = Decimal("0")
CENT = Decimal("0.01")


def money(amount: Decimal) -> str:
    return str(Decimal(amount).quantize(CENT))


@transaction.atomic
def tool_merge(*, source: Tool, target: Tool, comment: str = "", actor=None) -> dict:
    """Fold ``source`` into ``target`` and delete ``source``; returns the moved counts."""
    if source.pk == target.pk:
        raise ValidationError({"into": "A tool cannot be merged into itself."})
    source = Tool.objects.select_for_update().get(pk=source.pk)
    target = Tool.objects.select_for_update().get(pk=target.pk)
    moved: dict[str, int] = {}
    change = {"tool": [source.name, target.name]}
    # Tool requests live in the app above the registry: named by label, not imported.
    tool_request = apps.get_model("tool_requests", "ToolRequest")
    for model, label in (
        (Adoption, "adoptions"),
        (tool_request, "requests"),
        (RingChange, "ring_changes"),
        (ToolAlias, "aliases"),
    ):
        ids = list(model.objects.filter(tool=source).values_list("pk", flat=True))
        model.objects.filter(pk__in=ids).update(tool=target)
        if model is Adoption:  # priced by the target's seat cost now
            derived.touch(
                Adoption.objects.filter(pk__in=ids).values_list("factory_id", flat=True), ()
            )
        log_bulk(model, ids=ids, action="update", changes=change)
        moved[label] = len(ids)
    kinds = set(target.ring_overrides.values_list("factory_kind", flat=True))
    overrides = list(source.ring_overrides.exclude(factory_kind__in=kinds))
    ToolRingOverride.objects.filter(pk__in=[o.pk for o in overrides]).update(tool=target)
    target.capabilities.add(*source.capabilities.all())
    alias = None
    key = normalize(source.name)
    if not ToolAlias.objects.filter(normalized_name=key).exists():
        alias = ToolAlias.objects.create(tool=target, name=source.name)
        log_bulk(ToolAlias, [alias])
    # Findings: the same_tool pair resolves; others now name the target instead.
    now = timezone.now()
    note = f"Merged '{source.name}' into '{target.name}'." + (f" {comment}" if comment else "")
    pair = list(
        DuplicateFinding.objects.filter(kind=FindingKind.SAME_TOOL, tools=source)
        .filter(tools=target)
        .exclude(status=FindingStatus.RESOLVED)
    )
    before = {f.pk: DuplicateFinding(pk=f.pk, status=f.status, note=f.note) for f in pair}
    for finding in pair:
        finding.status, finding.resolved_at, finding.note = FindingStatus.RESOLVED, now, note
    DuplicateFinding.objects.bulk_update(pair, ["status", "resolved_at", "note"])
    log_bulk(
        DuplicateFinding,
        pair,
        action="update",
        changes={
            f.pk: {"status": [before[f.pk].status, f.status], "note": ["", note]} for f in pair
        },
    )
    through = DuplicateFinding.tools.through
    linked = set(through.objects.filter(tool=source).values_list("duplicatefinding_id", flat=True))
    has_target = set(
        through.objects.filter(tool=target, duplicatefinding_id__in=linked).values_list(
            "duplicatefinding_id", flat=True
        )
    )
    through.objects.bulk_create(
        [through(duplicatefinding_id=f, tool_id=target.pk) for f in sorted(linked - has_target)]
    )
    DuplicateFinding.objects.filter(suggested_standard=source).update(suggested_standard=target)
    DuplicateFinding.objects.filter(plan_standard=source).update(plan_standard=target)
    # The target's entry records the merge (the source's deletion is logged on its own).
    log_bulk(
        Tool,
        [target],
        action="update",
        changes={target.pk: {"merged": [source.name, target.name]}},
        summary={"merged": source.slug, "merged_into": target.slug, "comment": comment, **moved},
    )
    source.delete()
    refresh_tool_figures([target.pk])  # the adoptions moved by one UPDATE
    return {
        "into": target.slug,
        "merged": source.slug,
        "alias_added": alias.name if alias else None,
        "findings_resolved": [f.pk for f in pair],
        **moved,
    }


@transaction.atomic
def finding_plan(
    *,
    finding: DuplicateFinding,
    standard: Tool,
    factories: Iterable[Factory],
    due_on: dt.date,
    owner,
) -> DuplicateFinding:
    """Record how an overlap or fragmentation finding will be consolidated."""
    factories = list(factories)
    errors = {}
    if finding.kind not in (FindingKind.OVERLAP, FindingKind.FRAGMENTATION):
        errors["kind"] = "Only overlap and fragmentation findings take a consolidation plan."
    if standard is None:
        errors["standard"] = "A plan needs a target standard."
    if not factories:
        errors["factories"] = "A plan needs at least one factory."
    else:
        involved = set(finding.factories.values_list("pk", flat=True))
        outside = sorted(f.slug for f in factories if f.pk not in involved)
        if outside:
            errors["factories"] = f"Not involved in this finding: {', '.join(outside)}."
    if due_on is None:
        errors["due_on"] = "A plan needs a due date."
    if owner is None:
        errors["owner"] = "A plan needs an owner."
    if errors:
        raise ValidationError(errors)
    before = {
        "plan_standard": str(finding.plan_standard or ""),
        "plan_due_on": str(finding.plan_due_on or ""),
        "plan_owner": str(finding.plan_owner or ""),
    }
    finding.plan_standard, finding.plan_due_on, finding.plan_owner = standard, due_on, owner
    if finding.status in (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED):
        finding.status = FindingStatus.CONSOLIDATING
    finding.save()
    finding.plan_factories.set(factories)
    after = {"plan_standard": str(standard), "plan_due_on": str(due_on), "plan_owner": str(owner)}
    log_bulk(
        DuplicateFinding,
        [finding],
        action="update",
        changes={
            finding.pk: {
                **{k: [before[k], v] for k, v in after.items() if before[k] != v},
                "plan_factories": ["", ", ".join(sorted(f.slug for f in factories))],
            }
        },
    )
    return finding


def plan_progress(findings: list[DuplicateFinding]) -> dict[int, dict]:
    """``{finding id: {factories, done, share, remaining}}``: a plan factory is done when its
    active adoptions for the finding's capability use no tool of the finding but the target
    standard. One query for all the findings given."""
    planned = [f for f in findings if f.plan_standard_id]
    if not planned:
        return {}
    factory_ids = {pk for f in planned for pk in _plan_factory_ids(f)}
    tool_ids = {t.pk for f in planned for t in rows(f, "tools")}
    using: dict[int, set[int]] = defaultdict(set)
    for factory_id, tool_id in Adoption.objects.filter(
        status=AdoptionStatus.ACTIVE, factory_id__in=factory_ids, tool_id__in=tool_ids
    ).values_list("factory_id", "tool_id"):
        using[factory_id].add(tool_id)
    out = {}
    for f in planned:
        others = {t.pk for t in rows(f, "tools")} - {f.plan_standard_id}
        plan = _plan_factory_ids(f)
        remaining = sorted(pk for pk in plan if using[pk] & others)
        done = len(plan) - len(remaining)
        out[f.pk] = {
            "factories": len(plan),
            "done": done,
            "share": round(done / len(plan), 4) if plan else 0.0,
            "remaining": remaining,
        }
    return out


def _plan_factory_ids(finding: DuplicateFinding) -> list[int]:
    return [f.pk for f in rows(finding, "plan_factories")]


def _current_costs(adoption_ids: set[int]) -> dict[int, Decimal]:
    """Each adoption's annual cost now (0 when retired; absent when deleted)."""
    out = {}
    for pk, status, cost, seats, per_seat in (
        Adoption.objects.filter(pk__in=adoption_ids)
        .order_by()  # (the default order would join every factory to sort them)
        .values_list("pk", "status", "annual_cost", "seats", "tool__annual_cost_per_seat")
    ):
        out[pk] = ZERO if status != AdoptionStatus.ACTIVE else effective_cost(cost, seats, per_seat)
    return out


def realised_savings(findings: list[DuplicateFinding]) -> dict[int, dict[int, Decimal]]:
    """``{finding id: {factory id: realised saving}}`` (one query for all findings)."""
    ids = {int(pk) for f in findings for pk in (f.baseline or {})}
    now = _current_costs(ids)
    out: dict[int, dict[int, Decimal]] = {}
    for f in findings:
        per_factory: dict[int, Decimal] = defaultdict(Decimal)
        for pk, (factory_id, cost) in (f.baseline or {}).items():
            per_factory[factory_id] += Decimal(cost) - now.get(int(pk), ZERO)
        out[f.pk] = dict(per_factory)
    return out


def finding_savings(findings: list[DuplicateFinding]) -> dict[int, Decimal]:
    """``{finding id: realised saving}``."""
    return {pk: sum(v.values(), ZERO) for pk, v in realised_savings(findings).items()}


def savings_summary(findings: list[DuplicateFinding], factory_ids: set[int] | None = None) -> dict:
    """Realised savings per finding, factory, business unit and the portfolio, and the
    cumulative savings by month of detection (the trend chart). ``factory_ids`` limits the
    amounts to those factories (a member sees their own factories' share only)."""
    per = realised_savings(findings)
    if factory_ids is not None:
        per = {pk: {f: v for f, v in d.items() if f in factory_ids} for pk, d in per.items()}
    factory_ids = {fac for v in per.values() for fac in v}
    factories = {
        f.pk: f for f in Factory.objects.filter(pk__in=factory_ids).only("slug", "business_unit")
    }
    by_factory: dict[int, Decimal] = defaultdict(Decimal)
    by_unit: dict[str, Decimal] = defaultdict(Decimal)
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    rows = []
    for f in findings:
        saved = sum(per[f.pk].values(), ZERO)
        for factory_id, amount in per[f.pk].items():
            by_factory[factory_id] += amount
            if factory_id in factories:
                by_unit[factories[factory_id].business_unit] += amount
        by_month[f.first_detected.strftime("%Y-%m")] += saved
        rows.append(
            {
                "id": f.pk,
                "key": f.key,
                "kind": f.kind,
                "status": f.status,
                "cost_at_detection": money(f.cost_at_detection),
                "realised_savings": money(saved),
            }
        )
    trend, running = [], ZERO
    for month in sorted(by_month):
        running += by_month[month]
        trend.append({"month": month, "realised_savings": money(running)})
    return {
        "portfolio": {
            "findings": len(findings),
            "cost_at_detection": money(sum((f.cost_at_detection for f in findings), ZERO)),
            "realised_savings": money(sum(by_factory.values(), ZERO)),
        },
        "by_business_unit": [
            {"business_unit": unit, "realised_savings": money(amount)}
            for unit, amount in sorted(by_unit.items())
        ],
        "by_factory": [
            {"factory": factories[pk].slug, "realised_savings": money(amount)}
            for pk, amount in sorted(by_factory.items())
            if pk in factories
        ],
        "findings": rows,
        "trend": trend,
    }
