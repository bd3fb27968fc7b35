"""Choice lists of the assessments app."""

from django.db import models

# The five maturity stages: these names, in this order, everywhere (DESIGN.md).
STAGE_NAMES: dict[int, str] = {
    1: "Ad hoc",
    2: "Developing",
    3: "Established",
    4: "Advanced",
    5: "Optimized",
}


class Stage(models.IntegerChoices):
    AD_HOC = 1, "Ad hoc"
    DEVELOPING = 2, "Developing"
    ESTABLISHED = 3, "Established"
    ADVANCED = 4, "Advanced"
    OPTIMIZED = 5, "Optimized"


class Gating(models.TextChoices):
    """How the weakest dimension limits the overall stage."""

    ONE_BELOW = "one_below", "At most one stage above the lowest dimension"
    STRICT = "strict", "Equal to the lowest dimension"


class AppliesTo(models.TextChoices):
    SOFTWARE = "software", "Software factories"
    MANUFACTURING = "manufacturing", "Manufacturing factories"
    BOTH = "both", "Both kinds"


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_PROGRESS = "in_progress", "In progress"
    IN_REVIEW = "in_review", "In review"
    FINAL = "final", "Final"


class SuggestionDecision(models.TextChoices):
    """What the auditor did with a signal's suggested rating."""

    NONE = "", "No suggestion"
    ACCEPTED = "accepted", "Accepted"
    OVERRIDDEN = "overridden", "Overridden"


# Which status may move to which (final is locked; a correction is a new assessment).
TRANSITIONS: dict[str, set[str]] = {
    AssessmentStatus.DRAFT: {AssessmentStatus.IN_PROGRESS},
    AssessmentStatus.IN_PROGRESS: {AssessmentStatus.IN_REVIEW, AssessmentStatus.FINAL},
    AssessmentStatus.IN_REVIEW: {AssessmentStatus.IN_PROGRESS, AssessmentStatus.FINAL},
    AssessmentStatus.FINAL: set(),
}
