"""Choice lists of notifications and webhooks."""

from django.db import models


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Channel(models.TextChoices):
    """How a user hears about one kind of event."""

    IMMEDIATELY = "immediately", "Immediately (in-app and e-mail)"
    DIGEST = "digest", "Daily digest (in-app, e-mail once a day)"
    OFF = "off", "Off"
