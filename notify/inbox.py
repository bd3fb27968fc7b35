"""Who hears about an event, in the in-app inbox and by e-mail.

Recipients: CoE staff hear about every event; members and business owners of the
factories an event concerns hear about those (the access policy of ``coe.scoping``: a user
is told only about what they may see). Each user's preference per kind of event decides:
immediately (inbox and e-mail now), daily digest (inbox now, one e-mail a day) or off.
Tool-request submissions, decisions and overdue reminders are already mailed to whoever
must act by the request workflow, so here they go to the inbox only.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q
from django.utils import timezone

from coe.choices import COE_STAFF_GROUP, EventKind
from coe.models import Event, Membership
from notify.choices import Channel
from notify.models import Notification, NotificationPreference

logger = logging.getLogger(__name__)

# Mailed by the tool-request workflow itself (tool_requests/notifications.py).
MAILED_ELSEWHERE = {
    EventKind.TOOL_REQUEST_SUBMITTED,
    EventKind.TOOL_REQUEST_DECIDED,
    EventKind.TOOL_REQUEST_OVERDUE,
}


def title_of(event: Event) -> str:
    return str(event.data.get("title") or EventKind(event.event).label)[:300]


def _recipients(events: list[Event]) -> dict[str, set[int]]:
    """``{event id: user ids}``: CoE staff for every event, members of its factories."""
    User = get_user_model()
    staff = set(
        User.objects.filter(
            Q(groups__name=COE_STAFF_GROUP) | Q(is_superuser=True), is_active=True
        ).values_list("pk", flat=True)
    )
    factory_ids = {fid for event in events for fid in event.factory_ids}
    members: dict[int, set[int]] = defaultdict(set)
    for user_id, factory_id in Membership.objects.filter(
        factory_id__in=factory_ids, user__is_active=True
    ).values_list("user_id", "factory_id"):
        members[factory_id].add(user_id)
    out = {}
    for event in events:
        users = set(staff)
        for fid in event.factory_ids:
            users |= members.get(fid, set())
        out[str(event.pk)] = users
    return out


def notify_users(events: list[Event]) -> None:
    """Outbox subscriber: inbox rows for every recipient, e-mail for 'immediately'."""
    recipients = _recipients(events)
    user_ids = set().union(*recipients.values()) if recipients else set()
    prefs = {
        (user_id, kind): channel
        for user_id, kind, channel in NotificationPreference.objects.filter(
            user_id__in=user_ids
        ).values_list("user_id", "event", "channel")
    }
    rows = []
    for event in events:
        for user_id in sorted(recipients[str(event.pk)]):
            channel = prefs.get((user_id, event.event), Channel.IMMEDIATELY)
            if channel == Channel.OFF:
                continue
            rows.append(
                Notification(
                    user_id=user_id,
                    event=event,
                    kind=event.event,
                    title=title_of(event),
                    created_at=event.occurred_at,
                    channel=channel,
                )
            )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    _mail_immediate([str(event.pk) for event in events])


def _link(event: Event) -> str:
    path = event.data.get("url") or "/notifications/"
    return settings.SITE_URL.rstrip("/") + path


def _send(messages: list[EmailMessage]) -> int:
    if not messages:
        return 0
    try:
        return get_connection().send_messages(messages) or 0
    except Exception:  # the inbox has it; a mail outage must not lose the notification
        logger.exception("notification mail failed")
        return 0


def _mail_immediate(event_ids: list[str]) -> int:
    pending = list(
        Notification.objects.filter(
            event_id__in=event_ids, channel=Channel.IMMEDIATELY, emailed_at__isnull=True
        )
        .exclude(kind__in=MAILED_ELSEWHERE)
        .exclude(user__email="")
        .select_related("user", "event")
    )
    messages = [
        EmailMessage(
            f"[CoE] {n.title}",
            f"{n.title}\n\n{_link(n.event)}\n\n"
            "Change what you hear about at " + settings.SITE_URL.rstrip("/") + "/notifications/",
            to=[n.user.email],
        )
        for n in pending
    ]
    sent = _send(messages)
    if sent:
        Notification.objects.filter(pk__in=[n.pk for n in pending]).update(
            emailed_at=timezone.now()
        )
    return sent


def send_digests(*, now: datetime | None = None) -> int:
    """One e-mail per user listing their digest notifications not yet mailed."""
    now = now or timezone.now()
    pending = list(
        Notification.objects.filter(channel=Channel.DIGEST, emailed_at__isnull=True)
        .exclude(user__email="")
        .exclude(kind__in=MAILED_ELSEWHERE)
        .select_related("user", "event")
        .order_by("user_id", "created_at")
    )
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for n in pending:
        by_user[n.user_id].append(n)
    messages = []
    for items in by_user.values():
        lines = [f"- {n.created_at:%Y-%m-%d %H:%M} {n.title}\n  {_link(n.event)}" for n in items]
        messages.append(
            EmailMessage(
                f"[CoE] Daily digest: {len(items)} notification{'s' if len(items) != 1 else ''}",
                "\n".join(lines),
                to=[items[0].user.email],
            )
        )
    sent = _send(messages)
    if sent:
        Notification.objects.filter(pk__in=[n.pk for n in pending]).update(emailed_at=now)
    return sent


def mark_read(user, ids: list[int] | None = None, *, now: datetime | None = None) -> int:
    """Mark the user's notifications read (all unread ones when ``ids`` is None)."""
    queryset = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    return queryset.update(read_at=now or timezone.now())


def unread_count(user) -> int:
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


BADGE_MAX = 99


def unread_badge(user) -> int | str:
    """The navigation's unread count: exact up to 99, then "99+" (counts at most 100
    rows, so a CoE lead with thousands of unread events pays the same on every page)."""
    if user is None or not user.is_authenticated:
        return 0
    unread = Notification.objects.filter(user=user, read_at__isnull=True).order_by()
    n = unread[: BADGE_MAX + 1].count()
    return f"{BADGE_MAX}+" if n > BADGE_MAX else n


def preferences_of(user) -> dict[str, str]:
    """Every event kind with the user's channel for it (default: immediately)."""
    stored = dict(NotificationPreference.objects.filter(user=user).values_list("event", "channel"))
    return {kind: stored.get(kind, Channel.IMMEDIATELY) for kind in EventKind.values}


def preferences_set(user, changes: dict[str, str]) -> dict[str, str]:
    """Store the user's channels for the kinds named in ``changes``."""
    for kind, channel in changes.items():
        NotificationPreference.objects.update_or_create(
            user=user, event=kind, defaults={"channel": channel}
        )
    return preferences_of(user)
