"""Per-factory rollups: the figures pages show, kept current by a task when facts land.

- :class:`FactoryMonth`: one row per factory and calendar month (UTC) with whole-factory
  OEE and its summed counters, the four DORA keys of the production environment, and the
  month's finance amounts by currency (converted only when read, so a changed rate needs
  no rebuild of the months).
- :class:`FactoryFigures`: one row per factory with its figures as of now: ROI in the
  factory's currency (or why it cannot be computed), the finance totals by currency (for
  the portfolio's pooled ROI), the annual spend of its active adoptions, and its live
  duplicate findings with the money at stake.

Both are derived data: ``kpis.rollups`` writes them (through ``coe.bulk``) from the facts,
``manage.py kpis_rollup`` rebuilds them, nothing else edits them.
"""

from __future__ import annotations

from django.db import models

from coe.models import Factory


class FactoryMonth(models.Model):
    """A factory's KPIs of one calendar month (``month`` is the first day, UTC)."""

    factory = models.ForeignKey(
        Factory, on_delete=models.CASCADE, related_name="kpi_months", db_index=False
    )
    month = models.DateField()
    # OEE of the whole factory: the summed counters of every line, then the ratios.
    planned_time_s = models.FloatField(default=0)
    run_time_s = models.FloatField(default=0)
    total_count = models.BigIntegerField(default=0)
    good_count = models.BigIntegerField(default=0)
    availability = models.FloatField(null=True)
    performance = models.FloatField(null=True)
    quality = models.FloatField(null=True)
    oee = models.FloatField(null=True)
    lines = models.JSONField(default=list, help_text="Lines with counters in the month.")
    # DORA of the production environment (failures: failed deployments and incidents).
    deployments = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    deployment_frequency_per_day = models.FloatField(null=True)
    lead_time_hours_median = models.FloatField(null=True)
    change_failure_rate = models.FloatField(null=True)
    time_to_restore_hours_median = models.FloatField(null=True)
    band = models.CharField(max_length=10, null=True)
    # The month's finance entries summed by currency and kind:
    # {"EUR": {"investment": "1200.00", "benefit": "300.00"}}.
    finance = models.JSONField(default=dict)
    refreshed_at = models.DateTimeField()

    class Meta:
        ordering = ["factory_id", "month"]
        constraints = [
            models.UniqueConstraint(
                fields=["factory", "month"], name="one_rollup_per_factory_month"
            )
        ]
        indexes = [models.Index(fields=["month", "factory"], name="rollup_month_factory")]

    def __str__(self) -> str:
        return f"{self.factory_id} {self.month:%Y-%m}"


class FactoryFigures(models.Model):
    """A factory's figures as of its last refresh (ROI, spend, findings)."""

    factory = models.OneToOneField(Factory, on_delete=models.CASCADE, related_name="kpi_figures")
    currency = models.CharField(max_length=3)
    # ROI in the factory's currency over all its finance entries (kpis.formulas.roi).
    invested = models.DecimalField(max_digits=30, decimal_places=10, default=0)
    benefits = models.DecimalField(max_digits=30, decimal_places=10, default=0)
    roi_pct = models.FloatField(null=True)
    payback_date = models.DateField(null=True)
    payback_months = models.IntegerField(null=True)
    roi_within_6_months = models.BooleanField(default=False)
    has_finance = models.BooleanField(default=False)
    roi_error = models.CharField(max_length=300, blank=True, help_text="Why no ROI (a rate).")
    # All finance entries summed by currency and kind (the portfolio converts these).
    finance_totals = models.JSONField(default=dict)
    annual_spend = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    active_adoptions = models.IntegerField(default=0)
    open_findings = models.IntegerField(default=0)
    at_stake = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    refreshed_at = models.DateTimeField()

    class Meta:
        ordering = ["factory_id"]
        verbose_name_plural = "factory figures"

    def __str__(self) -> str:
        return f"figures of {self.factory_id}"
