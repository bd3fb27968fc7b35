"""Writes of the assessments app: model versions, audits, answers, evidence, finalisation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from assessments import signals
from assessments.choices import TRANSITIONS, AssessmentStatus, SuggestionDecision
from assessments.definitions import (
    MODELS_DIR,
    content_hash,
    definition_files,
    read_definition,
)
from assessments.events import emit_finalized
from assessments.models import (
    Assessment,
    MaturityModel,
    ReviewComment,
    SignalReading,
)
from assessments.scoring import RatingInput, ScoreResult, score
from coe import policy
from coe.changelog import log_bulk
from coe.models import Factory

DEFAULT_MODEL_KEY = "digital-factory"
EVIDENCE_MAX_BYTES = settings.ASSESSMENT_EVIDENCE_MAX_BYTES
EVIDENCE_EXTENSIONS = {
    ".pdf",
    ".png",
    ".jpg",
    ".jpeg",
    ".csv",
    ".xlsx",
    ".txt",
    ".md",
    ".docx",
    ".pptx",
    ".json",
}


class AssessmentLocked(Exception):
    """The assessment's status does not allow this change (e.g. it is final)."""


class RowsInvalid(Exception):
    """A batch of answers with errors: ``rows`` holds one error dict per row ({} = fine)."""

    def __init__(self, rows: list[dict]):
        super().__init__(f"{sum(1 for r in rows if r)} of {len(rows)} rows are invalid")
        self.rows = rows


# --- maturity models ---------------------------------------------------------------------


@transaction.atomic
def maturity_model_store(
    *, definition: dict, source: str = "", using: str = "default"
) -> tuple[MaturityModel, bool]:
    """Store a validated definition: a new version when its content hash is new.

    Returns ``(model version, created)``. The new version becomes current; older
    versions stay, and the assessments pinned to them keep their results.
    """
    digest = content_hash(definition)
    versions = MaturityModel.objects.using(using).select_for_update().filter(key=definition["key"])
    current = versions.filter(is_current=True).first()
    if current is not None and current.content_hash == digest:
        return current, False
    latest = versions.order_by("-version").values_list("version", flat=True).first() or 0
    versions.filter(is_current=True).update(is_current=False)
    if current is not None:
        log_bulk(
            MaturityModel, [current], action="update", changes={"is_current": ["True", "False"]}
        )
    model = MaturityModel(
        key=definition["key"],
        name=definition["name"],
        version=latest + 1,
        gating=definition["gating"],
        evidence_freshness_days=definition["evidence_freshness_days"],
        definition=definition,
        content_hash=digest,
        source=source,
        is_current=True,
    )
    model.save(using=using)
    return model, True


def maturity_models_load(
    *, directory: Path = MODELS_DIR, using: str = "default"
) -> list[tuple[MaturityModel, bool]]:
    """Load every definition file of ``directory`` (all valid, or nothing stored)."""
    definitions = [(read_definition(path), path.name) for path in definition_files(directory)]
    with transaction.atomic(using=using):
        return [
            maturity_model_store(definition=d, source=name, using=using) for d, name in definitions
        ]


def current_model(key: str = DEFAULT_MODEL_KEY) -> MaturityModel:
    """The current version of a model (loaded from the files if the table is empty)."""
    model = MaturityModel.objects.filter(key=key, is_current=True).first()
    if model is None:
        maturity_models_load()
        model = MaturityModel.objects.get(key=key, is_current=True)
    return model


# --- assessments ---------------------------------------------------------------------------


@transaction.atomic
def assessment_create(
    *,
    factory: Factory,
    model: MaturityModel | None = None,
    assessor=None,
    assessed_on: dt.date | None = None,
    notes: str = "",
    corrects: Assessment | None = None,
    now: dt.datetime | None = None,
) -> Assessment:
    """Open a draft audit of a factory, pinned to a model version, with its signals read.

    A factory has at most one open (not final) audit at a time."""
    if corrects is not None:
        if corrects.factory_id != factory.pk:
            raise ValidationError({"corrects": "A correction must be of the same factory."})
        if not corrects.is_final:
            raise ValidationError({"corrects": "Only a final assessment can be corrected."})
    from assessments.selectors import OPEN_STATUSES

    already_open = Assessment.objects.filter(factory=factory, status__in=OPEN_STATUSES).first()
    if already_open is not None:
        raise ValidationError(
            {
                "factory": [
                    f"{factory.name} already has an open audit (#{already_open.pk}); "
                    "finalise or delete it first."
                ]
            }
        )
    assessment = Assessment.objects.create(
        factory=factory,
        model=model or current_model(),
        assessor=assessor,
        assessed_on=assessed_on,
        notes=notes,
        corrects=corrects,
        revision=corrects.revision + 1 if corrects is not None else 1,
    )
    assessment_refresh_signals(assessment=assessment, now=now)
    return assessment


def _require_open(assessment: Assessment, *, allow_review: bool = False) -> None:
    allowed = {AssessmentStatus.DRAFT, AssessmentStatus.IN_PROGRESS}
    if allow_review:
        allowed.add(AssessmentStatus.IN_REVIEW)
    if assessment.status not in allowed:
        raise AssessmentLocked(
            "A final assessment is locked; open a new assessment to correct it."
            if assessment.is_final
            else f"The assessment is {assessment.get_status_display().lower()}; "
            "send it back to in progress to change answers."
        )


@transaction.atomic
def assessment_transition(*, assessment: Assessment, to: str, user=None) -> Assessment:
    """Move an assessment along draft → in progress → in review (→ back, or → final)."""
    if to == AssessmentStatus.FINAL:
        assessment_finalize(assessment=assessment, user=user)
        return assessment
    original, assessment = assessment, Assessment.objects.select_for_update().get(pk=assessment.pk)
    if to not in TRANSITIONS[assessment.status]:
        raise AssessmentLocked(
            f"An assessment cannot go from {assessment.get_status_display().lower()} to "
            f"{AssessmentStatus(to).label.lower()}."
        )
    assessment.status = to
    assessment.save(update_fields=["status", "updated_at"])
    original.status = to
    return assessment


def measurement_moment(assessment: Assessment, now: dt.datetime | None = None) -> dt.datetime:
    """The moment an audit's signals measure: the end of its own date when that date is in
    the past (an audit of March reads the data as it stood in March), else now."""
    now = now or timezone.now()
    if assessment.assessed_on is not None and assessment.assessed_on < timezone.localdate(now):
        end_of_day = dt.datetime.combine(assessment.assessed_on, dt.time(23, 59, 59))
        return timezone.make_aware(end_of_day, timezone.get_current_timezone())
    return now


@transaction.atomic
def assessment_refresh_signals(
    *, assessment: Assessment, now: dt.datetime | None = None
) -> list[SignalReading]:
    """Measure every signal the assessment's model names, for its factory, as of the audit's
    own date (``measurement_moment``); a final assessment keeps the readings it had."""
    if assessment.is_final:
        raise AssessmentLocked("A final assessment keeps the signals it was finalised with.")
    now = measurement_moment(assessment, now)
    readings = []
    for _dim, crit in assessment.model.criteria_for(assessment.factory.kind):
        if not crit.get("signal"):
            continue
        found = signals.measure(crit["signal"], assessment.factory, now)
        readings.append(
            SignalReading(
                assessment=assessment,
                criterion=crit["key"],
                signal=found.signal,
                measured=found.measured,
                value=found.value,
                suggested_rating=found.suggested_rating,
                source=found.source[:200],
                detail=found.detail[:300],
                measured_at=found.measured_at,
                as_of=now,
                inputs=found.inputs,
            )
        )
    replaced = list(SignalReading.objects.filter(assessment=assessment))
    SignalReading.objects.filter(assessment=assessment).delete()
    log_bulk(SignalReading, replaced, action="delete")
    created = SignalReading.objects.bulk_create(readings)
    log_bulk(SignalReading, created)
    return created


# --- scoring and finalisation --------------------------------------------------------------


def _fresh(day: dt.date | None, as_of: dt.date, limit_days: int) -> bool:
    return day is not None and (as_of - day).days <= limit_days


def assessment_inputs(assessment: Assessment, as_of: dt.date) -> dict[str, RatingInput]:
    """The scoring engine's inputs: each answer's rating and whether fresh evidence backs it."""
    limit = assessment.model.evidence_freshness_days
    readings = {r.criterion: r for r in assessment.signal_readings.all()}
    inputs = {}
    for answer in assessment.answers.annotate(file_count=Count("files")).order_by():
        documented = bool(answer.evidence.strip() or answer.links or answer.file_count)
        backed = documented and _fresh(answer.evidence_date, as_of, limit)
        reading = readings.get(answer.criterion)
        if not backed and answer.suggestion == SuggestionDecision.ACCEPTED and reading:
            measured_on = reading.measured_at.date() if reading.measured_at else None
            backed = _fresh(measured_on, as_of, limit)
        inputs[answer.criterion] = RatingInput(rating=answer.rating, evidenced=backed)
    return inputs


def assessment_score(assessment: Assessment, as_of: dt.date | None = None) -> ScoreResult:
    """Score the assessment's current answers (a preview before finalisation)."""
    as_of = as_of or assessment.assessed_on or timezone.localdate()
    return score(
        assessment.model.spec(), assessment.factory.kind, assessment_inputs(assessment, as_of)
    )


def result_document(assessment: Assessment, result: ScoreResult, assessed_on: dt.date) -> dict:
    """The stored result: the scorecard shape of CONTRACT.md plus the explanation."""
    data = result.to_dict()
    return {
        "factory": assessment.factory.slug,
        "model": assessment.model.key,
        "model_name": assessment.model.name,
        "model_version": assessment.model.version,
        "assessment": assessment.pk,
        "assessed_at": assessed_on.isoformat(),
        "overall": {
            "index": result.index,
            "stage": result.stage,
            "stage_name": result.stage_name,
            "capped_by": result.capped_by,
            "uncapped_stage": result.uncapped_stage,
            "gating": result.gating,
        },
        "dimensions": [
            {
                k: d[k]
                for k in (
                    "key",
                    "name",
                    "score",
                    "stage",
                    "stage_name",
                    "confidence",
                    "rated",
                    "evidenced",
                    "weight",
                )
            }
            for d in data["dimensions"]
        ],
        "confidence": result.confidence,
        "roadmap": data["roadmap"],
        "explanation": result.explanation,
    }


def four_eyes_problem(assessment: Assessment, user) -> str | None:
    """Why ``user`` may not finalise the audit under the four-eyes rule, or None.

    With ``AUDIT_FOUR_EYES`` on (the default) the finaliser is a CoE staff member who
    answered none of its criteria; off, any CoE staff member (or a system call) may."""
    if user is not None and not policy.allowed(user, "assessments.finalize_assessment", assessment):
        return "Only CoE staff finalise audits."
    if not settings.AUDIT_FOUR_EYES:
        return None
    if user is None:
        return "Four-eyes review: a CoE staff member other than the auditor must finalise."
    answerers = set(
        assessment.answers.exclude(answered_by=None).values_list("answered_by", flat=True)
    )
    if user.pk in answerers:
        return (
            "Four-eyes review: you answered criteria of this audit; another CoE staff "
            "member must review and finalise it."
        )
    return None


def evidence_coverage(inputs: dict[str, RatingInput]) -> dict:
    """``{rated, evidenced, share}`` over the rated (not N/A) criteria."""
    rated = [i for i in inputs.values() if i.rating is not None]
    evidenced = sum(1 for i in rated if i.evidenced)
    return {
        "rated": len(rated),
        "evidenced": evidenced,
        "share": round(evidenced / len(rated), 3) if rated else None,
    }


def evidence_warnings(coverage: dict) -> list[str]:
    """The warning shown (and stored) when fewer than half the rated criteria are evidenced."""
    if coverage["share"] is None or coverage["share"] >= 0.5:
        return []
    return [
        f"Only {coverage['evidenced']} of {coverage['rated']} rated criteria carry evidence "
        f"({coverage['share']:.0%}); the result rests mostly on unbacked ratings."
    ]


@transaction.atomic
def review_comment_add(
    *, assessment: Assessment, body: str, criterion: str = "", user=None
) -> ReviewComment:
    """A reviewer's comment on one criterion (or, with ``criterion`` "", the whole audit).
    CoE staff comment while the audit is open; a final audit takes no more comments."""
    if user is not None and not policy.allowed(user, "assessments.change_assessment", assessment):
        raise ValidationError({"author": ["Only CoE staff review audits."]})
    if assessment.is_final:
        raise AssessmentLocked("A final assessment is locked; comment on a correction instead.")
    errors = {}
    body = (body or "").strip()
    if not body:
        errors["body"] = ["A comment cannot be empty."]
    if criterion and criterion not in {
        c["key"] for _d, c in assessment.model.criteria_for(assessment.factory.kind)
    }:
        errors["criterion"] = [f"{criterion!r} is not a criterion of this audit."]
    if errors:
        raise ValidationError(errors)
    return ReviewComment.objects.create(
        assessment=assessment, criterion=criterion or "", body=body, author=user
    )


@transaction.atomic
def assessment_finalize(
    *, assessment: Assessment, user=None, now: dt.datetime | None = None
) -> dict:
    """Score, store the result and lock the assessment. Every applicable criterion must be
    answered (N/A counts as an answer) and at least one rated, and the finaliser must pass
    the four-eyes rule (``four_eyes_problem``). The result carries the evidence coverage
    and a warning when fewer than half the rated criteria are evidenced."""
    original = assessment
    assessment = (
        Assessment.objects.select_for_update()
        .select_related("model", "factory")
        .get(pk=assessment.pk)
    )
    if assessment.status not in (AssessmentStatus.IN_PROGRESS, AssessmentStatus.IN_REVIEW):
        raise AssessmentLocked(
            "This assessment is already final."
            if assessment.is_final
            else "Answer at least one criterion before finalising."
        )
    problem = four_eyes_problem(assessment, user)
    if problem:
        raise ValidationError({"reviewer": [problem]})
    applicable = [c["key"] for _d, c in assessment.model.criteria_for(assessment.factory.kind)]
    answered = set(assessment.answers.values_list("criterion", flat=True))
    missing = [k for k in applicable if k not in answered]
    if missing:
        raise ValidationError(
            {
                "answers": [
                    f"{len(missing)} of {len(applicable)} criteria are unanswered: "
                    + ", ".join(missing[:10])
                    + ("…" if len(missing) > 10 else "")
                ]
            }
        )
    now = now or timezone.now()
    assessed_on = assessment.assessed_on or timezone.localdate(now)
    inputs = assessment_inputs(assessment, assessed_on)
    result = score(assessment.model.spec(), assessment.factory.kind, inputs)
    if result.stage is None:
        raise ValidationError({"answers": ["At least one criterion must be rated (not all N/A)."]})
    document = result_document(assessment, result, assessed_on)
    coverage = evidence_coverage(inputs)
    document["evidence"] = coverage
    document["warnings"] = evidence_warnings(coverage)
    document["revision"] = assessment.revision
    document["corrects"] = assessment.corrects_id
    assessment.result = document
    assessment.index = Decimal(str(result.index))
    assessment.stage = result.stage
    assessment.assessed_on = assessed_on
    assessment.status = AssessmentStatus.FINAL
    assessment.finalized_at = now
    assessment.finalized_by = user
    assessment.save()
    # The factory's stored maturity (portfolio pages aggregate it) follows in the same
    # transaction: no page ever sees the audit final and the old stage.
    from assessments.maturity import refresh as maturity_refresh

    maturity_refresh([assessment.factory_id])
    emit_finalized(assessment)
    if original is not assessment:
        original.refresh_from_db()
    return assessment.result


def open_assessments_refresh_signals(
    *, factory_ids: list[int] | None = None, now: dt.datetime | None = None
) -> int:
    """Re-measure the signals of every open (not final) assessment; returns how many."""
    from assessments.selectors import OPEN_STATUSES

    open_audits = Assessment.objects.filter(status__in=OPEN_STATUSES).select_related(
        "factory", "model"
    )
    if factory_ids is not None:
        open_audits = open_audits.filter(factory_id__in=factory_ids)
    count = 0
    for assessment in open_audits.order_by("id"):
        assessment_refresh_signals(assessment=assessment, now=now)
        count += 1
    return count
