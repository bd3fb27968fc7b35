"""Writes of an audit's answers and evidence files (the auditor's workspace), apart from
the model versions, transitions, scoring and finalisation in :mod:`assessments.services`."""

from __future__ import annotations

import copy
import datetime as dt
import mimetypes
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from assessments.choices import AssessmentStatus, SuggestionDecision
from assessments.models import Answer, Assessment, EvidenceFile
from assessments.services import (
    EVIDENCE_EXTENSIONS,
    EVIDENCE_MAX_BYTES,
    RowsInvalid,
    _require_open,
)
from coe.changelog import log_bulk
from coe.validation import FIRST_YEAR, LAST_YEAR, in_range


def _links(value, errors: dict) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in value.split() if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors["links"] = ["A list of URLs."]
        return []
    check = URLValidator(schemes=["http", "https"])
    for link in value:
        try:
            check(link)
        except ValidationError:
            errors["links"] = [f"Not an http(s) URL: {link}"]
    return value


@transaction.atomic
def answers_save(
    *, assessment: Assessment, rows: list[dict], user=None, today: dt.date | None = None
) -> list[Answer]:
    """Save a batch of answers; all rows valid or none saved.

    A row: ``{criterion, rating (1–5 or None = N/A), evidence?, links?, evidence_date?,
    comment?}``; keys left out keep their stored value. A rating that differs from a
    measured signal's suggestion is an override and needs a comment. Errors are raised as
    ``RowsInvalid`` with one error dict per row (an empty dict for good rows).
    """
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    _require_open(assessment)
    today = today or timezone.localdate()
    applicable = {c["key"] for _d, c in assessment.model.criteria_for(assessment.factory.kind)}
    all_keys = assessment.model.criterion_keys()
    existing = {a.criterion: a for a in assessment.answers.all()}
    readings = {r.criterion: r for r in assessment.signal_readings.all()}
    row_errors: list[dict] = []
    prepared: list[tuple[Answer, bool]] = []
    before: dict[int, Answer] = {}
    seen: set[str] = set()
    for row in rows:
        errors: dict[str, list[str]] = {}
        if not isinstance(row, dict):
            row_errors.append({"non_field_errors": ["Each row is an object."]})
            continue
        key = row.get("criterion")
        if not isinstance(key, str) or not key:
            errors["criterion"] = ["This field is required."]
        elif key not in all_keys:
            errors["criterion"] = [f"Unknown criterion {key!r} in {assessment.model}."]
        elif key not in applicable:
            errors["criterion"] = [
                f"{key!r} does not apply to {assessment.factory.get_kind_display().lower()} "
                "factories."
            ]
        elif key in seen:
            errors["criterion"] = [f"{key!r} appears twice in this batch."]
        if "rating" not in row:
            errors["rating"] = ["This field is required (null means not applicable)."]
        rating = row.get("rating")
        if rating is not None and (
            isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5
        ):
            errors["rating"] = ["A rating is a whole number from 1 to 5, or null (N/A)."]
        links = _links(row.get("links"), errors) if "links" in row else None
        evidence_date = row.get("evidence_date")
        if isinstance(evidence_date, str) and evidence_date:
            try:
                evidence_date = dt.date.fromisoformat(evidence_date)
                in_range(evidence_date)
            except ValueError:
                errors["evidence_date"] = [
                    f"A date as YYYY-MM-DD in the years {FIRST_YEAR}–{LAST_YEAR}."
                ]
        elif evidence_date in ("", None):
            evidence_date = None
        elif not isinstance(evidence_date, dt.date):
            errors["evidence_date"] = ["A date as YYYY-MM-DD."]
        for text_field in ("evidence", "comment"):
            if text_field in row and not isinstance(row[text_field] or "", str):
                errors[text_field] = ["Text expected."]
        if errors:
            row_errors.append(errors)
            continue
        seen.add(key)
        answer = existing.get(key) or Answer(assessment=assessment, criterion=key)
        is_new = answer.pk is None
        # Who answered is who last changed the answer: re-sending it unchanged (a reviewer
        # saving the workspace) does not make the reviewer its author under four eyes.
        unchanged = (answer.rating, answer.evidence, list(answer.links), answer.comment)
        if not is_new:
            before[answer.pk] = copy.copy(answer)  # for the change log
        evidence_changed = False
        answer.rating = rating
        if "evidence" in row:
            evidence_changed |= (row["evidence"] or "") != answer.evidence
            answer.evidence = row["evidence"] or ""
        if links is not None:
            evidence_changed |= links != answer.links
            answer.links = links
        if "comment" in row:
            answer.comment = row["comment"] or ""
        if evidence_date is not None:
            answer.evidence_date = evidence_date
        elif evidence_changed and (answer.evidence or answer.links):
            answer.evidence_date = today
        reading = readings.get(key)
        answer.suggested_rating = reading.suggested_rating if reading else None
        if answer.suggested_rating is None or rating is None:
            answer.suggestion = SuggestionDecision.NONE
        elif rating == answer.suggested_rating:
            answer.suggestion = SuggestionDecision.ACCEPTED
        else:
            answer.suggestion = SuggestionDecision.OVERRIDDEN
            if not answer.comment.strip():
                row_errors.append(
                    {
                        "comment": [
                            f"The signal suggests {answer.suggested_rating} "
                            f"({reading.signal} = {reading.value:g}); overriding it with "
                            f"{rating} needs a comment."
                        ]
                    }
                )
                continue
        if is_new or unchanged != (answer.rating, answer.evidence, answer.links, answer.comment):
            answer.answered_by = user
        row_errors.append({})
        prepared.append((answer, is_new))
    if any(row_errors):
        raise RowsInvalid(row_errors)
    fields = [
        "rating",
        "evidence",
        "links",
        "evidence_date",
        "comment",
        "suggested_rating",
        "suggestion",
        "answered_by",
        "updated_at",
    ]
    now = timezone.now()
    for answer, _ in prepared:
        answer.updated_at = now
    created = Answer.objects.bulk_create([a for a, new in prepared if new])
    Answer.objects.bulk_update([a for a, new in prepared if not new], fields)
    log_bulk(Answer, created)
    log_bulk(Answer, [a for a, new in prepared if not new], action="update", before=before)
    if assessment.status == AssessmentStatus.DRAFT:
        assessment.status = AssessmentStatus.IN_PROGRESS
        assessment.save(update_fields=["status", "updated_at"])
    return [a for a, _ in prepared]


@transaction.atomic
def evidence_file_add(
    *, assessment: Assessment, criterion: str, upload: UploadedFile, user=None
) -> EvidenceFile:
    """Attach a file to a criterion's answer (the answer is created unrated if missing)."""
    _require_open(assessment)
    if criterion not in {
        c["key"] for _d, c in assessment.model.criteria_for(assessment.factory.kind)
    }:
        raise ValidationError({"criterion": [f"{criterion!r} is not a criterion of this audit."]})
    name = Path(upload.name or "evidence").name
    extension = Path(name).suffix.lower()
    if extension not in EVIDENCE_EXTENSIONS:
        raise ValidationError(
            {
                "file": [
                    f"{extension or 'No extension'} is not allowed; use one of "
                    + ", ".join(sorted(EVIDENCE_EXTENSIONS))
                    + "."
                ]
            }
        )
    if upload.size > EVIDENCE_MAX_BYTES:
        raise ValidationError(
            {"file": [f"The file is {upload.size} bytes; the limit is {EVIDENCE_MAX_BYTES}."]}
        )
    answer = Answer.objects.filter(assessment=assessment, criterion=criterion).first()
    if answer is None:
        raise ValidationError(
            {"criterion": ["Rate the criterion (or mark it N/A) before attaching evidence."]}
        )
    answer.evidence_date = timezone.localdate()
    answer.save(update_fields=["evidence_date", "updated_at"])
    return EvidenceFile.objects.create(
        answer=answer,
        file=upload,
        name=name[:200],
        size=upload.size,
        content_type=(upload.content_type or mimetypes.guess_type(name)[0] or "")[:120],
        uploaded_by=user,
    )
