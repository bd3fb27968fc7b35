"""Portfolio maturity figures in SQL over the stored per-factory rows
(:mod:`assessments.maturity`): stage distribution, mean dimension scores by business unit,
the first factories of the per-factory heatmap and the audits due. A fixed number of
queries and rows read whatever the number of factories."""

from __future__ import annotations

import datetime as dt

from django.db.models import Avg, Count, F, Min, Q, QuerySet

from assessments import charts
from assessments.choices import STAGE_NAMES
from assessments.models import Assessment, FactoryDimensionScore, FactoryMaturity
from assessments.selectors import OPEN_STATUSES
from coe import generations
from coe.generations import query_key
from coe.models import Factory
from coe.scoping import restrict

# The per-factory heatmap stays readable; the business-unit heatmap covers everyone.
HEATMAP_MAX_FACTORIES = 60


def stage_counts(factories: QuerySet[Factory]) -> dict[int, int]:
    """``{stage: factories}`` of the factories' latest final audits."""
    rows = (
        FactoryMaturity.objects.filter(factory__in=factories.values("pk"))
        .values_list("stage")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def unit_scores(factories: QuerySet[Factory]) -> dict:
    """Mean dimension score per business unit: ``{columns: {key: name}, units: [unit],
    values: [[mean or None per column] per unit]}``."""
    means: dict[str, dict[str, float]] = {}
    order: dict[str, tuple[int, str]] = {}  # key → (first position, name)
    for row in (
        FactoryDimensionScore.objects.filter(factory__in=factories.values("pk"))
        .values("factory__business_unit", "key")
        .annotate(mean=Avg("score"), name=Min("name"), position=Min("position"))
        .order_by()
    ):
        key = row["key"]
        order[key] = min(
            order.get(key, (row["position"], row["name"])), (row["position"], row["name"])
        )
        if row["mean"] is not None:
            means.setdefault(row["factory__business_unit"], {})[key] = row["mean"]
    columns = {k: order[k][1] for k in sorted(order, key=lambda k: (order[k][0], k))}
    units = sorted(means)
    values = [[round(means[u][k], 2) if k in means[u] else None for k in columns] for u in units]
    return {"columns": columns, "units": units, "values": values}


def unit_table(scores: dict) -> dict:
    """The heatmap's text alternative: one row per business unit."""
    return {
        "columns": list(scores["columns"].values()),
        "rows": [
            {"unit": unit, "cells": cells}
            for unit, cells in zip(scores["units"], scores["values"], strict=True)
        ],
    }


def factory_heatmap(factories: QuerySet[Factory], keys: list[str]) -> tuple[list, list]:
    """Rows and values of the first assessed factories (by business unit and name)."""
    first = list(
        FactoryMaturity.objects.filter(factory__in=factories.values("pk"))
        .select_related("factory")
        .order_by("factory__business_unit", "factory__name", "factory_id")[:HEATMAP_MAX_FACTORIES]
    )
    cells: dict[int, dict[str, float | None]] = {}
    for factory_id, key, score in FactoryDimensionScore.objects.filter(
        factory_id__in=[m.factory_id for m in first]
    ).values_list("factory_id", "key", "score"):
        cells.setdefault(factory_id, {})[key] = score
    rows = [f"{m.factory.business_unit} · {m.factory.name}" for m in first]
    values = [[cells.get(m.factory_id, {}).get(k) for k in keys] for m in first]
    return rows, values


def portfolio_charts(factories: QuerySet[Factory], *, per_factory: bool = True) -> dict:
    """Stage distribution and the dimension heatmaps (per unit, and per factory for the
    first :data:`HEATMAP_MAX_FACTORIES`), with the counts they are drawn from; memoised
    until a maturity row, a factory or a membership changes (:mod:`coe.generations`)."""
    return generations.memoised(
        "maturity",
        ("portfolio_charts", per_factory, *query_key(factories.values("pk"))),
        lambda: _portfolio_charts(factories, per_factory=per_factory),
    )


def _portfolio_charts(factories: QuerySet[Factory], *, per_factory: bool) -> dict:
    stages = stage_counts(factories)
    assessed = sum(stages.values())
    scores = unit_scores(factories)
    out = {
        "assessed_count": assessed,
        "stages": [
            {"stage": s, "name": STAGE_NAMES[s], "count": stages.get(s, 0)}
            for s in sorted(STAGE_NAMES)
        ],
        "unit_table": unit_table(scores),
    }
    if not assessed:
        return out
    names = list(scores["columns"].values())
    out["chart_stages"] = charts.stage_distribution(stages)
    out["chart_heatmap_units"] = charts.dimension_heatmap(
        scores["units"], names, scores["values"], div_id="chart-heatmap-units"
    )
    if per_factory:
        rows, values = factory_heatmap(factories, list(scores["columns"]))
        out["heatmap_truncated"] = assessed > HEATMAP_MAX_FACTORIES
        out["heatmap_max"] = HEATMAP_MAX_FACTORIES
        out["chart_heatmap"] = charts.dimension_heatmap(
            rows, names, values, div_id="chart-heatmap-factories"
        )
    return out


def audits_due(
    factories: QuerySet[Factory], today: dt.date, soon: dt.date | None = None
) -> QuerySet[Factory]:
    """Factories never audited or whose next audit is due by ``soon`` (default: overdue,
    due before ``today``): never audited first, then by due date, then by name."""
    due = Q(maturity__next_due__lte=soon) if soon else Q(maturity__next_due__lt=today)
    return (
        factories.filter(Q(maturity__isnull=True) | due)
        .select_related("maturity")
        .order_by(F("maturity__next_due").asc(nulls_first=True), "name", "pk")
    )


def audit_rows(user, factories: list[Factory], today: dt.date) -> list[dict]:
    """The audits-due rows of a page of factories (their maturity rows are joined)."""
    open_audits = {
        a.factory_id: a
        for a in restrict(
            Assessment.objects.filter(
                status__in=OPEN_STATUSES, factory_id__in=[f.pk for f in factories]
            ),
            user,
        ).order_by("-created_at")
    }
    rows = []
    for factory in factories:
        latest = getattr(factory, "maturity", None)  # None: never audited
        due = latest.next_due if latest else None
        rows.append(
            {
                "factory": factory,
                "latest": latest,
                "open": open_audits.get(factory.pk),
                "next_due": due,
                "never": latest is None or due is None,
                "overdue": due is None or due < today,
                "days_overdue": (today - due).days if due and due < today else None,
            }
        )
    return rows


def overdue_count(factories: QuerySet[Factory], today: dt.date) -> int:
    """Factories never audited or past their next audit's due date."""
    return factories.filter(Q(maturity__isnull=True) | Q(maturity__next_due__lt=today)).count()
