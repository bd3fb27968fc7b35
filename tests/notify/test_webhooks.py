"""Webhooks against a real local HTTP server: signed deliveries, retries with backoff on
errors and timeouts, and the outbound allowlist at registration and at delivery."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug import Request, Response

from coe.choices import EventKind
from coe.events import emit
from notify.choices import DeliveryStatus
from notify.models import Webhook, WebhookDelivery
from notify.webhooks import backoff, deliver, due_delivery_ids

pytestmark = pytest.mark.django_db

SECRET = "a-long-shared-secret-4711"


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.WEBHOOK_ALLOWLIST = ["127.0.0.0/8"]
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0


def _hook(httpserver, **fields) -> Webhook:
    defaults = {
        "name": "receiver",
        "url": httpserver.url_for("/hook"),
        "events": [EventKind.SYNC_FAILED],
        "secret": SECRET,
    }
    return Webhook.objects.create(**{**defaults, **fields})


def _emit(captured, factory=None):
    with captured(execute=True):
        return emit(EventKind.SYNC_FAILED, {"title": "Sync failed", "run": 7}, factory=factory)


def test_staff_register_a_webhook_and_its_secret_is_never_returned(world, httpserver):
    url = httpserver.url_for("/hook")
    body = {"name": "ops", "url": url, "events": ["sync.failed"], "secret": SECRET}
    response = world.client("staff").post("/api/webhooks/", body, format="json")
    assert response.status_code == 201, response.content
    assert "secret" not in response.json()
    assert Webhook.objects.get().secret == SECRET
    listed = world.client("staff").get("/api/webhooks/").json()["results"]
    assert listed[0]["url"] == url and "secret" not in listed[0]
    for persona in ("owner_a", "member_a"):
        assert world.client(persona).post("/api/webhooks/", body, format="json").status_code == 403
        assert world.client(persona).get("/api/webhooks/").status_code == 403
    assert world.client("anonymous").get("/api/webhooks/").status_code == 401


def test_an_unknown_event_kind_or_a_short_secret_is_a_field_error(world, httpserver):
    body = {"name": "x", "url": httpserver.url_for("/"), "events": ["nope"], "secret": "short"}
    response = world.client("staff").post("/api/webhooks/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"events", "secret"}


def test_a_url_outside_the_allowlist_is_refused_at_registration(world, settings):
    settings.WEBHOOK_ALLOWLIST = ["10.0.0.0/8"]
    body = {"name": "x", "url": "http://127.0.0.1:9/h", "events": ["sync.failed"], "secret": SECRET}
    response = world.client("staff").post("/api/webhooks/", body, format="json")
    assert response.status_code == 400
    assert "allowlist" in response.json()["url"][0]
    assert not Webhook.objects.exists()


def test_a_delivery_is_a_signed_post_of_the_event(
    world, httpserver, django_capture_on_commit_callbacks
):
    received = []

    def handler(request: Request) -> Response:
        received.append((request.get_data(), dict(request.headers)))
        return Response("ok", status=204)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    hook = _hook(httpserver)
    event = _emit(django_capture_on_commit_callbacks, world.factory_a)
    ((body, headers),) = received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Coe-Signature"], expected)
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert headers["X-Coe-Event"] == "sync.failed"
    assert headers["X-Coe-Delivery"] == str(delivery.uid)
    payload = json.loads(body)
    assert payload == {
        "id": str(event.pk),
        "event": "sync.failed",
        "occurred_at": event.occurred_at.isoformat(),
        "data": {"title": "Sync failed", "run": 7},
    }
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.last_status_code == 204
    log = world.client("staff").get(f"/api/webhooks/{hook.pk}/deliveries/").json()["results"]
    assert log[0]["status"] == "succeeded"
    assert [a["status_code"] for a in log[0]["attempts"]] == [204]


def test_only_subscribed_events_of_the_named_factories_are_delivered(
    world, httpserver, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    hook = _hook(httpserver)
    hook.factories.set([world.factory_b])
    _emit(django_capture_on_commit_callbacks, world.factory_a)
    with django_capture_on_commit_callbacks(execute=True):
        emit(EventKind.FINDING_OPENED, {}, factory=world.factory_b)
    assert not WebhookDelivery.objects.exists()
    _emit(django_capture_on_commit_callbacks, world.factory_b)
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_a_500_is_retried_with_growing_pauses_until_eight_tries_fail(
    world, httpserver, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hook").respond_with_data("down", status=500)
    hook = _hook(httpserver)
    _emit(django_capture_on_commit_callbacks, world.factory_a)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.attempts == 1
    assert due_delivery_ids(timezone.now()) == []  # the pause is not over
    now = delivery.log.get().at
    pauses = []
    while delivery.status == DeliveryStatus.RETRYING:
        pauses.append(delivery.next_attempt_at - now)
        now = delivery.next_attempt_at
        assert due_delivery_ids(now) == [delivery.pk]
        delivery = deliver(delivery.pk, now=now)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 8
    assert len(httpserver.log) == 8
    assert pauses == [backoff(n) for n in range(1, 8)]
    assert pauses[0] == timedelta(minutes=1)
    total = sum(pauses, timedelta())
    assert timedelta(hours=12) < total < timedelta(hours=30)  # about a day
    log = world.client("staff").get(f"/api/webhooks/{hook.pk}/deliveries/").json()["results"]
    assert [a["status_code"] for a in log[0]["attempts"]] == [500] * 8
    assert deliver(delivery.pk) is None  # final


def test_a_retry_that_gets_a_2xx_delivers(world, httpserver, django_capture_on_commit_callbacks):
    httpserver.expect_oneshot_request("/hook").respond_with_data("busy", status=503)
    httpserver.expect_oneshot_request("/hook").respond_with_data("ok", status=200)
    _hook(httpserver)
    _emit(django_capture_on_commit_callbacks, world.factory_a)
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code == 503
    delivery = deliver(delivery.pk, now=delivery.next_attempt_at)
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2


def test_a_receiver_that_does_not_answer_in_time_is_retried(
    world, httpserver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    release = threading.Event()

    def slow(request: Request) -> Response:
        release.wait(5)
        return Response("late")

    httpserver.expect_request("/hook").respond_with_handler(slow)
    hook = _hook(httpserver)
    try:
        _emit(django_capture_on_commit_callbacks, world.factory_a)
    finally:
        release.set()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.last_status_code is None
    log = world.client("staff").get(f"/api/webhooks/{hook.pk}/deliveries/").json()["results"]
    assert "timed out" in log[0]["attempts"][0]["error"]


def test_a_url_no_longer_on_the_allowlist_is_refused_at_delivery(
    world, httpserver, settings, django_capture_on_commit_callbacks
):
    _hook(httpserver)
    settings.WEBHOOK_ALLOWLIST = ["10.0.0.0/8"]
    _emit(django_capture_on_commit_callbacks, world.factory_a)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert "allowlist" in delivery.log.get().error
    assert httpserver.log == []


# --- the secret at rest ------------------------------------------------------------------------


@pytest.fixture
def fresh_keys(settings):
    """Two Fernet keys of this test's own; the cached keys are forgotten before and after."""
    from cryptography.fernet import Fernet

    from connectors import crypto

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CONNECTOR_CREDENTIALS_KEYS = [old]
    crypto.reset_keys()
    yield old, new
    crypto.reset_keys()


def test_the_secret_is_stored_encrypted_and_survives_a_key_rotation(
    world, httpserver, settings, fresh_keys
):
    from django.core.management import call_command
    from django.db import connection

    from connectors import crypto

    old, new = fresh_keys
    hook = _hook(httpserver)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM notify_webhook WHERE id = %s", [hook.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored and stored.startswith("gAAAA")  # a Fernet token
    settings.CONNECTOR_CREDENTIALS_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_connector_credentials", stdout=out)
    assert "the secrets of 1 webhook(s)" in out.getvalue()
    settings.CONNECTOR_CREDENTIALS_KEYS = [new]  # the old key dropped after rotating
    crypto.reset_keys()
    assert Webhook.objects.get(pk=hook.pk).secret == SECRET


def test_a_secret_the_keys_cannot_decrypt_is_never_sent_unsigned(
    world, httpserver, settings, fresh_keys, django_capture_on_commit_callbacks
):
    from cryptography.fernet import Fernet

    from connectors import crypto

    _hook(httpserver)
    settings.CONNECTOR_CREDENTIALS_KEYS = [Fernet.generate_key().decode()]  # keys lost
    crypto.reset_keys()
    _emit(django_capture_on_commit_callbacks, world.factory_a)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert "cannot be decrypted" in delivery.log.get().error
    assert httpserver.log == []
