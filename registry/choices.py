"""Choice lists of the registry."""

from django.db import models


class Ring(models.TextChoices):
    """Where a tool stands on the CoE's tech radar (adopt is the recommended standard)."""

    ADOPT = "adopt", "Adopt"
    TRIAL = "trial", "Trial"
    ASSESS = "assess", "Assess"
    HOLD = "hold", "Hold"
    RETIRED = "retired", "Retired"


RING_ORDER = [Ring.ADOPT, Ring.TRIAL, Ring.ASSESS, Ring.HOLD, Ring.RETIRED]


class Applicability(models.TextChoices):
    """Which kinds of factory a capability applies to."""

    BOTH = "both", "Both kinds"
    SOFTWARE = "software", "Software factories"
    MANUFACTURING = "manufacturing", "Manufacturing factories"


class LicenceModel(models.TextChoices):
    OPEN_SOURCE = "open_source", "Open source"
    SUBSCRIPTION = "subscription", "Subscription"
    PERPETUAL = "perpetual", "Perpetual licence"
    USAGE = "usage", "Usage based"
    INTERNAL = "internal", "Built in-house"
    UNKNOWN = "unknown", "Unknown"


class AdoptionSource(models.TextChoices):
    DECLARED = "declared", "Declared"
    IMPORT = "import", "Imported"
    CONNECTOR = "connector", "Connector"
    REQUEST = "request", "Tool request"


class AdoptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class FindingKind(models.TextChoices):
    SAME_TOOL = "same_tool", "Same tool registered twice"
    OVERLAP = "overlap", "Overlap within a factory"
    FRAGMENTATION = "fragmentation", "Fragmentation across the portfolio"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    CONSOLIDATING = "consolidating", "Consolidating"
    RESOLVED = "resolved", "Resolved"
    WAIVED = "waived", "Waived"


# Statuses in which a finding still asks for action.
LIVE_FINDING_STATUSES = [
    FindingStatus.OPEN,
    FindingStatus.ACKNOWLEDGED,
    FindingStatus.CONSOLIDATING,
]
