"""Events of duplicate findings (``finding.opened``, ``.reopened``, ``.resolved``), written
to the outbox in the transaction that changes the findings (docs/events.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.utils import timezone

from coe.choices import EventKind
from coe.events import Pending, emit_many
from coe.models import Factory
from registry.choices import FindingStatus
from registry.models import Capability, DuplicateFinding


def emit_finding_events(items: Iterable[tuple[str, DuplicateFinding, Iterable[int]]]) -> None:
    """One event per ``(kind, finding, factory ids)``, in two queries whatever the count."""
    items = [(kind, finding, sorted(set(ids))) for kind, finding, ids in items]
    if not items:
        return
    factory_ids = {fid for _k, f, ids in items for fid in [*ids, f.scope_id] if fid}
    slugs = dict(Factory.objects.filter(pk__any=factory_ids).values_list("pk", "slug"))
    cap_ids = {f.capability_id for _k, f, _ids in items if f.capability_id}
    caps = dict(Capability.objects.filter(pk__in=cap_ids).values_list("pk", "name"))
    pending = []
    for kind, finding, ids in items:
        capability = caps.get(finding.capability_id, "")
        verb = {
            EventKind.FINDING_OPENED: "opened",
            EventKind.FINDING_REOPENED: "reopened",
            EventKind.FINDING_RESOLVED: "resolved",
        }[kind]
        pending.append(
            Pending(
                kind,
                {
                    "finding": finding.pk,
                    "kind": finding.kind,
                    "capability": capability or None,
                    "scope": slugs.get(finding.scope_id),
                    "factories": sorted(slugs[i] for i in ids if i in slugs),
                    "annual_cost_at_stake": str(finding.annual_cost_at_stake),
                    "status": finding.status,
                    "title": f"Duplicate finding {verb}: {finding.get_kind_display()}"
                    + (f" in {capability}" if capability else ""),
                    "url": "/registry/duplicates/",
                },
                factory=ids or ([finding.scope_id] if finding.scope_id else None),
            )
        )
    emit_many(pending)


WAIVER_NOTICE_DAYS = 14


def emit_expiring_waivers(*, today: dt.date | None = None) -> int:
    """One ``waiver.expiring`` per waived finding whose waiver ends within 14 days (once
    per waiver: the key holds the finding and its expiry date)."""
    today = today or timezone.localdate()
    findings = list(
        DuplicateFinding.objects.filter(
            status=FindingStatus.WAIVED,
            waiver_expires_on__gte=today,
            waiver_expires_on__lte=today + dt.timedelta(days=WAIVER_NOTICE_DAYS),
        )
        .select_related("capability", "scope", "waiver_approver")
        .prefetch_related("factories")
        .order_by("pk")
    )
    pending = []
    for finding in findings:
        factories = [f.slug for f in finding.factories.all()]
        ids = [f.pk for f in finding.factories.all()] or (
            [finding.scope_id] if finding.scope_id else []
        )
        expires = finding.waiver_expires_on
        what = finding.get_kind_display() + (
            f" in {finding.capability.name}" if finding.capability_id else ""
        )
        pending.append(
            Pending(
                EventKind.WAIVER_EXPIRING,
                {
                    "finding": finding.pk,
                    "kind": finding.kind,
                    "capability": finding.capability.name if finding.capability_id else None,
                    "scope": finding.scope.slug if finding.scope_id else None,
                    "factories": factories,
                    "expires_on": expires.isoformat(),
                    "days_left": (expires - today).days,
                    "waiver_reason": finding.waiver_reason,
                    "approver": getattr(finding.waiver_approver, "username", None),
                    "title": f"Waiver expiring on {expires.isoformat()}: {what}",
                    "url": "/registry/duplicates/",
                },
                factory=ids or None,
                key=f"waiver.expiring:{finding.pk}:{expires.isoformat()}",
            )
        )
    return len(emit_many(pending))
