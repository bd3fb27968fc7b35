"""Email on every state change of a tool request, to the people who must act next.

Sent after the transaction commits (``transaction.on_commit``), through Django's email
backend (console in development, SMTP by settings, locmem in tests). A failing mail
server is logged and never undoes a committed decision. Each mail is sent on its own: one
that fails (a bad address, a refused header) is logged and the others still go.

Values that reach a header (the tool's name in the subject) are refused with line breaks
when typed (:func:`unsafe_header_text`) and stripped of them at send (:func:`header_text`),
for names that came another way (the registry, an import).
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q

from coe.changelog import log_bulk
from coe.choices import Role
from coe.scoping import coe_staff_condition
from tool_requests.choices import RequestStatus

logger = logging.getLogger(__name__)

# Line breaks of any kind (what str.splitlines() splits on) and the other control characters.
_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def unsafe_header_text(value: str) -> bool:
    """True when ``value`` holds a line break or another control character."""
    return bool(_HEADER_BREAKS.search(value or ""))


def header_text(value: str) -> str:
    """``value`` made safe for a mail header: control characters become spaces."""
    return " ".join(_HEADER_BREAKS.sub(" ", value or "").split())


def _owners(tool_request):
    return get_user_model().objects.filter(
        memberships__factory_id=tool_request.factory_id,
        memberships__role=Role.BUSINESS_OWNER,
        is_active=True,
    )


def _coe_staff():
    return get_user_model().objects.filter(coe_staff_condition(), is_active=True).distinct()


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
    subject = header_text(
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


def _send_each(messages: list[EmailMessage], what: str) -> int:
    """Send ``messages`` one by one over one connection; a mail that fails is logged and
    skipped. Returns how many were sent."""
    if not messages:
        return 0
    sent = 0
    try:
        connection = get_connection()
        connection.open()
    except Exception:  # the mail server is down: nothing can be sent this time
        logger.exception("%s: no mail connection", what)
        return 0
    try:
        for message in messages:
            message.connection = connection
            try:
                sent += message.send() or 0
            except Exception:
                logger.exception("%s: mail to %s failed", what, message.to)
    finally:
        try:
            connection.close()
        except Exception:
            logger.exception("%s: closing the mail connection failed", what)
    return sent


def send_transition_mail(tool_request, *, from_status: str, to_status: str, actor, comment=""):
    """Send the mails of one transition now; returns how many were sent. The decision is
    committed: a mail that fails is logged, never a 500."""
    try:
        to = recipients(tool_request, from_status=from_status, to_status=to_status, actor=actor)
        if not to:
            return 0
        subject, body = message_for(
            tool_request, from_status=from_status, to_status=to_status, actor=actor, comment=comment
        )
    except Exception:
        logger.exception("tool request #%s: its mail could not be written", tool_request.pk)
        return 0
    messages = [EmailMessage(subject, body, to=[address]) for address in to]
    return _send_each(messages, f"tool request #{tool_request.pk}")


def send_overdue_reminders(*, today=None) -> int:
    """Remind whoever must act on each overdue request (at most once a day per request);
    returns how many mails were sent. A request whose mails all failed is tried again on
    the next run; one bad request or mail never stops the others."""
    from django.utils import timezone

    from tool_requests.models import ToolRequest

    today = today or timezone.localdate()
    due = list(
        ToolRequest.objects.overdue(today)
        .filter(Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lt=today))
        .select_related("factory", "requester", "tool")
        .order_by("pk")
    )
    sent, reminded = 0, []
    for tool_request in due:
        try:
            messages = _reminders(tool_request)
        except Exception:
            logger.exception("tool request #%s: its reminder could not be written", tool_request.pk)
            continue
        count = _send_each(messages, f"reminder of tool request #{tool_request.pk}")
        sent += count
        if count or not messages:
            reminded.append(tool_request.pk)
    ToolRequest.objects.filter(pk__in=reminded).update(last_reminded_on=today)
    done = [r for r in due if r.pk in set(reminded)]
    log_bulk(
        ToolRequest,
        done,
        action="update",
        changes={r.pk: {"last_reminded_on": [str(r.last_reminded_on), str(today)]} for r in done},
    )
    return sent


def _reminders(tool_request) -> list[EmailMessage]:
    """The overdue reminders of one request: to the approvers of its current step (the
    requester only waits)."""
    status = tool_request.status
    to = [
        address
        for address in recipients(tool_request, from_status="", to_status=status)
        if address != tool_request.requester.email
    ]
    subject = header_text(
        f"[CoE] Overdue: tool request #{tool_request.pk} ({tool_request.tool_name} for "
        f"{tool_request.factory.name}) was due {tool_request.current_due_on.isoformat()}"
    )
    _, body = message_for(tool_request, from_status="", to_status=status, actor=None, comment="")
    return [EmailMessage(subject, body, to=[address]) for address in to]


def notify_transition(tool_request, *, from_status: str, to_status: str, actor, comment=""):
    """Queue the mails of a transition for after the commit."""
    transaction.on_commit(
        lambda: send_transition_mail(
            tool_request, from_status=from_status, to_status=to_status, actor=actor, comment=comment
        )
    )
