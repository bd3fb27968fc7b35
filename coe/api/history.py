"""The change log in the API: ``/api/audit-log/`` (CoE staff) and ``…/{id}/history/`` per object.

Each entry names its actor (null: the system), its origin (api, page, admin, command, task,
system) and, for CoE staff only, the client address it came from.
"""

from __future__ import annotations

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action

from coe import policy
from coe.api.permissions import ScopedMethodNotAllowed
from coe.changelog import Origin


class LogEntrySerializer(serializers.ModelSerializer):
    action = serializers.SerializerMethodField()
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    model = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()
    origin = serializers.SerializerMethodField()
    via = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    remote_addr = serializers.SerializerMethodField()

    class Meta:
        model = LogEntry
        fields = [
            "id",
            "timestamp",
            "actor",
            "action",
            "model",
            "object_pk",
            "object_repr",
            "changes",
            "origin",
            "via",
            "summary",
            "remote_addr",
        ]

    def get_action(self, obj: LogEntry) -> str:
        return {0: "create", 1: "update", 2: "delete", 3: "access"}.get(obj.action, str(obj.action))

    def get_model(self, obj: LogEntry) -> str:
        return f"{obj.content_type.app_label}.{obj.content_type.model}"

    def get_changes(self, obj: LogEntry) -> dict:
        """``{field: [old, new]}``."""
        return obj.changes_dict

    def _extra(self, obj: LogEntry) -> dict:
        return obj.additional_data if isinstance(obj.additional_data, dict) else {}

    def get_origin(self, obj: LogEntry) -> str:
        """api, page, admin, command, task — or system (no context was recorded)."""
        return self._extra(obj).get("origin", Origin.SYSTEM)

    def get_via(self, obj: LogEntry) -> str:
        """The command or task that made the change ("" for requests)."""
        return self._extra(obj).get("via", "")

    def get_summary(self, obj: LogEntry) -> dict | None:
        """For an entry standing for a whole import of fact rows: file, counts, factories."""
        return self._extra(obj).get("summary")

    def get_remote_addr(self, obj: LogEntry) -> str | None:
        """The client address, shown to CoE staff only (null for everyone else)."""
        request = self.context.get("request")
        if request is None or not policy.allowed(request.user, "coe.view_actor_address"):
            return None
        return obj.remote_addr


class LogEntryFilterSet(filters.FilterSet):
    model = filters.CharFilter(method="filter_model", help_text="app_label.model, e.g. coe.factory")
    object_pk = filters.CharFilter()
    actor = filters.CharFilter(field_name="actor__username")
    action = filters.ChoiceFilter(
        choices=[("create", "create"), ("update", "update"), ("delete", "delete")],
        method="filter_action",
    )
    origin = filters.ChoiceFilter(choices=Origin.choices, method="filter_origin")
    since = filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = LogEntry
        fields = ["object_pk"]

    def filter_model(self, queryset, name, value):
        app_label, _, model = value.lower().partition(".")
        return queryset.filter(content_type__app_label=app_label, content_type__model=model)

    def filter_origin(self, queryset, name, value):
        if value == Origin.SYSTEM:
            return queryset.filter(
                Q(additional_data__origin=value) | Q(additional_data__origin__isnull=True)
            )
        return queryset.filter(additional_data__origin=value)

    def filter_action(self, queryset, name, value):
        codes = {"create": 0, "update": 1, "delete": 2}
        return queryset.filter(action=codes[value])


def log_entries():
    return LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-id")


class AuditLogViewSet(ScopedMethodNotAllowed, viewsets.ReadOnlyModelViewSet):
    """Every create, update and delete of a domain object: who, when, what changed."""

    serializer_class = LogEntrySerializer
    filterset_class = LogEntryFilterSet
    ordering_fields = ["timestamp"]

    def get_queryset(self):
        # The whole log is CoE staff's: for anyone else an entry is not there (404).
        if not policy.allowed(self.request.user, "coe.view_audit_log"):
            return LogEntry.objects.none()
        return log_entries()


class HistoryMixin:
    """Adds ``GET …/{lookup}/history/``: the object's change log, to whoever may see the object."""

    @extend_schema(responses=LogEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, *args, **kwargs):
        obj = self.get_object()
        entries = log_entries().filter(
            content_type=ContentType.objects.get_for_model(obj), object_pk=str(obj.pk)
        )
        page = self.paginate_queryset(entries)
        serializer = LogEntrySerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)
