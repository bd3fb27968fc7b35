"""Events of assessments (docs/events.md): ``assessment.finalized`` and ``stage.changed``
when an audit is finalised, ``audit.due`` from a daily scan (30, 7 and 0 days before the
next audit is due, each once per due date)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from assessments.choices import STAGE_NAMES, AssessmentStatus
from assessments.models import Assessment
from assessments.selectors import audit_due_for, latest_finals_by_factory
from coe.choices import EventKind
from coe.events import Pending, emit, emit_many
from coe.models import Factory

AUDIT_REMINDER_DAYS = (30, 7, 0)


def emit_finalized(assessment: Assessment) -> None:
    """``assessment.finalized``, and ``stage.changed`` when the overall stage differs from
    the factory's previous final assessment (the first one counts as a change from none)."""
    factory = assessment.factory
    previous = (
        Assessment.objects.filter(factory=factory, status=AssessmentStatus.FINAL)
        .exclude(pk=assessment.pk)
        .order_by("-assessed_on", "-finalized_at", "-id")
        .values_list("stage", flat=True)
        .first()
    )
    overall = (assessment.result or {}).get("overall", {})
    data = {
        "assessment": assessment.pk,
        "factory": factory.slug,
        "model": assessment.model.key,
        "model_version": assessment.model.version,
        "assessed_on": assessment.assessed_on.isoformat() if assessment.assessed_on else None,
        "index": overall.get("index"),
        "stage": assessment.stage,
        "stage_name": STAGE_NAMES.get(assessment.stage),
        "capped_by": overall.get("capped_by"),
        "url": assessment.get_absolute_url(),
    }
    emit(
        EventKind.ASSESSMENT_FINALIZED,
        {**data, "title": f"Assessment of {factory.name} finalised: stage {assessment.stage}"},
        factory=factory,
    )
    if previous != assessment.stage:
        before = f"{previous} {STAGE_NAMES.get(previous)}" if previous else "none"
        after = f"{assessment.stage} {STAGE_NAMES.get(assessment.stage)}"
        emit(
            EventKind.STAGE_CHANGED,
            {
                **data,
                "previous_stage": previous,
                "previous_stage_name": STAGE_NAMES.get(previous) if previous else None,
                "title": f"{factory.name} moved from stage {before} to {after}",
            },
            factory=factory,
        )


def data_due(due_on: dt.date | None) -> str:
    return due_on.isoformat() if due_on else "never"


def emit_audits_due(*, today: dt.date | None = None) -> int:
    """``audit.due`` at 30, 7 and 0 days before each factory's next audit (and once when a
    factory was never audited): the nearest reminder reached, once per due date."""
    today = today or timezone.localdate()
    factories = Factory.objects.order_by("pk")
    latest = latest_finals_by_factory(factories)
    pending = []
    for factory in factories:
        due = audit_due_for(factory, latest.get(factory.pk), today)
        if due["never"]:
            reminder, due_on, days_left = "never", None, None
        else:
            due_on = due["next_due"]
            days_left = (due_on - today).days
            reached = [d for d in AUDIT_REMINDER_DAYS if days_left <= d]
            if not reached:
                continue
            reminder = str(min(reached))
        when = (
            "has never been audited"
            if due_on is None
            else f"is due for its audit on {due_on.isoformat()}"
            + (f" ({days_left} days left)" if days_left and days_left > 0 else "")
        )
        pending.append(
            Pending(
                EventKind.AUDIT_DUE,
                {
                    "factory": factory.slug,
                    "due_on": due_on.isoformat() if due_on else None,
                    "days_left": days_left,
                    "overdue": bool(due["overdue"]),
                    "reminder": reminder,
                    "title": f"{factory.name} {when}",
                    "url": "/assessments/",
                },
                factory=factory,
                key=f"audit.due:{factory.pk}:{data_due(due_on)}:{reminder}",
            )
        )
    return len(emit_many(pending))
