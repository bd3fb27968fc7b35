"""The registry: capabilities, tools and their rings, processes, adoptions, duplicate findings."""

from __future__ import annotations

from decimal import Decimal

import markdown
import nh3
from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from coe.choices import FactoryKind
from coe.models import Factory
from coe.prefetch import rows
from registry.choices import (
    AdoptionSource,
    AdoptionStatus,
    Applicability,
    FindingKind,
    FindingStatus,
    LicenceModel,
    Ring,
)


class Capability(models.Model):
    """A node of the capability taxonomy (e.g. "Software delivery › CI/CD")."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    applies_to = models.CharField(
        max_length=20, choices=Applicability.choices, default=Applicability.BOTH
    )
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "capabilities"

    def __str__(self) -> str:
        return self.name


class Tool(models.Model):
    """A product in the registry, with its radar ring and cost per seat."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    vendor = models.CharField(max_length=200, blank=True)
    normalized_name = models.CharField(
        max_length=200, db_index=True, editable=False, help_text="Key used by name resolution."
    )
    capabilities = models.ManyToManyField(Capability, blank=True, related_name="tools")
    homepage = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    licence_model = models.CharField(
        max_length=20, choices=LicenceModel.choices, default=LicenceModel.UNKNOWN
    )
    annual_cost_per_seat = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_tools",
    )
    ring = models.CharField(max_length=10, choices=Ring.choices, default=Ring.ASSESS)
    # The whole portfolio's active adoptions of the tool and their annual spend, kept by
    # ``registry.figures`` for the registry list.
    adopter_count = models.PositiveIntegerField(default=0, editable=False)
    annual_spend = models.DecimalField(max_digits=16, decimal_places=2, default=0, editable=False)
    introduced_on = models.DateField(null=True, blank=True)
    sunset_on = models.DateField(null=True, blank=True, help_text="When support ends.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        from registry.resolution import normalize

        self.normalized_name = normalize(self.name)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("tool-detail", kwargs={"slug": self.slug})

    @property
    def alias_names(self) -> list[str]:
        return [alias.name for alias in rows(self, "aliases")]


class ToolAlias(models.Model):
    """Another name of a tool; searchable and used by name resolution."""

    tool = models.ForeignKey(Tool, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "tool aliases"

    def __str__(self) -> str:
        return f"{self.name} → {self.tool}"

    def save(self, *args, **kwargs):
        from registry.resolution import normalize

        self.normalized_name = normalize(self.name)
        super().save(*args, **kwargs)


class ToolRingOverride(models.Model):
    """A tool's ring for one kind of factory, overriding its global ring."""

    tool = models.ForeignKey(Tool, on_delete=models.CASCADE, related_name="ring_overrides")
    factory_kind = models.CharField(max_length=20, choices=FactoryKind.choices)
    ring = models.CharField(max_length=10, choices=Ring.choices)

    class Meta:
        ordering = ["tool__name", "factory_kind"]
        constraints = [
            models.UniqueConstraint(fields=["tool", "factory_kind"], name="one_ring_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.tool}: {self.ring} for {self.factory_kind}"


class RingChange(models.Model):
    """One move of a tool between rings: who, when, from, to and why."""

    tool = models.ForeignKey(Tool, on_delete=models.CASCADE, related_name="ring_changes")
    factory_kind = models.CharField(
        max_length=20, choices=FactoryKind.choices, blank=True, help_text="Blank: the global ring."
    )
    from_ring = models.CharField(max_length=10, choices=Ring.choices, blank=True)
    to_ring = models.CharField(max_length=10, choices=Ring.choices)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.tool}: {self.from_ring or '—'} → {self.to_ring}"


class Process(models.Model):
    """A reusable process or playbook the CoE keeps (versions hold the steps)."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    capability = models.ForeignKey(
        Capability, null=True, blank=True, on_delete=models.SET_NULL, related_name="processes"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_processes",
    )
    owner_factory = models.ForeignKey(
        Factory, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_processes"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "processes"

    def __str__(self) -> str:
        return self.name


ALLOWED_TAGS = {
    "p", "h1", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "code", "pre", "a",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td", "br", "hr",
}  # fmt: skip


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to show (nh3 removes scripts, handlers, bad links)."""
    html = markdown.markdown(text or "", extensions=["tables", "fenced_code"])
    return nh3.clean(html, tags=ALLOWED_TAGS, url_schemes={"http", "https", "mailto"})


class ProcessVersion(models.Model):
    """One version of a process: its steps in Markdown and its links."""

    process = models.ForeignKey(Process, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=40)
    steps = models.TextField(help_text="Markdown.")
    links = models.JSONField(default=list, blank=True, help_text="A list of URLs.")
    released_on = models.DateField(default=timezone.localdate)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["process__name", "-released_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["process", "version"], name="unique_process_version")
        ]

    def __str__(self) -> str:
        return f"{self.process} {self.version}"

    @property
    def steps_html(self) -> str:
        return render_markdown(self.steps)


class ProcessAdoption(models.Model):
    """A factory follows one version of a process."""

    factory = models.ForeignKey(Factory, on_delete=models.CASCADE, related_name="process_adoptions")
    process_version = models.ForeignKey(
        ProcessVersion, on_delete=models.CASCADE, related_name="adoptions"
    )
    adopted_on = models.DateField(default=timezone.localdate)

    class Meta:
        ordering = ["factory__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["factory", "process_version"], name="one_adoption_per_process_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.factory} follows {self.process_version}"


class Adoption(models.Model):
    """A factory uses a tool: the name it declared, the resolved tool (null while unresolved)."""

    factory = models.ForeignKey(Factory, on_delete=models.CASCADE, related_name="adoptions")
    tool = models.ForeignKey(
        Tool, null=True, blank=True, on_delete=models.PROTECT, related_name="adoptions"
    )
    declared_name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200, db_index=True, editable=False)
    declared_vendor = models.CharField(max_length=200, blank=True)
    declared_capability = models.CharField(max_length=120, blank=True)
    seats = models.PositiveIntegerField(null=True, blank=True)
    annual_cost = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    source = models.CharField(
        max_length=20, choices=AdoptionSource.choices, default=AdoptionSource.DECLARED
    )
    status = models.CharField(
        max_length=10, choices=AdoptionStatus.choices, default=AdoptionStatus.ACTIVE
    )
    resolution_confidence = models.FloatField(
        null=True, blank=True, help_text="0–1; 1 = exact name or alias; null = unresolved."
    )
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["factory__name", "declared_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["factory", "normalized_name"], name="one_adoption_per_declared_name"
            )
        ]
        indexes = [
            # A scoped detection counts the portfolio's use of a capability per tool and
            # declared capability from this index alone (PostgreSQL: covering, partial).
            models.Index(
                fields=["tool", "declared_capability", "factory"],
                include=["annual_cost", "seats"],
                condition=models.Q(status="active"),
                name="active_adoption_use",
            )
        ]

    def __str__(self) -> str:
        return f"{self.factory}: {self.declared_name}"

    def save(self, *args, **kwargs):
        from registry.resolution import normalize

        self.normalized_name = normalize(self.declared_name)
        super().save(*args, **kwargs)

    @property
    def effective_annual_cost(self) -> Decimal:
        """The declared annual cost, else seats × the tool's cost per seat, else 0."""
        if self.annual_cost is not None:
            return self.annual_cost
        if self.seats and self.tool_id and self.tool.annual_cost_per_seat is not None:
            return self.tool.annual_cost_per_seat * self.seats
        return Decimal("0")


class DuplicateFinding(models.Model):
    """A place where the portfolio pays twice for one capability (see ``registry.duplicates``)."""

    key = models.CharField(max_length=300, unique=True, help_text="Stable across re-runs.")
    kind = models.CharField(max_length=20, choices=FindingKind.choices)
    capability = models.ForeignKey(
        Capability, null=True, blank=True, on_delete=models.CASCADE, related_name="findings"
    )
    scope = models.ForeignKey(
        Factory,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scoped_findings",
        help_text="The factory of an overlap; empty for the whole portfolio.",
    )
    tools = models.ManyToManyField(Tool, related_name="findings")
    factories = models.ManyToManyField(Factory, related_name="findings", blank=True)
    annual_cost_at_stake = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # What lists show without reading every factory link: how many factories, and the
    # slugs of the first FACTORY_PREVIEW of them (by id), written with the links.
    factory_count = models.PositiveIntegerField(default=0)
    factory_preview = models.JSONField(default=list, blank=True)
    suggested_standard = models.ForeignKey(
        Tool, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    detail = models.JSONField(default=dict, blank=True)
    waiver_reason = models.TextField(blank=True)
    waiver_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    waiver_expires_on = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    first_detected = models.DateTimeField(default=timezone.now)
    last_detected = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Savings: the money at stake and the covered adoptions' costs when first detected.
    cost_at_detection = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, help_text="Annual cost at stake when detected."
    )
    baseline = models.JSONField(
        default=dict,
        blank=True,
        help_text="{adoption id: [factory id, annual cost]} at stake when detected.",
    )
    # Consolidation plan (overlap and fragmentation findings).
    plan_standard = models.ForeignKey(
        Tool, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    plan_factories = models.ManyToManyField(Factory, related_name="+", blank=True)
    plan_due_on = models.DateField(null=True, blank=True)
    plan_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-annual_cost_at_stake", "key"]
        # The lists' order: a page of the largest savings is read from the index.
        indexes = [
            models.Index(fields=["-annual_cost_at_stake", "key"], name="finding_savings_order")
        ]

    def __str__(self) -> str:
        return self.key


# How many factory slugs a finding keeps for lists (the detail has them all).
FACTORY_PREVIEW = 10


class FindingStake(models.Model):
    """One adoption a finding covers: at stake now (``at_stake``: its cost counts in the
    money at stake) and/or in the baseline taken when the finding was first detected
    (``baseline_cost``: realised savings are measured against it). Written by detection
    beside ``detail`` and ``baseline`` so pages add money up in the database. The
    adoption link has no constraint: a deleted adoption's baseline still counts (its
    cost now is 0)."""

    # Looked up through the unique (finding, adoption) index: no index of its own to keep.
    finding = models.ForeignKey(
        DuplicateFinding, on_delete=models.CASCADE, related_name="stakes", db_index=False
    )
    adoption = models.ForeignKey(
        Adoption,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    factory = models.ForeignKey(
        Factory, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    at_stake = models.BooleanField(default=False)
    baseline_cost = models.DecimalField(max_digits=14, decimal_places=2, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["finding", "adoption"], name="one_stake_per_adoption")
        ]

    def __str__(self) -> str:
        return f"{self.finding_id}: adoption {self.adoption_id}"


class DetectionRun(models.Model):
    """One duplicate detection, queued on the ``cpu`` queue: a job to poll."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    factories = models.JSONField(
        null=True, blank=True, help_text="Factory ids of an incremental run; null: all."
    )
    capabilities = models.JSONField(
        null=True, blank=True, help_text="Capability ids of an incremental run; null: all."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"detection {self.pk} ({self.status})"
