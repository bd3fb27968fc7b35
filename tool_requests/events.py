"""Events of tool requests (docs/events.md): ``tool_request.submitted`` and
``tool_request.decided`` from the transition, ``tool_request.overdue`` from a daily scan."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from coe.choices import EventKind
from coe.events import Pending, emit, emit_many
from tool_requests.choices import RequestStatus
from tool_requests.models import ToolRequest

DECIDED = {RequestStatus.APPROVED, RequestStatus.REJECTED}


def request_data(req: ToolRequest, title: str, **extra) -> dict:
    return {
        "tool_request": req.pk,
        "factory": req.factory.slug,
        "tool": req.tool.slug if req.tool_id else None,
        "tool_name": req.tool_name,
        "status": req.status,
        "title": title,
        "url": req.get_absolute_url(),
        **extra,
    }


def emit_request_transition(req: ToolRequest, *, from_status: str, actor=None) -> None:
    """``submitted`` when a request is submitted, ``decided`` when it is approved by the
    CoE (or fast-tracked) or rejected; other transitions announce nothing."""
    by = getattr(actor, "username", None)
    if req.status == RequestStatus.SUBMITTED:
        title = f"Tool request #{req.pk} submitted: {req.tool_name} for {req.factory.name}"
        emit(
            EventKind.TOOL_REQUEST_SUBMITTED,
            request_data(req, title, by=by),
            factory=req.factory_id,
        )
    elif req.status in DECIDED and from_status != req.status:
        decision = "approved" if req.status == RequestStatus.APPROVED else "rejected"
        title = f"Tool request #{req.pk} {decision}: {req.tool_name} for {req.factory.name}"
        emit(
            EventKind.TOOL_REQUEST_DECIDED,
            request_data(req, title, decision=decision, by=by),
            factory=req.factory_id,
        )


def emit_overdue_requests(*, today: dt.date | None = None) -> int:
    """One ``tool_request.overdue`` per request and overdue step (its status and due date)."""
    today = today or timezone.localdate()
    pending = []
    for req in ToolRequest.objects.overdue(today).select_related("factory", "tool").order_by("pk"):
        due = req.current_due_on
        title = (
            f"Tool request #{req.pk} overdue: {req.tool_name} for {req.factory.name} "
            f"({req.get_status_display().lower()} step due {due.isoformat()})"
        )
        pending.append(
            Pending(
                EventKind.TOOL_REQUEST_OVERDUE,
                request_data(req, title, due_on=due.isoformat()),
                factory=req.factory_id,
                key=f"tool_request.overdue:{req.pk}:{req.status}:{due.isoformat()}",
            )
        )
    return len(emit_many(pending))
