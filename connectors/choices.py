"""Choice lists of the connectors app."""

from django.db import models


class ConnectorKind(models.TextChoices):
    """Source kinds; each has one adapter class in ``connectors.sources.ADAPTERS``."""

    OPCUA = "opcua", "OPC UA"
    MQTT = "mqtt", "MQTT (Sparkplug B or JSON)"
    MODBUS = "modbus", "Modbus TCP"
    UPLOAD = "upload", "Upload / push"
    REST = "rest", "REST JSON"
    NETBOX = "netbox", "NetBox"
    SNIPEIT = "snipeit", "Snipe-IT"
    JIRA = "jira", "Jira"
    GITLAB = "gitlab", "GitLab"
    GITHUB = "github", "GitHub"


class SyncStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"


ACTIVE_SYNC_STATUSES = (SyncStatus.QUEUED, SyncStatus.RUNNING)
FINISHED_SYNC_STATUSES = (SyncStatus.SUCCEEDED, SyncStatus.PARTIAL, SyncStatus.FAILED)


class SyncTrigger(models.TextChoices):
    USER = "user", "User"
    SCHEDULE = "schedule", "Schedule"
    API = "api", "API"


class DeviceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    OFFLINE = "offline", "Offline"
    STALE = "stale", "Stale"
