"""Reads of the assessments app: latest results, audit schedule, workspace rows, portfolio."""

from __future__ import annotations

import calendar
import datetime as dt
import statistics
from collections import defaultdict

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from assessments.choices import STAGE_NAMES, AssessmentStatus
from assessments.models import Answer, Assessment, EvidenceFile, MaturityModel
from coe.models import Factory
from coe.scoping import restrict, visible_factories

OPEN_STATUSES = [AssessmentStatus.DRAFT, AssessmentStatus.IN_PROGRESS, AssessmentStatus.IN_REVIEW]


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months (the 31st becomes the month's last day)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def assessments_for(user) -> QuerySet[Assessment]:
    """The assessments the user may see (those of their factories; all for CoE staff)."""
    # The answers counted per row shown (a correlated subquery the database evaluates
    # after ORDER BY … LIMIT), not by grouping every audit of the portfolio with its answers.
    answered = (
        Answer.objects.filter(assessment=OuterRef("pk"))
        .order_by()
        .values("assessment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return restrict(
        Assessment.objects.select_related("factory", "model", "assessor")
        .annotate(answered=Coalesce(Subquery(answered), 0))
        .order_by("-created_at", "-id"),
        user,
    )


def _latest_final_ids():
    return Subquery(
        Assessment.objects.filter(factory=OuterRef("pk"), status=AssessmentStatus.FINAL)
        .order_by("-assessed_on", "-finalized_at", "-id")
        .values("id")[:1]
    )


def latest_final(factory: Factory) -> Assessment | None:
    """The factory's most recent final assessment."""
    return (
        Assessment.objects.filter(factory=factory, status=AssessmentStatus.FINAL)
        .select_related("model")
        .order_by("-assessed_on", "-finalized_at", "-id")
        .first()
    )


def final_history(factory: Factory) -> list[Assessment]:
    """The factory's final assessments, oldest first (for the stage history)."""
    return list(
        Assessment.objects.filter(factory=factory, status=AssessmentStatus.FINAL)
        .select_related("model")
        .order_by("assessed_on", "finalized_at", "id")
    )


def audit_due_for(
    factory: Factory, latest: Assessment | None, today: dt.date | None = None
) -> dict:
    """When the next audit is due: the latest final audit plus the factory's cadence."""
    today = today or timezone.localdate()
    if latest is None or latest.assessed_on is None:
        return {"next_due": None, "overdue": True, "never": True, "days_overdue": None}
    due = add_months(latest.assessed_on, factory.audit_cadence_months)
    return {
        "next_due": due,
        "overdue": due < today,
        "never": False,
        "days_overdue": (today - due).days if due < today else 0,
    }


def latest_finals_by_factory(factories: QuerySet[Factory]) -> dict[int, Assessment]:
    """``{factory id: latest final assessment}`` in two queries, whatever the count."""
    ids = [
        i
        for i in factories.annotate(latest_id=_latest_final_ids()).values_list(
            "latest_id", flat=True
        )
        if i
    ]
    return {a.factory_id: a for a in Assessment.objects.filter(pk__in=ids).select_related("model")}


def audit_schedule(user, today: dt.date | None = None) -> list[dict]:
    """Every visible factory with its last final audit, next due date and open audit,
    overdue (or never audited) first."""
    today = today or timezone.localdate()
    factories = list(visible_factories(user).order_by("name"))
    latest = latest_finals_by_factory(visible_factories(user))
    open_audits = {
        a.factory_id: a
        for a in restrict(Assessment.objects.filter(status__in=OPEN_STATUSES), user).order_by(
            "created_at"
        )
    }
    rows = []
    for factory in factories:
        last = latest.get(factory.pk)
        rows.append(
            {
                "factory": factory,
                "latest": last,
                "open": open_audits.get(factory.pk),
                **audit_due_for(factory, last, today),
            }
        )
    rows.sort(key=lambda r: (not r["overdue"], r["next_due"] or dt.date.min, r["factory"].name))
    return rows


def models_by_id(ids) -> dict[int, MaturityModel]:
    """The maturity model versions of ``ids``, each definition read once (one query)."""
    return {m.pk: m for m in MaturityModel.objects.filter(pk__in=list(ids))}


def progress(assessment: Assessment, answered: int | None = None) -> dict:
    """Answered / total applicable criteria, and the percentage."""
    total = len(assessment.model.criteria_for(assessment.factory.kind))
    if answered is None:
        applicable = {c["key"] for _d, c in assessment.model.criteria_for(assessment.factory.kind)}
        answered = assessment.answers.filter(criterion__in=applicable).count()
    return {
        "answered": answered,
        "total": total,
        "percent": round(100 * answered / total) if total else 0,
    }


def workspace(assessment: Assessment) -> list[dict]:
    """The audit workspace: each applicable dimension with its criteria, descriptors, the
    stored answer, its files and the signal reading (three queries)."""
    answers = {
        a.criterion: a
        for a in assessment.answers.prefetch_related(
            Prefetch("files", queryset=EvidenceFile.objects.order_by("id"))
        )
    }
    readings = {r.criterion: r for r in assessment.signal_readings.all()}
    dimensions = []
    for dim in assessment.model.definition["dimensions"]:
        if dim["applies_to"] not in ("both", assessment.factory.kind):
            continue
        criteria = []
        for crit in dim["criteria"]:
            criteria.append(
                {
                    **crit,
                    "descriptor_list": [
                        (int(s), STAGE_NAMES[int(s)], text)
                        for s, text in crit["descriptors"].items()
                    ],
                    "answer": answers.get(crit["key"]),
                    "reading": readings.get(crit["key"]),
                }
            )
        dimensions.append({**dim, "criteria": criteria})
    return dimensions


def answers_of(assessment: Assessment) -> QuerySet[Answer]:
    return assessment.answers.prefetch_related("files").order_by("id")


def portfolio_scores_for(factories: list[Factory]) -> list[dict]:
    """The latest final result of each factory: ``[{factory, assessment, result}]``."""
    latest = latest_finals_by_factory(Factory.objects.filter(pk__in=[f.pk for f in factories]))
    return [
        {"factory": f, "assessment": latest[f.pk], "result": latest[f.pk].result}
        for f in factories
        if f.pk in latest and latest[f.pk].result
    ]


def dimension_medians(scores: list[dict], model_key: str) -> dict[str, float]:
    """Median score per dimension over the given results of one model."""
    values: dict[str, list[float]] = defaultdict(list)
    for row in scores:
        if row["result"].get("model") != model_key:
            continue
        for dim in row["result"]["dimensions"]:
            if dim["score"] is not None:
                values[dim["key"]].append(dim["score"])
    return {k: round(statistics.median(v), 2) for k, v in values.items()}


def portfolio_median_dimensions(model_key: str) -> dict[str, float]:
    """Median score per dimension over every factory's latest final result (whole portfolio)."""
    factories = Factory.objects.all()
    latest = latest_finals_by_factory(factories)
    rows = [{"result": a.result} for a in latest.values() if a.result]
    return dimension_medians(rows, model_key)


def _order_key(a: Assessment) -> tuple:
    return (a.assessed_on or dt.date.min, a.finalized_at or timezone.now(), a.pk)


def previous_finals(assessments: list[Assessment]) -> dict[int, Assessment]:
    """``{assessment id: the factory's final audit before it}`` (one query for all). A final
    audit superseded by a final correction is skipped: its correction speaks for it."""
    factory_ids = {a.factory_id for a in assessments}
    finals = list(
        Assessment.objects.filter(factory_id__in=factory_ids, status=AssessmentStatus.FINAL)
        .select_related("model")
        .order_by("assessed_on", "finalized_at", "id")
    )
    superseded = {a.corrects_id for a in finals if a.corrects_id}
    by_factory: dict[int, list[Assessment]] = defaultdict(list)
    for final in finals:
        by_factory[final.factory_id].append(final)
    out = {}
    for assessment in assessments:
        key = _order_key(assessment)
        earlier = [
            f
            for f in by_factory[assessment.factory_id]
            if f.pk != assessment.pk
            and f.pk not in superseded
            and f.pk != assessment.corrects_id
            and _order_key(f) < key
        ]
        if earlier:
            out[assessment.pk] = earlier[-1]
    return out


def scorecard_trend(assessment: Assessment) -> dict:
    """The previous final audit's stage and index and the change to this one:
    ``{previous: {assessment, assessed_at, model_version, index, stage, stage_name} | None,
    change: {index, stage} | None}``."""
    previous = previous_finals([assessment]).get(assessment.pk)
    if previous is None or previous.index is None:
        return {"previous": None, "change": None}
    index = assessment.index if assessment.index is not None else None
    if index is None and assessment.result:
        index = assessment.result["overall"]["index"]
    stage = assessment.stage or (assessment.result or {}).get("overall", {}).get("stage")
    return {
        "previous": {
            "assessment": previous.pk,
            "assessed_at": previous.assessed_on.isoformat() if previous.assessed_on else None,
            "model_version": previous.model.version,
            "index": float(previous.index),
            "stage": previous.stage,
            "stage_name": STAGE_NAMES.get(previous.stage),
        },
        "change": {
            "index": round(float(index) - float(previous.index), 2) if index is not None else None,
            "stage": (stage - previous.stage) if stage and previous.stage else 0,
        },
    }
