"""The in-app inbox: the API, mark read, preferences, the page and the unread count."""

from __future__ import annotations

import pytest
from django.urls import reverse

from coe.choices import EventKind
from coe.events import emit
from notify.models import Notification, NotificationPreference

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        emit(EventKind.SYNC_FAILED, {"title": "Sync A failed"}, factory=world.factory_a)
        emit(EventKind.SYNC_FAILED, {"title": "Sync B failed"}, factory=world.factory_b)
        emit(EventKind.FINDING_OPENED, {"title": "Portfolio finding"})


def test_each_user_lists_their_own_notifications_only(world, inbox):
    staff = world.client("staff").get("/api/notifications/").json()
    assert staff["count"] == 3
    mine = world.client("member_a").get("/api/notifications/").json()["results"]
    assert [n["title"] for n in mine] == ["Sync A failed"]
    assert mine[0]["event"] == "sync.failed" and mine[0]["read"] is False
    assert world.client("member_b").get("/api/notifications/").json()["count"] == 1
    assert world.client("anonymous").get("/api/notifications/").status_code == 401


def test_mark_read_by_id_or_all(world, inbox):
    client = world.client("staff")
    first = client.get("/api/notifications/").json()["results"][0]["id"]
    response = client.post("/api/notifications/mark-read/", {"ids": [first]}, format="json")
    assert response.json() == {"marked": 1, "unread": 2}
    assert client.get("/api/notifications/?unread=1").json()["count"] == 2
    # Another user's id marks nothing.
    other = Notification.objects.filter(user=world.users["member_a"]).get().pk
    assert client.post("/api/notifications/mark-read/", {"ids": [other]}).json()["marked"] == 0
    assert client.post("/api/notifications/mark-read/", {}, format="json").json() == {
        "marked": 2,
        "unread": 0,
    }


def test_preferences_are_read_and_set_per_event_kind(world):
    client = world.client("member_a")
    prefs = client.get("/api/notifications/preferences/").json()
    assert set(prefs) == set(EventKind.values) and set(prefs.values()) == {"immediately"}
    response = client.put(
        "/api/notifications/preferences/", {"sync.failed": "digest", "audit.due": "off"}
    )
    assert response.status_code == 200
    assert response.json()["sync.failed"] == "digest" and response.json()["audit.due"] == "off"
    bad = client.put("/api/notifications/preferences/", {"sync.failed": "hourly", "x": "off"})
    assert bad.status_code == 400 and set(bad.json()) == {"sync.failed", "x"}
    assert NotificationPreference.objects.filter(user=world.users["member_a"]).count() == 2


def test_the_page_lists_notifications_saves_preferences_and_marks_read(client, world, inbox):
    client.force_login(world.users["member_a"])
    page = client.get(reverse("notification-list")).content.decode()
    assert "Sync A failed" in page and "Sync B failed" not in page
    assert 'aria-label="1 unread"' in page  # the navigation's count
    form = {kind: "immediately" for kind in EventKind.values} | {"sync.failed": "off"}
    response = client.post(reverse("notification-list"), form, follow=True)
    assert "Notification preferences saved." in response.content.decode()
    mine = NotificationPreference.objects.filter(user=world.users["member_a"])
    assert mine.get(event="sync.failed").channel == "off"
    client.post(reverse("notification-mark-read"))
    page = client.get(reverse("notification-list")).content.decode()
    assert 'aria-label="1 unread"' not in page and "Mark all read" in page


def test_the_page_takes_a_constant_number_of_queries(
    client, world, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(30):
            emit(EventKind.SYNC_FAILED, {"title": f"run {i}"}, factory=world.factory_a)
    client.force_login(world.users["member_a"])
    with django_assert_max_num_queries(10):
        assert client.get(reverse("notification-list")).status_code == 200


def test_the_navigation_badge_counts_to_99_then_says_99_plus(client, world):
    """A CoE lead with thousands of unread events: the badge reads at most 100 rows."""
    from django.utils import timezone

    from coe.models import Event

    user = world.users["member_a"]
    events = Event.objects.bulk_create(
        Event(event=EventKind.SYNC_FAILED, data={"title": f"Sync {i}"}) for i in range(100)
    )

    def give(n: int) -> None:
        Notification.objects.bulk_create(
            Notification(user=user, event=e, kind=e.event, title="Sync failed",
                         created_at=timezone.now(), channel="immediately")
            for e in events[Notification.objects.filter(user=user).count() : n]
        )  # fmt: skip

    client.force_login(user)
    give(99)
    assert 'aria-label="99 unread">99<' in client.get(reverse("notification-list")).content.decode()
    give(100)
    page = client.get(reverse("notification-list")).content.decode()
    assert 'aria-label="99+ unread">99+<' in page
    assert client.get("/api/notifications/").json()["count"] == 100  # the inbox stays exact
