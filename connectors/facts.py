"""Landed productivity and value facts: OT counters, finance entries, deployments, work items.

Each fact has a natural key so that landing the same data twice writes nothing new:

- ``OTCounter``: (factory, line, period_start) — one row per line and shift;
- ``FinanceEntry``: (factory, date, kind, category, description) — a corrected amount
  or currency updates the entry;
- ``Deployment``: (connector, source_id) for synced ones, (factory, environment,
  source_id) for pushed/demo ones (``connector`` null);
- ``WorkItem``: (factory, source, key);
- ``CurrencyRate``: (from_currency, to_currency) — the explicit conversion of finance
  entries into the factory's currency (kept by CoE staff in the admin).

The KPI selectors (``kpis.selectors``) read these per factory and range.
"""

from __future__ import annotations

from decimal import Decimal

from auditlog.registry import auditlog
from django.core.validators import MinValueValidator
from django.db import models

from coe.models import Factory


class FinanceKind(models.TextChoices):
    INVESTMENT = "investment", "Investment"
    BENEFIT = "benefit", "Benefit"


class DeploymentStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    RUNNING = "running", "Running"
    CANCELED = "canceled", "Canceled"
    CREATED = "created", "Created"
    BLOCKED = "blocked", "Blocked"


class WorkItemKind(models.TextChoices):
    ISSUE = "issue", "Issue"
    INCIDENT = "incident", "Incident"


class OTCounter(models.Model):
    """Production counters of one line over one shift (or any period): the inputs of OEE."""

    factory = models.ForeignKey(
        Factory, on_delete=models.CASCADE, related_name="ot_counters", db_index=False
    )
    line = models.CharField(max_length=120)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    planned_time_s = models.FloatField(validators=[MinValueValidator(0)])
    run_time_s = models.FloatField(validators=[MinValueValidator(0)])
    ideal_cycle_time_s = models.FloatField(validators=[MinValueValidator(0)])
    total_count = models.PositiveIntegerField()
    good_count = models.PositiveIntegerField()
    source = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["factory_id", "-period_start", "line"]
        constraints = [
            models.UniqueConstraint(
                fields=["factory", "period_start", "line"], name="ot_counter_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.line} @ {self.period_start:%Y-%m-%d %H:%M}"


class FinanceEntry(models.Model):
    """An investment in, or a benefit of, a factory's digitalisation, on one date."""

    factory = models.ForeignKey(
        Factory, on_delete=models.CASCADE, related_name="finance_entries", db_index=False
    )
    date = models.DateField()
    kind = models.CharField(max_length=10, choices=FinanceKind.choices)
    category = models.CharField(max_length=120, blank=True)
    amount = models.DecimalField(
        max_digits=16, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["factory_id", "date", "id"]
        verbose_name_plural = "finance entries"
        constraints = [
            models.UniqueConstraint(
                fields=["factory", "date", "kind", "category", "description"],
                name="finance_entry_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} on {self.date}"


class CurrencyRate(models.Model):
    """How many ``to_currency`` one ``from_currency`` is worth, for ROI conversions.

    ROI is reported in the factory's currency; an entry in another currency is converted
    with this rate, and an entry without a rate makes the ROI an explicit error.
    """

    from_currency = models.CharField(max_length=3)
    to_currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["from_currency", "to_currency"]
        constraints = [
            models.UniqueConstraint(fields=["from_currency", "to_currency"], name="one_rate_pair")
        ]

    def __str__(self) -> str:
        return f"1 {self.from_currency} = {self.rate} {self.to_currency}"


class Deployment(models.Model):
    """A deployment of a software factory to an environment (GitLab, GitHub, push)."""

    factory = models.ForeignKey(
        Factory, on_delete=models.CASCADE, related_name="deployments", db_index=False
    )
    connector = models.ForeignKey(
        "connectors.Connector",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deployments",
        db_index=False,
    )
    source_id = models.CharField(max_length=120)
    environment = models.CharField(max_length=120)
    status = models.CharField(max_length=12, choices=DeploymentStatus.choices)
    finished_at = models.DateTimeField()
    commit_sha = models.CharField(max_length=64, blank=True)
    commit_created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["factory_id", "-finished_at"]
        indexes = [
            models.Index(fields=["factory", "finished_at"], name="deployment_factory_finished")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["factory", "environment", "source_id"], name="deployment_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment} #{self.source_id} {self.status}"


class WorkItem(models.Model):
    """An issue (Jira, GitLab) with its creation and resolution: throughput and cycle time.

    ``kind`` incident marks issues labelled as incidents (a DORA failure signal).
    """

    factory = models.ForeignKey(
        Factory, on_delete=models.CASCADE, related_name="work_items", db_index=False
    )
    connector = models.ForeignKey(
        "connectors.Connector",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="work_items",
        db_index=False,
    )
    source = models.CharField(max_length=40)
    key = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=WorkItemKind.choices, default="issue")
    team = models.CharField(max_length=120, blank=True)
    issue_type = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=60, blank=True)
    created = models.DateTimeField()
    resolved = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["factory_id", "-created"]
        indexes = [models.Index(fields=["factory", "resolved"], name="work_item_factory_resolved")]
        constraints = [
            models.UniqueConstraint(fields=["factory", "source", "key"], name="work_item_key")
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def cycle_time_hours(self) -> float | None:
        """Hours from creation to resolution (None while open)."""
        if self.resolved is None:
            return None
        return (self.resolved - self.created).total_seconds() / 3600


# Money facts and rates are audited; the high-volume counters, deployments and work items
# are re-landed from their sources and keep no per-row history (as devices keep theirs).
auditlog.register(FinanceEntry)
auditlog.register(CurrencyRate)
