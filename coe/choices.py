"""Choice lists of the core."""

from django.db import models


class FactoryKind(models.TextChoices):
    SOFTWARE = "software", "Software factory"
    MANUFACTURING = "manufacturing", "Manufacturing factory"


class Role(models.TextChoices):
    """A user's role in one factory. CoE staff is not a factory role: it is the group."""

    BUSINESS_OWNER = "business_owner", "Business owner"
    MEMBER = "member", "Factory member"


COE_STAFF_GROUP = "coe_staff"


class EventKind(models.TextChoices):
    """What the outbox announces (docs/events.md): webhooks and notifications subscribe."""

    FINDING_OPENED = "finding.opened", "Duplicate finding opened"
    FINDING_REOPENED = "finding.reopened", "Duplicate finding reopened"
    FINDING_RESOLVED = "finding.resolved", "Duplicate finding resolved"
    WAIVER_EXPIRING = "waiver.expiring", "Waiver expiring"
    TOOL_REQUEST_SUBMITTED = "tool_request.submitted", "Tool request submitted"
    TOOL_REQUEST_DECIDED = "tool_request.decided", "Tool request decided"
    TOOL_REQUEST_OVERDUE = "tool_request.overdue", "Tool request overdue"
    ASSESSMENT_FINALIZED = "assessment.finalized", "Assessment finalised"
    STAGE_CHANGED = "stage.changed", "Maturity stage changed"
    AUDIT_DUE = "audit.due", "Audit due"
    SYNC_FAILED = "sync.failed", "Sync failed"
    CONNECTOR_UNHEALTHY = "connector.unhealthy", "Connector unhealthy"
