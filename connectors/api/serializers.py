"""API shapes of connectors, sync runs, devices and metric samples.

Credentials are write-only: accepted on create/update, encrypted at once, never returned
(``has_credentials`` says whether some are stored).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from coe.api.fields import FactoryField
from connectors import services
from connectors.models import Connector, Device, DeviceSourceRecord, MetricSample, SyncRun
from connectors.mqtt_host.selectors import host_summary


class MqttHostSerializer(serializers.Serializer):
    """The Sparkplug host application's view of an MQTT connector (``manage.py mqtt_host``)."""

    host_id = serializers.CharField(help_text="Its STATE topic is spBv1.0/STATE/<host_id>.")
    running = serializers.BooleanField(help_text="A host process moved its heartbeat lately.")
    connected = serializers.BooleanField(help_text="Running and connected to the broker.")
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    connected_at = serializers.DateTimeField(allow_null=True)
    last_message_at = serializers.DateTimeField(allow_null=True)
    edge_nodes = serializers.IntegerField()
    edge_nodes_online = serializers.IntegerField()
    devices = serializers.IntegerField(help_text="Devices born since the host connected.")
    births = serializers.IntegerField()
    deaths = serializers.IntegerField()
    metrics = serializers.IntegerField()
    rejected = serializers.IntegerField()
    message = serializers.CharField()


class ConnectorSerializer(serializers.ModelSerializer):
    factory = FactoryField()
    factory_id = serializers.IntegerField(source="factory.id", read_only=True)
    credentials = serializers.JSONField(
        write_only=True, required=False, help_text="Write-only; {} clears, omit to keep."
    )
    has_credentials = serializers.BooleanField(read_only=True)
    last_run = serializers.SerializerMethodField()
    host = serializers.SerializerMethodField()

    class Meta:
        model = Connector
        fields = [
            "id",
            "name",
            "kind",
            "factory",
            "factory_id",
            "settings",
            "credentials",
            "has_credentials",
            "schedule",
            "enabled",
            "last_sync_at",
            "last_run",
            "host",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["last_sync_at", "created_at", "updated_at"]

    def get_last_run(self, obj) -> dict | None:
        if getattr(obj, "last_run_id", None) is None:
            return None
        return {
            "id": obj.last_run_id,
            "status": obj.last_run_status,
            "finished_at": obj.last_run_finished_at,
        }

    @extend_schema_field(MqttHostSerializer(allow_null=True))
    def get_host(self, obj) -> dict | None:
        """MQTT connectors: what the host application heard (null before it ever ran)."""
        if obj.kind != "mqtt":
            return None
        return host_summary(getattr(obj, "host_state", None))

    def validate_credentials(self, value):
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise serializers.ValidationError("an object of credential fields")
        return value

    def _save(self, call):
        try:
            return call()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc

    def create(self, validated_data):
        return self._save(lambda: services.connector_create(**validated_data))

    def update(self, instance, validated_data):
        return self._save(lambda: services.connector_update(connector=instance, **validated_data))


class SyncRunSerializer(serializers.ModelSerializer):
    connector_name = serializers.CharField(source="connector.name", read_only=True)
    factory = serializers.CharField(source="connector.factory.slug", read_only=True)
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    triggered_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "connector",
            "connector_name",
            "factory",
            "status",
            "trigger",
            "triggered_by",
            "full_sync",
            "counts",
            "errors",
            "progress",
            "message",
            "attempts",
            "resend_count",
            "resent_at",
            "queued_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class SyncStartSerializer(serializers.Serializer):
    full_sync = serializers.BooleanField(default=True)


class DeviceSourceSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="source_kind")
    connector = serializers.IntegerField(source="connector_id")

    class Meta:
        model = DeviceSourceRecord
        fields = [
            "kind",
            "connector",
            "source_id",
            "data",
            "first_seen",
            "last_seen",
            "missing_since",
        ]


class DeviceSerializer(serializers.ModelSerializer):
    factory = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    factory_id = serializers.IntegerField(read_only=True)
    sources = DeviceSourceSerializer(source="source_records", many=True, read_only=True)

    class Meta:
        model = Device
        fields = [
            "id",
            "factory",
            "factory_id",
            "name",
            "serial_number",
            "mac",
            "manufacturer",
            "model",
            "firmware",
            "hardware_revision",
            "status",
            "first_seen",
            "last_seen",
            "sources",
        ]
        read_only_fields = fields


class MetricSampleSerializer(serializers.ModelSerializer):
    factory = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    factory_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = MetricSample
        fields = [
            "id",
            "factory",
            "factory_id",
            "metric",
            "series",
            "period_start",
            "period_end",
            "value",
            "unit",
            "source",
            "line",
            "device",
        ]
        read_only_fields = fields


# The device list renders its page from column values: a page of 50 devices with their
# sources costs two queries and no model instances or per-field serializer calls. The
# shape is DeviceSerializer's, field for field (tests/connectors/test_api.py compares them).
DEVICE_VALUES = [
    "id", "factory__slug", "factory_id", "name", "serial_number", "mac", "manufacturer",
    "model", "firmware", "hardware_revision", "status", "first_seen", "last_seen",
]  # fmt: skip
_datetime = serializers.DateTimeField().to_representation


def device_list_rows(page: list[dict]) -> list[dict]:
    """DeviceSerializer's rendering of ``page`` (rows of ``DEVICE_VALUES``)."""
    sources: dict[int, list[dict]] = {row["id"]: [] for row in page}
    records = (
        DeviceSourceRecord.objects.filter(device_id__in=sources)
        .order_by("source_kind", "source_id")
        .values_list(
            "device_id",
            "source_kind",
            "connector_id",
            "source_id",
            "data",
            "first_seen",
            "last_seen",
            "missing_since",
        )  # fmt: skip
    )
    for device_id, kind, connector, source_id, data, first, last, missing in records:
        sources[device_id].append(
            {
                "kind": kind,
                "connector": connector,
                "source_id": source_id,
                "data": data,
                "first_seen": _datetime(first),
                "last_seen": _datetime(last),
                "missing_since": _datetime(missing),
            }
        )
    return [
        {
            "id": row["id"],
            "factory": row["factory__slug"],
            "factory_id": row["factory_id"],
            "name": row["name"],
            "serial_number": row["serial_number"],
            "mac": row["mac"],
            "manufacturer": row["manufacturer"],
            "model": row["model"],
            "firmware": row["firmware"],
            "hardware_revision": row["hardware_revision"],
            "status": row["status"],
            "first_seen": _datetime(row["first_seen"]),
            "last_seen": _datetime(row["last_seen"]),
            "sources": sources[row["id"]],
        }
        for row in page
    ]
