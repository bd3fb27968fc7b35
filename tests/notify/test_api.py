"""Generic persona tests of the webhook and notification endpoints (tests/api_mixins.py)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from coe.choices import EventKind
from coe.models import Event
from notify.api.views import NotificationViewSet, WebhookViewSet
from notify.models import Notification, Webhook
from tests.api_mixins import APIViewTestCase
from tests.conftest import PERSONAS

pytestmark = pytest.mark.django_db


class TestWebhookAPI(APIViewTestCase):
    basename = "webhook"
    viewset = WebhookViewSet
    visible = {"staff": {"a", "b"}}
    list_forbidden = {"owner_a", "member_a", "member_b"}
    write_only_fields = ("secret",)

    @pytest.fixture(autouse=True)
    def _loopback(self, settings):
        settings.WEBHOOK_ALLOWLIST = ["127.0.0.0/8"]

    def make_object(self, world, key):
        hook = Webhook.objects.create(
            name=f"hook {key}",
            url="http://127.0.0.1:9/hook",
            events=[EventKind.SYNC_FAILED],
            secret="s" * 20,
        )
        hook.factories.set([world.factory_of(key)])
        return hook

    def create_payload(self, world):
        return {
            "name": "ops",
            "url": "http://127.0.0.1:9/ops",
            "events": ["finding.opened", "sync.failed"],
            "secret": "x" * 24,
            "factories": ["alpha-plant"],
        }

    def update_payload(self, world, obj):
        return {"name": "renamed", "enabled": False}


class TestNotificationAPI(APIViewTestCase):
    """A user's own inbox: nobody, CoE staff included, sees another user's notifications."""

    basename = "notification"
    viewset = NotificationViewSet
    visible = {"member_a": {"a"}, "member_b": {"b"}}
    read_only = True

    def make_object(self, world, key):
        event = Event.objects.create(event=EventKind.SYNC_FAILED, data={"title": key})
        return Notification.objects.create(
            user=world.users[f"member_{key}"],
            event=event,
            kind=event.event,
            title=key,
            created_at=timezone.now(),
            channel="immediately",
        )

    def make_many(self, world, count):
        for _ in range(count):
            self.make_object(world, "a")

    def create_payload(self, world):
        return {"title": "x"}

    def update_payload(self, world, obj):
        return {"title": "x"}

    def test_list_takes_a_constant_number_of_queries(self, world, django_assert_max_num_queries):
        self.make_many(world, 30)
        client = world.client("member_a")
        with django_assert_max_num_queries(self.max_list_queries):
            response = client.get(self.list_url(), {"page_size": 100})
        assert response.json()["count"] == 30

    # Writes are not routes of an inbox: 405 for whoever is signed in, before any lookup.
    @pytest.mark.parametrize("persona", PERSONAS)
    def test_update_is_allowed_only_to_writers(self, world, persona):
        obj = self.objects(world)["a"]
        response = world.client(persona).patch(self.detail_url(obj), {}, format="json")
        assert response.status_code == (401 if persona == "anonymous" else 405)

    @pytest.mark.parametrize("persona", PERSONAS)
    def test_delete_is_allowed_only_to_writers(self, world, persona):
        obj = self.objects(world)["a"]
        response = world.client(persona).delete(self.detail_url(obj))
        assert response.status_code == (401 if persona == "anonymous" else 405)
        assert Notification.objects.filter(pk=obj.pk).exists()
