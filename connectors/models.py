"""Connector configurations, sync runs and the landed facts (devices, metric samples)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse

from coe.models import Factory
from connectors import crypto
from connectors.choices import (
    ACTIVE_SYNC_STATUSES,
    ConnectorKind,
    DeviceStatus,
    SyncStatus,
    SyncTrigger,
)


class Connector(models.Model):
    """A configured source of one factory: kind, settings, encrypted credentials, schedule.

    ``schedule`` is "" (manual only), a number of minutes ("15"), ``@hourly``/``@daily``
    or the cron-like ``*/N * * * *`` (every N minutes).
    """

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=ConnectorKind.choices)
    factory = models.ForeignKey(Factory, on_delete=models.CASCADE, related_name="connectors")
    settings = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True, editable=False)
    schedule = models.CharField(max_length=40, blank=True)
    enabled = models.BooleanField(default=True)
    cursor = models.JSONField(
        default=dict, blank=True, help_text="Where the last successful sync stopped."
    )
    last_sync_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["factory__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["factory", "name"], name="connector_name_per_factory")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def get_absolute_url(self) -> str:
        return reverse("connector-detail", kwargs={"pk": self.pk})

    @property
    def credentials(self) -> dict:
        """The decrypted credentials (never serialised, never logged)."""
        return crypto.decrypt_credentials(self.credentials_encrypted)

    def set_credentials(self, data: dict | None) -> None:
        self.credentials_encrypted = crypto.encrypt_credentials(data)

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def clean(self) -> None:
        from connectors.schedules import parse_schedule
        from connectors.sources import validate_settings

        try:
            self.settings = validate_settings(self.kind, self.settings or {})
        except ValueError as exc:
            raise ValidationError({"settings": str(exc)}) from exc
        try:
            parse_schedule(self.schedule)
        except ValueError as exc:
            raise ValidationError({"schedule": str(exc)}) from exc


class SyncRun(models.Model):
    """One sync of one connector: status, counts, row-level errors, progress and timings."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(
        max_length=12, choices=SyncStatus.choices, default=SyncStatus.QUEUED, db_index=True
    )
    trigger = models.CharField(max_length=12, choices=SyncTrigger.choices, default=SyncTrigger.USER)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    full_sync = models.BooleanField(default=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    stale = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    metrics = models.PositiveIntegerField(default=0, help_text="Metric samples landed.")
    errors = models.JSONField(default=list, blank=True)
    progress = models.PositiveIntegerField(default=0, help_text="Records processed so far.")
    message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    resent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the reaper last re-sent the run's task message."
    )
    resend_count = models.PositiveSmallIntegerField(
        default=0, help_text="Times the reaper re-sent a task message no worker picked up."
    )

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            # At most one queued or running sync per connector.
            models.UniqueConstraint(
                fields=["connector"],
                condition=Q(status__in=list(ACTIVE_SYNC_STATUSES)),
                name="one_active_sync_per_connector",
            )
        ]

    def __str__(self) -> str:
        return f"Sync #{self.pk} of {self.connector_id} ({self.status})"

    @property
    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "rejected": self.rejected,
            "metrics": self.metrics,
        }


class Device(models.Model):
    """A device of a factory, reconciled from every source that reports it."""

    factory = models.ForeignKey(
        Factory, on_delete=models.CASCADE, related_name="devices", db_index=False
    )
    name = models.CharField(max_length=200, blank=True)
    serial_number = models.CharField(max_length=120, blank=True)
    serial_normalised = models.CharField(max_length=120, blank=True)
    mac = models.CharField(max_length=17, blank=True, help_text="aa:bb:cc:dd:ee:ff")
    manufacturer = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=200, blank=True)
    firmware = models.CharField(max_length=120, blank=True)
    hardware_revision = models.CharField(max_length=120, blank=True)
    status = models.CharField(
        max_length=10, choices=DeviceStatus.choices, default=DeviceStatus.ACTIVE
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["factory_id", "serial_normalised", "id"]
        indexes = [
            models.Index(fields=["factory", "mac"], name="device_factory_mac"),
            # Status first: an index led by factory_id alone would compete with
            # device_factory_mac for the ingest's MAC probe (factory_id = … AND mac = …)
            # whenever the statistics do not know the factory yet (its first load), and
            # the planner would then scan the whole factory once per MAC.
            models.Index(fields=["status", "factory"], name="device_status_factory"),
            # The device list's default order (and its name sort): the first page is read
            # from the index, not sorted out of every device. Led by name, not factory_id,
            # for the reason above.
            models.Index(fields=["name", "id"], name="device_name_id"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["factory", "serial_normalised"],
                condition=~Q(serial_normalised=""),
                name="device_serial_per_factory",
            )
        ]

    def __str__(self) -> str:
        return self.name or self.serial_number or f"device {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("device-detail", kwargs={"pk": self.pk})


class DeviceSourceRecord(models.Model):
    """What one source said about one device (one row per source id of a connector)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="source_records")
    connector = models.ForeignKey(
        Connector, on_delete=models.CASCADE, related_name="source_records", db_index=False
    )
    source_kind = models.CharField(max_length=20)
    source_id = models.CharField(max_length=300)
    data = models.JSONField(default=dict)
    data_hash = models.CharField(max_length=32)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    # Set when a complete, full sync of the connector did not see the device; cleared when
    # the source reports it again. A device goes stale when no source still reports it.
    missing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["device_id", "source_kind", "source_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "source_id"], name="one_record_per_source_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_kind}:{self.source_id}"


class DeviceChange(models.Model):
    """A change of one reconciled device field: old and new value, which source, which run."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=40)
    old = models.TextField(blank=True)
    new = models.TextField(blank=True)
    source = models.CharField(max_length=20, blank=True)
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.field}: {self.old!r} → {self.new!r}"


class MetricSample(models.Model):
    """One value of a metric over a period, for a factory (optionally a line or device).

    Keyed for partitioning by (factory, metric, period_start); ``series`` tells apart
    several series of the same metric (a line, a device's source id) and is "" for the
    whole factory. Re-landing the same sample is a no-op (unique key).
    """

    factory = models.ForeignKey(
        Factory, on_delete=models.CASCADE, related_name="metric_samples", db_index=False
    )
    metric = models.CharField(max_length=120)
    series = models.CharField(max_length=200, blank=True)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    value = models.FloatField()
    unit = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=40, blank=True)
    line = models.CharField(max_length=120, blank=True)
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="metric_samples"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["factory_id", "metric", "-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["factory", "metric", "period_start", "series", "source"],
                name="metric_sample_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric}={self.value} @ {self.period_start:%Y-%m-%d %H:%M}"


from connectors.facts import CurrencyRate, Deployment, FinanceEntry, OTCounter, WorkItem  # noqa: E402, F401
from connectors.mqtt_host.state import MqttHostState  # noqa: E402, F401
