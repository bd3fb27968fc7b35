"""Serializers of webhooks, their deliveries, notifications and preferences."""

from __future__ import annotations

from rest_framework import serializers

from coe.choices import EventKind
from coe.models import Factory
from coe.network import TargetBlocked
from notify.choices import Channel
from notify.models import Notification, Webhook, WebhookAttempt, WebhookDelivery
from notify.webhooks import webhook_target


class WebhookSerializer(serializers.ModelSerializer):
    """A webhook; ``secret`` is write-only (required on create, kept when left out)."""

    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventKind.choices), allow_empty=False
    )
    secret = serializers.CharField(write_only=True, min_length=16, max_length=200)
    factories = serializers.SlugRelatedField(
        slug_field="slug", many=True, required=False, queryset=Factory.objects.all()
    )

    class Meta:
        model = Webhook
        fields = ["id", "name", "url", "events", "secret", "factories", "enabled", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_events(self, value: list[str]) -> list[str]:
        return sorted(set(value))

    def validate_url(self, value: str) -> str:
        try:
            webhook_target(value)
        except TargetBlocked as exc:
            raise serializers.ValidationError(
                f"{exc} (WEBHOOK_ALLOWLIST decides which receivers may be reached)"
            ) from exc
        return value

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["secret"].required = False
        return fields


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "at", "status_code", "error", "duration_ms"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """A delivery of one event with every attempt and its status code."""

    id = serializers.UUIDField(source="uid", read_only=True)
    event = serializers.CharField(source="event.event", read_only=True)
    event_id = serializers.UUIDField(read_only=True)
    attempts = WebhookAttemptSerializer(source="log", many=True, read_only=True)
    attempt_count = serializers.IntegerField(source="attempts", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "status",
            "attempt_count",
            "last_status_code",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "attempts",
        ]


class NotificationSerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="kind", read_only=True)
    event_id = serializers.UUIDField(read_only=True)
    data = serializers.JSONField(source="event.data", read_only=True)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "event", "event_id", "title", "data", "created_at", "read", "read_at"]

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None


class MarkReadSerializer(serializers.Serializer):
    """Which notifications to mark read: ``ids``, or every unread one when left out."""

    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)


class PreferencesSerializer(serializers.Serializer):
    """``{event kind: immediately | digest | off}``; kinds left out keep their channel."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected an object."]})
        errors, out = {}, {}
        for kind, channel in data.items():
            if kind not in EventKind.values:
                errors[kind] = [f"Unknown event kind; one of {', '.join(EventKind.values)}."]
            elif channel not in Channel.values:
                errors[kind] = [f"One of {', '.join(Channel.values)}."]
            else:
                out[kind] = channel
        if errors:
            raise serializers.ValidationError(errors)
        return out
