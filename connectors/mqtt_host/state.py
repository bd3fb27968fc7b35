"""What the host application keeps in the database, one row per MQTT connector."""

from __future__ import annotations

from django.db import models


class MqttHostState(models.Model):
    """The Sparkplug host application's view of one MQTT connector.

    ``devices`` holds the devices born since the host last connected to the broker
    (source id → the fields of its birth and ``online``); a device leaves it when its
    node is re-born without it. ``known`` keeps the identity of every device ever born,
    so a death that comes later still names the device, and so a restarted host asks
    the right nodes for a rebirth. ``heartbeat_at`` moves every few seconds while the
    host process runs; ``connected_at`` is null while it is not connected to the broker.
    """

    connector = models.OneToOneField(
        "connectors.Connector",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="host_state",
    )
    host_id = models.CharField(max_length=200, blank=True)
    process = models.CharField(max_length=200, blank=True, help_text="host:pid of the process.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    nodes = models.JSONField(default=dict, blank=True)
    devices = models.JSONField(default=dict, blank=True)
    known = models.JSONField(default=dict, blank=True)
    births = models.PositiveIntegerField(default=0)
    deaths = models.PositiveIntegerField(default=0)
    metrics = models.PositiveIntegerField(default=0, help_text="Metric samples recorded.")
    rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "MQTT host state"

    def __str__(self) -> str:
        return f"MQTT host {self.host_id} of connector {self.connector_id}"
