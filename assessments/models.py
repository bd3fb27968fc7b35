"""Maturity models (versioned definitions), assessments (audits), answers, evidence."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from assessments.choices import (
    STAGE_NAMES,
    AssessmentStatus,
    Gating,
    Stage,
    SuggestionDecision,
)
from assessments.definitions import applicable_criteria, model_spec
from assessments.scoring import ModelSpec
from coe.models import Factory


class MaturityModel(models.Model):
    """One version of a maturity model definition file; never edited once an assessment uses it.

    A changed file (a different content hash) becomes a new row with the next version;
    exactly one version per key is current (the one new assessments use).
    """

    key = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    gating = models.CharField(max_length=20, choices=Gating.choices, default=Gating.ONE_BELOW)
    evidence_freshness_days = models.PositiveIntegerField(default=365)
    definition = models.JSONField(help_text="The normalised definition file.")
    content_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=200, blank=True, help_text="File it was loaded from.")
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="one_row_per_model_version"),
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(is_current=True),
                name="one_current_version_per_model",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def spec(self) -> ModelSpec:
        """The scoring engine's view of this version."""
        return model_spec(self.definition, version=self.version)

    def criteria_for(self, kind: str) -> list[tuple[dict, dict]]:
        """``(dimension, criterion)`` pairs that apply to a factory kind."""
        return applicable_criteria(self.definition, kind)

    def criterion_keys(self) -> set[str]:
        return {c["key"] for d in self.definition["dimensions"] for c in d["criteria"]}


class Assessment(models.Model):
    """One maturity audit of one factory against one pinned model version.

    Status: draft → in progress → in review → final. A final assessment is locked and
    carries its stored result; a correction is a new assessment (``corrects``).
    """

    factory = models.ForeignKey(Factory, on_delete=models.CASCADE, related_name="assessments")
    model = models.ForeignKey(MaturityModel, on_delete=models.PROTECT, related_name="assessments")
    status = models.CharField(
        max_length=20, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT
    )
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assessments_led",
    )
    assessed_on = models.DateField(
        null=True, blank=True, help_text="The audit's date (set at finalisation if empty)."
    )
    notes = models.TextField(blank=True)
    corrects = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="corrections",
        help_text="The final assessment this one corrects.",
    )
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revision = models.PositiveSmallIntegerField(
        default=1, help_text="1 for a first audit; a correction is the corrected one's + 1."
    )
    result = models.JSONField(null=True, blank=True, help_text="The stored scoring result.")
    index = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    stage = models.PositiveSmallIntegerField(choices=Stage.choices, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["factory", "status", "assessed_on"]),
            # The audit list's order: a page is read off the index, its answer counts
            # taken for the rows shown only, not for every audit of the portfolio.
            models.Index(fields=["-created_at", "-id"], name="assessment_newest_first"),
        ]

    def __str__(self) -> str:
        return f"{self.factory} — {self.model} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("assessment-detail", kwargs={"pk": self.pk})

    @property
    def is_final(self) -> bool:
        return self.status == AssessmentStatus.FINAL

    @property
    def stage_name(self) -> str | None:
        return STAGE_NAMES.get(self.stage) if self.stage else None


class Answer(models.Model):
    """The rating of one criterion in one assessment (``rating`` null = not applicable)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="answers")
    criterion = models.CharField(max_length=120)
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="1–5; empty means not applicable."
    )
    evidence = models.TextField(blank=True)
    links = models.JSONField(default=list, blank=True)
    evidence_date = models.DateField(
        null=True, blank=True, help_text="When the evidence was gathered or measured."
    )
    comment = models.TextField(blank=True)
    suggested_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    suggestion = models.CharField(
        max_length=12, choices=SuggestionDecision.choices, default="", blank=True
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["assessment", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "criterion"], name="one_answer_per_criterion"
            ),
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="answer_rating_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.criterion}: {self.rating or 'N/A'}"


class SignalReading(models.Model):
    """What an evidence signal measured for one criterion of one assessment.

    ``measured`` false means the data does not exist (yet): no value, no suggestion.
    """

    assessment = models.ForeignKey(
        Assessment, on_delete=models.CASCADE, related_name="signal_readings"
    )
    criterion = models.CharField(max_length=120)
    signal = models.CharField(max_length=80)
    measured = models.BooleanField(default=False)
    value = models.FloatField(null=True, blank=True)
    suggested_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    measured_at = models.DateTimeField(null=True, blank=True)
    as_of = models.DateTimeField(
        null=True, blank=True, help_text="The moment measured: the audit's own date, or now."
    )
    inputs = models.JSONField(
        default=dict, blank=True, help_text="The data the signal used (counts, tools, window)."
    )
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["assessment", "criterion"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "criterion"], name="one_reading_per_criterion"
            )
        ]

    def __str__(self) -> str:
        return f"{self.signal}={self.value if self.measured else 'not measured'}"


class ReviewComment(models.Model):
    """A reviewer's comment on one criterion of an audit (``criterion`` "" = the whole audit).

    Comments are the four-eyes review's trail: they are kept with the final assessment and
    can no longer be added once it is final."""

    assessment = models.ForeignKey(
        Assessment, on_delete=models.CASCADE, related_name="review_comments"
    )
    criterion = models.CharField(max_length=120, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assessment", "criterion", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.criterion or 'audit'}: {self.body[:40]}"


def evidence_upload_to(instance: EvidenceFile, filename: str) -> str:
    return f"evidence/{instance.answer.assessment_id}/{filename}"


class EvidenceFile(models.Model):
    """A file backing an answer (size and type limited; served only to who may see it)."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to=evidence_upload_to, max_length=300)
    name = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=120, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["answer", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("evidence-file", kwargs={"pk": self.pk})


class FactoryMaturity(models.Model):
    """A factory's current maturity: its latest final audit's stage, index, capping
    dimension and next step, the previous final audit's stage and index, and when the next
    audit is due. Derived data, rewritten by ``assessments.maturity.refresh`` when an audit
    is finalised (and by ``manage.py maturity_rebuild``) so that portfolio pages aggregate
    these rows in SQL instead of reading every audit's result."""

    factory = models.OneToOneField(Factory, on_delete=models.CASCADE, related_name="maturity")
    assessment = models.ForeignKey(
        Assessment, on_delete=models.CASCADE, related_name="+", help_text="The latest final."
    )
    model_key = models.CharField(max_length=50)
    assessed_on = models.DateField(null=True)
    stage = models.PositiveSmallIntegerField(choices=Stage.choices)
    index = models.DecimalField(max_digits=4, decimal_places=2)
    capped_by = models.CharField(max_length=200, blank=True, help_text="Capping dimension.")
    next_step = models.JSONField(null=True, help_text="The first roadmap step, named.")
    previous_stage = models.PositiveSmallIntegerField(null=True)
    previous_index = models.DecimalField(max_digits=4, decimal_places=2, null=True)
    previous_assessed_on = models.DateField(null=True)
    next_due = models.DateField(null=True, help_text="Last final audit plus the cadence.")
    refreshed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "factory maturities"
        indexes = [models.Index(fields=["next_due"], name="maturity_next_due")]

    def __str__(self) -> str:
        return f"maturity of {self.factory_id}"

    @property
    def stage_name(self) -> str | None:
        return STAGE_NAMES.get(self.stage)


class FactoryDimensionScore(models.Model):
    """One dimension score of a factory's latest final audit (the heatmaps' cells)."""

    factory = models.ForeignKey(Factory, on_delete=models.CASCADE, related_name="maturity_scores")
    key = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(help_text="Order in the model.")
    score = models.FloatField(null=True)

    class Meta:
        ordering = ["factory_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["factory", "key"], name="one_score_per_dimension")
        ]

    def __str__(self) -> str:
        return f"{self.factory_id} {self.key}"
