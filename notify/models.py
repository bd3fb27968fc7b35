"""Webhooks with their delivery log, and the in-app inbox with per-user preferences."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from coe.choices import EventKind
from coe.models import Event, Factory
from connectors.crypto import decrypt_text, encrypt_text
from notify.choices import Channel, DeliveryStatus


class Webhook(models.Model):
    """An outside receiver of events: every event of ``events`` (of ``factories`` when some
    are named) is POSTed to ``url``, signed with ``secret`` (HMAC-SHA256). The secret is
    stored encrypted like connector credentials: a database dump alone does not let anyone
    forge deliveries."""

    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event kinds delivered (docs/events.md).")
    secret_encrypted = models.TextField(
        blank=True,
        help_text="Key of the X-CoE-Signature HMAC, encrypted with CONNECTOR_CREDENTIALS_KEYS.",
    )
    factories = models.ManyToManyField(Factory, blank=True, related_name="webhooks")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def secret(self) -> str:
        """The signing key (decrypted when read; ``CredentialsError`` when the configured
        keys cannot decrypt it)."""
        return decrypt_text(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = encrypt_text(value)


class WebhookDelivery(models.Model):
    """One event to one webhook: tried up to ``WEBHOOK_MAX_ATTEMPTS`` times with growing
    pauses until the receiver answers 2xx."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event"], name="one_delivery_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.event.event} → {self.webhook}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: the receiver's status code, or why there was none."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error[:60]}"


class Notification(models.Model):
    """An event in one user's in-app inbox."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    title = models.CharField(max_length=300)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="one_notification_per_event")
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """How one user hears about one kind of event (no row: immediately)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    event = models.CharField(max_length=40, choices=EventKind.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)

    class Meta:
        ordering = ["event"]
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="one_preference_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.event} → {self.channel}"
