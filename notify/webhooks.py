"""Webhook deliveries: signed POSTs to allowlisted, pinned addresses, retried with backoff.

A delivery is ``POST <url>`` with the JSON body ``{id, event, occurred_at, data}`` and the
headers ``X-CoE-Event``, ``X-CoE-Delivery`` (the delivery's UUID) and
``X-CoE-Signature: sha256=<hex HMAC-SHA256 of the raw body keyed with the secret>``.
A 2xx answer delivers it; any other answer, a timeout or a refused connection is retried
after ``WEBHOOK_RETRY_BASE_SECONDS × 3^(n-1)`` (60 s, 3 min, 9 min, … 12 h: eight tries
span about 18 hours), the schedule kept in the database so a lost broker loses nothing.
A URL outside ``WEBHOOK_ALLOWLIST`` is refused at registration and again at each attempt
(the name is resolved once per attempt and the connection pinned to the checked address,
as connectors do — so a DNS answer changed after registration cannot redirect it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from coe.models import Event
from coe.network import TargetBlocked, pinned_client, resolve_pinned
from connectors.crypto import CredentialsError
from notify.choices import DeliveryStatus
from notify.models import Webhook, WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)


def sign(secret: str, body: bytes) -> str:
    """The ``X-CoE-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_target(url: str):
    """The pinned target of ``url``; TargetBlocked when the allowlist refuses it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetBlocked(f"{url}: not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return resolve_pinned(parts.hostname, port, settings.WEBHOOK_ALLOWLIST)


def backoff(attempt: int) -> timedelta:
    """Pause after the ``attempt``-th failed try."""
    return timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS * 3 ** (attempt - 1))


def _matches(webhook: Webhook, event: Event, factory_filter: set[int]) -> bool:
    if event.event not in webhook.events:
        return False
    return not factory_filter or bool(factory_filter & set(event.factory_ids))


def queue_deliveries(events: list[Event]) -> None:
    """Outbox subscriber: one delivery per matching enabled webhook, sent after the commit."""
    hooks = list(Webhook.objects.filter(enabled=True).prefetch_related("factories"))
    if not hooks:
        return
    filters = {hook.pk: {f.pk for f in hook.factories.all()} for hook in hooks}
    rows = [
        WebhookDelivery(webhook=hook, event=event, next_attempt_at=event.occurred_at)
        for event in events
        for hook in hooks
        if _matches(hook, event, filters[hook.pk])
    ]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    if rows:
        from django.db import transaction

        from notify.tasks import send_due_deliveries_task

        transaction.on_commit(send_due_deliveries_task.delay)


def deliver(delivery_id: int, *, now: datetime | None = None) -> WebhookDelivery | None:
    """Make the next attempt of one delivery (None when another worker took it or it is
    final). Compare-and-swap on ``attempts``: one attempt per number, whoever sends it."""
    now = now or timezone.now()
    delivery = (
        WebhookDelivery.objects.select_related("webhook", "event").filter(pk=delivery_id).first()
    )
    if delivery is None or delivery.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED):
        return None
    number = delivery.attempts + 1
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, attempts=delivery.attempts, status=delivery.status
    ).update(attempts=number, next_attempt_at=None)
    if not claimed:
        return None
    webhook, event = delivery.webhook, delivery.event
    body = json.dumps(event.payload(), separators=(",", ":")).encode()
    status_code, error, final = None, "", False
    try:
        signature = sign(webhook.secret, body)
    except CredentialsError:
        signature = ""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "CoE-Webhooks/1",
        "X-CoE-Event": event.event,
        "X-CoE-Delivery": str(delivery.uid),
        "X-CoE-Signature": signature,
    }
    started = time.monotonic()
    if not webhook.enabled:
        error, final = "the webhook is disabled", True
    elif not signature:
        # Never sent unsigned: a receiver must be able to trust every delivery it gets.
        error, final = (
            "the webhook's secret cannot be decrypted with CONNECTOR_CREDENTIALS_KEYS; "
            "register the secret again",
            True,
        )
    else:
        try:
            target = webhook_target(webhook.url)
            with pinned_client(target, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as client:
                response = client.post(webhook.url, content=body, headers=headers)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}: {response.text[:300]}"
        except TargetBlocked as exc:
            error, final = str(exc), True  # never retried: the allowlist will not change itself
        except httpx.TimeoutException as exc:
            error = (
                f"timed out after {settings.WEBHOOK_TIMEOUT_SECONDS} s ({exc.__class__.__name__})"
            )
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {exc}"
    duration = int((time.monotonic() - started) * 1000)
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        at=now,
        status_code=status_code,
        error=error[:2000],
        duration_ms=duration,
    )
    fields: dict = {"last_status_code": status_code}
    if not error:
        fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=timezone.now())
    elif final or number >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields.update(status=DeliveryStatus.FAILED)
    else:
        fields.update(status=DeliveryStatus.RETRYING, next_attempt_at=now + backoff(number))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    delivery.refresh_from_db()
    return delivery


def due_delivery_ids(now: datetime | None = None, limit: int = 200) -> list[int]:
    """Deliveries whose next attempt has come (new ones, and retries whose pause is over)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            Q(status=DeliveryStatus.PENDING) | Q(status=DeliveryStatus.RETRYING),
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
