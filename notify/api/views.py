"""API of webhooks (CoE staff) and of the caller's notifications."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from coe import policy
from notify import inbox
from notify.api.serializers import (
    MarkReadSerializer,
    NotificationSerializer,
    PreferencesSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
)
from notify.models import Notification, Webhook, WebhookAttempt, WebhookDelivery


class WebhookViewSet(viewsets.ModelViewSet):
    """Webhooks: outside receivers of events. CoE staff only (read and write)."""

    serializer_class = WebhookSerializer
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        # Outside CoE staff a webhook id names nothing (404), like any object out of scope.
        if not policy.allowed(self.request.user, "notify.manage_webhook"):
            return Webhook.objects.none()
        return Webhook.objects.prefetch_related("factories").order_by("name", "id")

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The webhook's deliveries, newest first, with every attempt's status code."""
        webhook = self.get_object()
        queryset = (
            WebhookDelivery.objects.filter(webhook=webhook)
            .select_related("event")
            .prefetch_related(Prefetch("log", queryset=WebhookAttempt.objects.order_by("number")))
            .order_by("-created_at", "-id")
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The caller's in-app inbox, newest first (``?unread=1`` for unread only)."""

    serializer_class = NotificationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Notification.objects.none()
        queryset = Notification.objects.filter(user=self.request.user).select_related("event")
        if self.request.query_params.get("unread") in ("1", "true"):
            queryset = queryset.filter(read_at__isnull=True)
        return queryset.order_by("-created_at", "-id")

    @extend_schema(
        request=MarkReadSerializer,
        responses=OpenApiResponse(description="{marked, unread}"),
    )
    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request):
        """Mark the given notifications (or all unread ones) read."""
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked = inbox.mark_read(request.user, serializer.validated_data.get("ids"))
        return Response({"marked": marked, "unread": inbox.unread_count(request.user)})


class NotificationPreferencesView(APIView):
    """The caller's channel per event kind: immediately, digest or off."""

    @extend_schema(responses=OpenApiResponse(description="{event kind: channel}"))
    def get(self, request):
        return Response(inbox.preferences_of(request.user))

    @extend_schema(
        request=PreferencesSerializer,
        responses=OpenApiResponse(description="{event kind: channel}"),
    )
    def put(self, request):
        serializer = PreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(inbox.preferences_set(request.user, serializer.validated_data))

    patch = put
