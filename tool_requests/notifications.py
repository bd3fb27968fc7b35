"""Email on every state change of a tool request, to the people who must act next.

Sent after the transaction commits (``transaction.on_commit``), through Django's email
backend (console in development, SMTP by settings, locmem in tests). A failing mail
server is logged and never undoes a committed decision.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q

from coe.choices import COE_STAFF_GROUP, Role
from tool_requests.choices import RequestStatus

logger = logging.getLogger(__name__)


def _owners(tool_request):
    return get_user_model().objects.filter(
        memberships__factory_id=tool_request.factory_id,
        memberships__role=Role.BUSINESS_OWNER,
        is_active=True,
    )


def _coe_staff():
    return (
        get_user_model()
        .objects.filter(Q(groups__name=COE_STAFF_GROUP) | Q(is_superuser=True), is_active=True)
        .distinct()
    )


def recipients(tool_request, *, from_status: str, to_status: str, actor=None) -> list[str]:
    """Email addresses of who must act next (or must hear the outcome), not the actor."""
    users: list = []
    if to_status == RequestStatus.SUBMITTED:
        users = list(_owners(tool_request).exclude(pk=tool_request.requester_id))
    elif to_status == RequestStatus.OWNER_APPROVED:
        users = list(_coe_staff().exclude(pk=tool_request.requester_id))
    elif to_status == RequestStatus.APPROVED:
        users = [*_coe_staff(), tool_request.requester]
    elif to_status in (RequestStatus.PROVISIONED, RequestStatus.REJECTED):
        users = [tool_request.requester]
    elif to_status == RequestStatus.WITHDRAWN:
        if from_status == RequestStatus.SUBMITTED:
            users = list(_owners(tool_request))
        elif from_status in (RequestStatus.OWNER_APPROVED, RequestStatus.APPROVED):
            users = list(_coe_staff())
    actor_id = getattr(actor, "pk", None)
    seen: set[str] = set()
    out = []
    for user in users:
        if user.pk == actor_id or not user.email or user.email in seen:
            continue
        seen.add(user.email)
        out.append(user.email)
    return sorted(out)


_NEXT = {
    RequestStatus.SUBMITTED: "It waits for the first approval by the factory's business owner.",
    RequestStatus.OWNER_APPROVED: "It waits for the CoE's approval.",
    RequestStatus.APPROVED: "It is approved: CoE staff provision the tool and mark it provisioned.",
    RequestStatus.PROVISIONED: "The tool is provisioned and recorded as an adoption.",
    RequestStatus.REJECTED: "It was rejected.",
    RequestStatus.WITHDRAWN: "It was withdrawn by the requester; nothing left to do.",
}


def message_for(tool_request, *, from_status: str, to_status: str, actor, comment: str) -> tuple:
    """Subject and body of the mail of one transition."""
    status = RequestStatus(to_status).label.lower()
    subject = (
        f"[CoE] Tool request #{tool_request.pk}: {tool_request.tool_name} for "
        f"{tool_request.factory.name} is {status}"
    )
    site = settings.SITE_URL.rstrip("/")
    lines = [
        f"{tool_request.tool_name} for {tool_request.factory.name}, requested by "
        f"{tool_request.requester.get_full_name() or tool_request.requester.username}.",
        _NEXT[RequestStatus(to_status)],
    ]
    if tool_request.exception_expires_on and to_status == RequestStatus.APPROVED:
        lines.append(
            f"Approved as an exception until {tool_request.exception_expires_on.isoformat()}."
        )
    due = tool_request.current_due_on
    if due:
        lines.append(f"Due by {due.isoformat()}.")
    if actor is not None:
        lines.append(f"By {actor.get_full_name() or actor.username}.")
    if comment:
        lines.append(f"Comment: {comment}")
    lines.append(f"{site}{tool_request.get_absolute_url()}")
    return subject, "\n\n".join(lines)


def send_transition_mail(tool_request, *, from_status: str, to_status: str, actor, comment=""):
    """Send the mails of one transition now; returns how many were sent."""
    to = recipients(tool_request, from_status=from_status, to_status=to_status, actor=actor)
    if not to:
        return 0
    subject, body = message_for(
        tool_request, from_status=from_status, to_status=to_status, actor=actor, comment=comment
    )
    messages = [EmailMessage(subject, body, to=[address]) for address in to]
    try:
        return get_connection().send_messages(messages) or 0
    except Exception:  # the decision is committed; a mail outage must not turn it into a 500
        logger.exception("tool request #%s: mail to %s failed", tool_request.pk, to)
        return 0


def send_overdue_reminders(*, today=None) -> int:
    """Remind whoever must act on each overdue request (at most once a day per request);
    returns how many mails were sent."""
    from django.utils import timezone

    from tool_requests.models import ToolRequest

    today = today or timezone.localdate()
    due = list(
        ToolRequest.objects.overdue(today)
        .filter(Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lt=today))
        .select_related("factory", "requester", "tool")
        .order_by("pk")
    )
    messages = []
    for tool_request in due:
        status = tool_request.status
        # The approvers of the current step act; the requester only waits.
        to = [
            address
            for address in recipients(tool_request, from_status="", to_status=status)
            if address != tool_request.requester.email
        ]
        subject = (
            f"[CoE] Overdue: tool request #{tool_request.pk} ({tool_request.tool_name} for "
            f"{tool_request.factory.name}) was due {tool_request.current_due_on.isoformat()}"
        )
        _, body = message_for(
            tool_request, from_status="", to_status=status, actor=None, comment=""
        )
        messages.extend(EmailMessage(subject, body, to=[address]) for address in to)
    sent = (get_connection().send_messages(messages) or 0) if messages else 0
    ToolRequest.objects.filter(pk__in=[r.pk for r in due]).update(last_reminded_on=today)
    return sent


def notify_transition(tool_request, *, from_status: str, to_status: str, actor, comment=""):
    """Queue the mails of a transition for after the commit."""
    transaction.on_commit(
        lambda: send_transition_mail(
            tool_request, from_status=from_status, to_status=to_status, actor=actor, comment=comment
        )
    )
