"""Demo maturity audits for Northwind Industrial (DEMO.md) that agree with the data.

Every factory's latest audit is this month's round, measured from the data the demo lands
(``assessments.demo_sources``): the auditor (``coe.auditor``) accepts every measured
suggestion except a few overrides, each justified in ``OVERRIDES``; criteria no signal
measures are rated from the site review (fixed per-dimension levels, the descriptor of the
rating quoted as the evidence). The lead (``coe.lead``) reviews and finalises: four eyes.

Older audits (a year ago) are pinned to version 1 of the model, before its technology and
integration signals (``demo_data/digital_factory_maturity_v1.yaml``); this round uses the
current version, so the scorecards' history crosses the change. Puebla's six-month audit
waits in review for the lead.

Deterministic (fixed levels, dates in whole months before today) and idempotent (each demo
audit is found again by its note).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from assessments.answers import answers_save
from assessments.choices import AssessmentStatus
from assessments.definitions import content_hash, read_definition
from assessments.demo_sources import load_sources
from assessments.models import Assessment, MaturityModel
from assessments.selectors import add_months
from assessments.services import (
    assessment_create,
    assessment_finalize,
    assessment_transition,
    current_model,
    review_comment_add,
)

MODEL_V1_FILE = Path(__file__).parent / "demo_data" / "digital_factory_maturity_v1.yaml"
FINAL, IN_REVIEW = AssessmentStatus.FINAL, AssessmentStatus.IN_REVIEW

# (factory, label, months ago, model version, base level, {dimension: level},
#  evidence share, status)
AUDITS = [
    ("stuttgart-press", "baseline", 13, 1, 3.0, {"data_integration": 1.7}, 0.5, FINAL),
    ("stuttgart-press", "annual audit", 0, 2, 3.8, {"data_integration": 2.3}, 0.85, FINAL),
    ("pilsen-machining", "first audit", 12, 1, 2.3, {"connected_operations": 2.4}, 0.4, FINAL),
    ("pilsen-machining", "vision pilot audit", 0, 2, 3.5, {}, 0.8, FINAL),
    ("puebla-assembly", "ramp-up audit", 5, 2, 2.4, {"value_realisation": 1.7}, 0.6, FINAL),
    ("puebla-assembly", "six-month audit", 0, 2, 2.7, {"value_realisation": 2.0}, 0.6, IN_REVIEW),
    ("aarhus-turbines", "annual audit", 0, 2, 4.5, {"people_culture": 4.0}, 0.9, FINAL),
    ("grid-analytics", "annual audit", 0, 2, 4.5, {}, 0.9, FINAL),
    ("customer-app", "first audit", 12, 1, 2.6, {"platform": 3.0}, 0.5, FINAL),
    ("customer-app", "annual audit", 0, 2, 3.4, {}, 0.8, FINAL),
    ("dealer-portal", "legacy audit", 10, 1, 1.5, {"platform": 1.0}, 0.3, FINAL),
    ("dealer-portal", "annual audit", 0, 2, 1.6, {"platform": 1.0}, 0.2, FINAL),
    ("platform-coe", "annual audit", 0, 2, 5.0, {}, 1.0, FINAL),
]  # fmt: skip

# Where the auditor departs from a measured suggestion (or marks a criterion not
# applicable), the rating and the reason, in the words the audit records.
OVERRIDES: dict[tuple[str, str, str], tuple[int | None, str]] = {
    ("stuttgart-press", "annual audit", "analytics.predictive"): (
        3,
        "Press-line scheduling runs on the weekly S/4HANA demand forecast; no maintenance "
        "data lands yet, so the signal only sees the two CMMS tools.",
    ),
    ("puebla-assembly", "six-month audit", "ops.telemetry"): (
        3,
        "Every Sparkplug B node reports, but 21 devices of the retrofitted line dropped out "
        "and are listed stale, which the signal leaves out; about two thirds of the floor "
        "is connected.",
    ),
    ("aarhus-turbines", "annual audit", "ops.digital_twin"): (
        4,
        "The twin mirrors the test bench only; turbines in the field are not twinned yet, so "
        "closed-loop optimisation across lines is not reached.",
    ),
    ("aarhus-turbines", "annual audit", "ops.vision_quality"): (
        None,
        "Not applicable: blades arrive inspected by the supplier's ultrasound; the bench "
        "makes no parts to inspect.",
    ),
    ("platform-coe", "annual audit", "processes.adoption"): (
        5,
        "The team owns all five reusable processes; supplier onboarding is an ERP process "
        "for plants with suppliers, and it follows both others that apply.",
    ),
    ("platform-coe", "annual audit", "platform.duplicates"): (
        5,
        "The findings counted here are the portfolio's: the team appears in them as the "
        "owner of the standard tools the other factories should move to.",
    ),
}

# The lead's review comments, per audit: (criterion, comment).
REVIEW_NOTES = {
    ("stuttgart-press", "annual audit"): [
        ("data.systems", "Only PI and S/4HANA land data; Maximo, SAP PM and Canary do not. "
         "This is what caps the plant at Established."),
        ("platform.duplicates", "Two historians and two CMMS tools: ask the plant for a "
         "consolidation date before the next audit."),
    ],
    ("aarhus-turbines", "annual audit"): [
        ("ops.digital_twin", "Agreed: 4 until field turbines are twinned."),
    ],
    ("puebla-assembly", "six-month audit"): [
        ("ops.telemetry", "Please attach the retrofit's device list before I finalise."),
    ],
    ("dealer-portal", "annual audit"): [
        ("", "Rated mostly from interviews; fewer than half the ratings carry evidence."),
    ],
}  # fmt: skip


def _spread(level: float, count: int) -> list[int]:
    """``count`` ratings 1–5 whose mean is close to ``level`` (fixed, no randomness)."""
    ratings = [math.floor((i + 1) * level) - math.floor(i * level) for i in range(count)]
    return [max(1, min(5, r)) for r in ratings]


def model_versions() -> dict[int, MaturityModel]:
    """Version 1 (the model before its technology signals) and the current version.

    On a database whose versions no audit uses yet, version 1 is slotted in first (the
    existing versions move up one); otherwise it is kept as a new, not current, version."""
    current = current_model()
    definition = read_definition(MODEL_V1_FILE)
    digest = content_hash(definition)
    old = MaturityModel.objects.filter(key=definition["key"], content_hash=digest).first()
    if old is None:
        versions = MaturityModel.objects.filter(key=definition["key"])
        number = (versions.order_by("-version").values_list("version", flat=True).first()) + 1
        if not Assessment.objects.filter(model__key=definition["key"]).exists():
            for model in versions.order_by("-version"):
                model.version += 1
                model.save(update_fields=["version"])
            number = 1
        old = MaturityModel.objects.create(
            key=definition["key"],
            name=definition["name"],
            version=number,
            gating=definition["gating"],
            evidence_freshness_days=definition["evidence_freshness_days"],
            definition=definition,
            content_hash=digest,
            source=f"demo_data/{MODEL_V1_FILE.name}",
            is_current=False,
        )
        current.refresh_from_db()
    return {1: old, 2: current}


def _rows(assessment: Assessment, label: str, base: float, levels: dict, share: float, day):
    """The auditor's answers: measured suggestions accepted unless overridden; the rest
    from the site review, the rating's descriptor quoted as what was seen."""
    slug = assessment.factory.slug
    suggested = {
        r.criterion: r.suggested_rating
        for r in assessment.signal_readings.filter(measured=True, suggested_rating__isnull=False)
    }
    by_dimension: dict[str, list[dict]] = {}
    for dim, crit in assessment.model.criteria_for(assessment.factory.kind):
        by_dimension.setdefault(dim["key"], []).append(crit)
    rows, position = [], 0
    for dim_key, criteria in by_dimension.items():
        planned = _spread(levels.get(dim_key, base), len(criteria))
        for crit, review_rating in zip(criteria, planned, strict=True):
            position += 1
            key = crit["key"]
            override = OVERRIDES.get((slug, label, key))
            comment = ""
            if override is not None:
                rating, comment = override
            elif key in suggested:
                rating = suggested[key]
            else:
                rating = review_rating
            backed = share >= 1 or (position * share) % 1 < share
            seen = crit["descriptors"][str(rating)] if rating else comment
            rows.append(
                {
                    "criterion": key,
                    "rating": rating,
                    "comment": comment,
                    "evidence": f"Site review {day:%d %b %Y}: {seen}" if backed else "",
                    "evidence_date": day.isoformat() if backed else None,
                }
            )
    return rows


def load_demo(core: dict, stdout) -> None:
    """The data behind the audits, then the demo audits that do not exist yet."""
    load_sources(core, stdout)
    _load_audits(core, stdout)


@transaction.atomic
def _load_audits(core: dict, stdout) -> None:
    auditor = core["users"]["coe.auditor"]
    lead = core["users"]["coe.lead"]
    models = model_versions()
    today = timezone.localdate()
    created = 0
    for slug, label, months_ago, version, base, levels, share, status in AUDITS:
        factory = core["factories"][slug]
        note = f"Demo audit: {label}."
        if Assessment.objects.filter(factory=factory, notes=note).exists():
            continue
        day = add_months(today, -months_ago)
        assessment = assessment_create(
            factory=factory,
            model=models[version],
            assessor=auditor,
            assessed_on=day,
            notes=note,
        )
        rows = _rows(assessment, label, base, levels, share, day)
        answers_save(assessment=assessment, rows=rows, user=auditor, today=day)
        assessment_transition(assessment=assessment, to=IN_REVIEW, user=auditor)
        for criterion, text in REVIEW_NOTES.get((slug, label), []):
            review_comment_add(assessment=assessment, criterion=criterion, body=text, user=lead)
        if status == FINAL:
            when = (
                timezone.now()
                if months_ago == 0
                else timezone.make_aware(dt.datetime.combine(day, dt.time(15, 0)))
            )
            assessment_finalize(assessment=assessment, user=lead, now=when)
        created += 1
    finals = Assessment.objects.filter(factory__in=core["factories"].values(), status=FINAL)
    stdout.write(f"Assessments: {created} demo audits created, {finals.count()} final in all.")
