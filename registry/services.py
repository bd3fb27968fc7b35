"""Writes of the registry: tools, rings, aliases, adoptions, name mapping, finding lifecycle."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from coe import derived
from coe.changelog import log_bulk
from coe.choices import EventKind
from coe.models import Factory
from registry.choices import AdoptionSource, AdoptionStatus, FindingStatus, Ring
from registry.figures import refresh_tool_figures
from registry.finding_events import emit_finding_events
from registry.models import (
    Adoption,
    Capability,
    DuplicateFinding,
    RingChange,
    Tool,
    ToolAlias,
    ToolRingOverride,
)
from registry.resolution import Match, Resolver, normalize
from registry.selectors import registry_resolver


def unique_slug(model, base: str, *, taken: set[str] | None = None) -> str:
    """A slug from ``base`` not used yet by ``model`` (nor in ``taken``)."""
    root = slugify(base)[:180] or "item"
    taken = taken if taken is not None else set()
    slug, n = root, 2
    while slug in taken or model.objects.filter(slug=slug).exists():
        slug, n = f"{root}-{n}", n + 1
    return slug


@transaction.atomic
def tool_create(
    *,
    name: str,
    vendor: str = "",
    capabilities: Iterable[Capability] = (),
    ring: str = Ring.ASSESS,
    aliases: Iterable[str] = (),
    actor=None,
    **fields,
) -> Tool:
    """Create a registry tool with its capabilities, aliases and first ring entry."""
    tool = Tool(name=name, vendor=vendor, ring=ring, **fields)
    tool.slug = fields.get("slug") or unique_slug(Tool, name)
    tool.full_clean(exclude=["normalized_name"])
    tool.save()
    tool.capabilities.set(list(capabilities))
    for alias in aliases:
        tool_alias_add(tool=tool, name=alias)
    RingChange.objects.create(tool=tool, to_ring=ring, changed_by=actor, reason="Added")
    return tool


@transaction.atomic
def tool_alias_add(*, tool: Tool, name: str) -> ToolAlias:
    """Give ``tool`` another name; an alias already naming another tool is an error."""
    key = normalize(name)
    existing = ToolAlias.objects.filter(normalized_name=key).select_related("tool").first()
    if existing is not None:
        if existing.tool_id != tool.pk:
            raise ValidationError({"name": f"'{name}' is already an alias of {existing.tool}."})
        return existing
    alias = ToolAlias(tool=tool, name=name)
    alias.save()
    return alias


@transaction.atomic
def tool_set_ring(
    *, tool: Tool, ring: str, reason: str = "", actor=None, factory_kind: str = ""
) -> RingChange | None:
    """Move a tool to ``ring`` (globally, or for one factory kind) and record who and why."""
    if ring not in Ring.values:
        raise ValidationError({"ring": f"Unknown ring '{ring}'."})
    if factory_kind:
        override = ToolRingOverride.objects.filter(tool=tool, factory_kind=factory_kind).first()
        previous = override.ring if override else tool.ring
        if override is None:
            ToolRingOverride.objects.create(tool=tool, factory_kind=factory_kind, ring=ring)
        elif override.ring != ring:
            override.ring = ring
            override.save(update_fields=["ring"])
    else:
        previous = tool.ring
        if previous != ring:
            tool.ring = ring
            tool.save(update_fields=["ring", "updated_at"])
    if previous == ring and not factory_kind:
        return None
    return RingChange.objects.create(
        tool=tool,
        factory_kind=factory_kind,
        from_ring=previous,
        to_ring=ring,
        reason=reason,
        changed_by=actor,
    )


def tool_resolve_name(*, name: str, resolver: Resolver | None = None) -> Match:
    """Resolve a free-text tool name against the registry (see ``registry.resolution``)."""
    return (resolver or registry_resolver()).resolve(name)


@transaction.atomic
def adoption_create(
    *,
    factory: Factory,
    declared_name: str,
    declared_vendor: str = "",
    declared_capability: str = "",
    seats: int | None = None,
    annual_cost: Decimal | None = None,
    source: str = AdoptionSource.DECLARED,
    tool: Tool | None = None,
    resolver: Resolver | None = None,
) -> Adoption:
    """Record (or refresh) that ``factory`` uses a tool under ``declared_name``.

    The name is resolved unless ``tool`` is given; an unresolved name is kept with
    ``tool=None`` for the unresolved queue. The same declared name again updates the row.
    """
    confidence = 1.0
    if tool is None:
        match = tool_resolve_name(name=declared_name, resolver=resolver)
        confidence = match.confidence if match.tool_id else None
        tool = Tool.objects.get(pk=match.tool_id) if match.tool_id else None
    now = timezone.now()
    key = normalize(declared_name)
    adoption = Adoption.objects.filter(factory=factory, normalized_name=key).first()
    if adoption is None:
        adoption = Adoption(factory=factory, first_seen=now)
    adoption.declared_name = declared_name
    adoption.declared_vendor = declared_vendor
    adoption.declared_capability = declared_capability
    adoption.seats = seats
    adoption.annual_cost = annual_cost
    adoption.source = source
    adoption.status = AdoptionStatus.ACTIVE
    adoption.last_seen = now
    if adoption.tool_id is None or tool is not None:
        adoption.tool = tool
        adoption.resolution_confidence = confidence if tool is not None else None
    adoption.save()
    return adoption


@transaction.atomic
def adoption_map_name(*, declared_name: str, tool: Tool, actor=None) -> int:
    """CoE staff map an unresolved name to ``tool``: it becomes an alias, and every
    unresolved adoption with the same normalised name resolves. Returns how many did."""
    key = normalize(declared_name)
    if key != tool.normalized_name and not ToolAlias.objects.filter(normalized_name=key).exists():
        tool_alias_add(tool=tool, name=declared_name)
    resolved = list(
        Adoption.objects.filter(tool__isnull=True, normalized_name=key).select_related("factory")
    )
    count = Adoption.objects.filter(pk__in=[a.pk for a in resolved]).update(
        tool=tool, resolution_confidence=1.0
    )
    derived.touch({a.factory_id for a in resolved}, ())  # priced by the tool's seat cost now
    refresh_tool_figures([tool.pk])
    log_bulk(
        Adoption,
        resolved,
        action="update",
        changes={"tool": ["None", str(tool)], "resolution_confidence": ["None", "1.0"]},
    )
    adoptions_changed({a.factory_id for a in resolved})
    return count


def adoptions_changed(factory_ids) -> None:
    """Re-detect the duplicates of these factories once the change commits (their overlaps
    and the fragmentation of the capabilities they use or used), on the ``cpu`` queue."""
    from registry.tasks import queue_detection

    if factory_ids:
        queue_detection(factories=set(factory_ids), record=False)


# --- duplicate findings: the lifecycle ------------------------------------------------------

_TRANSITIONS = {
    "acknowledge": {FindingStatus.OPEN},
    "consolidate": {FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED},
    "resolve": {FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED, FindingStatus.CONSOLIDATING},
    "waive": {FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED, FindingStatus.CONSOLIDATING},
    "reopen": {FindingStatus.ACKNOWLEDGED, FindingStatus.CONSOLIDATING, FindingStatus.RESOLVED,
               FindingStatus.WAIVED},
}  # fmt: skip


def _check(finding: DuplicateFinding, action: str) -> None:
    if finding.status not in _TRANSITIONS[action]:
        raise ValidationError(
            {"status": f"'{action}' is not possible on a {finding.status} finding."}
        )


@transaction.atomic
def finding_transition(
    *, finding: DuplicateFinding, action: str, note: str = "", actor=None
) -> DuplicateFinding:
    """acknowledge / consolidate / resolve / reopen a finding (``waive`` has its own service)."""
    if action not in _TRANSITIONS or action == "waive":
        raise ValidationError({"action": f"Unknown action '{action}'."})
    _check(finding, action)
    finding.status = {
        "acknowledge": FindingStatus.ACKNOWLEDGED,
        "consolidate": FindingStatus.CONSOLIDATING,
        "resolve": FindingStatus.RESOLVED,
        "reopen": FindingStatus.OPEN,
    }[action]
    finding.resolved_at = timezone.now() if action == "resolve" else None
    if action == "reopen":
        finding.waiver_reason, finding.waiver_approver, finding.waiver_expires_on = "", None, None
    if note:
        finding.note = note
    finding.save()
    if action in ("resolve", "reopen"):
        kind = EventKind.FINDING_RESOLVED if action == "resolve" else EventKind.FINDING_REOPENED
        emit_finding_events([(kind, finding, finding.factories.values_list("pk", flat=True))])
    return finding


@transaction.atomic
def finding_waive(
    *, finding: DuplicateFinding, reason: str, approver, expires_on: dt.date
) -> DuplicateFinding:
    """Accept a finding for now: a reason, an approver and an expiry date are required."""
    errors = {}
    if not (reason or "").strip():
        errors["reason"] = "A waiver needs a reason."
    if approver is None:
        errors["approver"] = "A waiver needs an approver."
    if expires_on is None:
        errors["expires_on"] = "A waiver needs an expiry date."
    elif expires_on <= timezone.localdate():
        errors["expires_on"] = "The expiry date must be in the future."
    if errors:
        raise ValidationError(errors)
    _check(finding, "waive")
    finding.status = FindingStatus.WAIVED
    finding.waiver_reason = reason.strip()
    finding.waiver_approver = approver
    finding.waiver_expires_on = expires_on
    finding.save()
    return finding
