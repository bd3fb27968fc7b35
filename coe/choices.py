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
