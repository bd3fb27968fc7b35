"""Admin of connectors, sync runs and the landed facts (credentials are never shown)."""

from django.contrib import admin

from connectors.models import (
    Connector,
    Device,
    DeviceChange,
    DeviceSourceRecord,
    MetricSample,
    MqttHostState,
    SyncRun,
)


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "factory", "schedule", "enabled", "last_sync_at"]
    list_filter = ["kind", "enabled", "factory"]
    search_fields = ["name", "factory__name", "factory__slug"]
    exclude = ["credentials_encrypted"]
    readonly_fields = ["cursor", "last_sync_at"]


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "connector",
        "status",
        "trigger",
        "created",
        "updated",
        "unchanged",
        "stale",
        "rejected",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "trigger"]
    search_fields = ["connector__name"]
    list_select_related = ["connector"]
    raw_id_fields = ["connector", "triggered_by"]


class SourceRecordInline(admin.TabularInline):
    model = DeviceSourceRecord
    extra = 0
    fields = ["source_kind", "source_id", "data", "last_seen"]
    readonly_fields = fields
    can_delete = False


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "factory",
        "serial_number",
        "manufacturer",
        "model",
        "firmware",
        "status",
        "last_seen",
    ]
    list_filter = ["status", "factory"]
    search_fields = ["serial_number", "serial_normalised", "mac", "manufacturer", "model"]
    list_select_related = ["factory"]
    inlines = [SourceRecordInline]


@admin.register(DeviceSourceRecord)
class DeviceSourceRecordAdmin(admin.ModelAdmin):
    list_display = ["source_kind", "source_id", "device", "connector", "last_seen"]
    list_filter = ["source_kind"]
    search_fields = ["source_id"]
    raw_id_fields = ["device", "connector"]


@admin.register(DeviceChange)
class DeviceChangeAdmin(admin.ModelAdmin):
    list_display = ["device", "field", "old", "new", "source", "at"]
    list_filter = ["field", "source"]
    raw_id_fields = ["device", "run"]


@admin.register(MetricSample)
class MetricSampleAdmin(admin.ModelAdmin):
    list_display = ["factory", "metric", "series", "period_start", "value", "unit", "source"]
    list_filter = ["metric", "source"]
    raw_id_fields = ["device"]


from connectors import facts_admin  # noqa: E402, F401  (the facts models admin)


@admin.register(MqttHostState)
class MqttHostStateAdmin(admin.ModelAdmin):
    """What the Sparkplug host application keeps; written by ``mqtt_host`` only."""

    list_display = ["connector", "host_id", "process", "heartbeat_at", "connected_at"]
    list_display += ["last_message_at", "births", "deaths", "metrics", "rejected"]
    search_fields = ["connector__name", "host_id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
