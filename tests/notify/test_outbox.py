"""The event outbox: a row written with the change, delivered after the commit, never for a
change that was rolled back."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction

from coe.choices import EventKind
from coe.events import Pending, emit, emit_many
from coe.models import Event
from notify.choices import Channel
from notify.models import Notification, NotificationPreference

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_an_event_of_a_rolled_back_transaction_leaves_no_row_and_is_never_delivered(
    world, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        emit(EventKind.SYNC_FAILED, {"title": "x"}, factory=world.factory_a)
        assert Event.objects.count() == 1  # written in the caller's transaction
        raise Boom
    assert Event.objects.count() == 0
    assert callbacks == []
    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_a_committed_event_is_dispatched_to_staff_and_the_factory_s_members_only(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = emit(
            EventKind.SYNC_FAILED, {"title": "Sync of PLC failed"}, factory=world.factory_a
        )
    event.refresh_from_db()
    assert event.dispatched_at is not None
    told = set(Notification.objects.values_list("user__username", flat=True))
    assert told == {"staff", "owner_a", "member_a"}  # not member_b of the other factory
    assert sorted(m.to[0] for m in mail.outbox) == [
        "member_a@example.com",
        "owner_a@example.com",
        "staff@example.com",
    ]
    assert all(m.subject == "[CoE] Sync of PLC failed" for m in mail.outbox)


def test_a_portfolio_event_reaches_coe_staff_only(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        emit(EventKind.FINDING_OPENED, {"title": "Duplicate finding opened"})
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["staff"]


def test_an_event_with_a_key_already_emitted_is_not_written_again(world):
    first = emit(EventKind.AUDIT_DUE, {}, factory=world.factory_a, key="audit.due:1:x:30")
    again = emit(EventKind.AUDIT_DUE, {}, factory=world.factory_a, key="audit.due:1:x:30")
    rows = emit_many(
        [Pending(EventKind.AUDIT_DUE, {}, key="k2"), Pending(EventKind.AUDIT_DUE, {}, key="k2")]
    )
    assert first is not None and again is None and len(rows) == 1
    assert Event.objects.count() == 2


def test_an_unknown_event_kind_is_refused(world):
    with pytest.raises(ValueError):
        emit("finding.exploded", {})


def test_preferences_decide_between_mail_now_digest_and_nothing(
    world, django_capture_on_commit_callbacks
):
    from notify.inbox import send_digests

    member, owner = world.users["member_a"], world.users["owner_a"]
    NotificationPreference.objects.create(
        user=member, event=EventKind.SYNC_FAILED, channel=Channel.DIGEST
    )
    NotificationPreference.objects.create(
        user=owner, event=EventKind.SYNC_FAILED, channel=Channel.OFF
    )
    with django_capture_on_commit_callbacks(execute=True):
        emit(EventKind.SYNC_FAILED, {"title": "one"}, factory=world.factory_a)
        emit(EventKind.SYNC_FAILED, {"title": "two"}, factory=world.factory_a)
    assert not Notification.objects.filter(user=owner).exists()
    assert Notification.objects.filter(user=member).count() == 2
    assert {m.to[0] for m in mail.outbox} == {"staff@example.com"}
    mail.outbox.clear()
    assert send_digests() == 1
    (digest,) = mail.outbox
    assert digest.to == ["member_a@example.com"]
    assert "2 notifications" in digest.subject and "one" in digest.body and "two" in digest.body
    assert send_digests() == 0  # mailed once


def test_tool_request_events_go_to_the_inbox_without_a_second_mail(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        emit(EventKind.TOOL_REQUEST_SUBMITTED, {"title": "req"}, factory=world.factory_a)
    assert Notification.objects.count() == 3
    assert mail.outbox == []
