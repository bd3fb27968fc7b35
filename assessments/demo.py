"""Demo maturity audits for Northwind Industrial (DEMO.md): every factory has a final
assessment, some two, spread over all five stages; Puebla has an audit in progress.

Deterministic (ratings follow fixed per-dimension levels; dates are whole months before
today) and idempotent (each demo audit is found again by its note).
"""

from __future__ import annotations

import datetime as dt
import math

from django.db import transaction
from django.utils import timezone

from assessments.models import Assessment
from assessments.selectors import add_months
from assessments.services import (
    answers_save,
    assessment_create,
    assessment_finalize,
    current_model,
)

# (factory, label, months ago, base level, {dimension: level}, evidence share, final?)
AUDITS = [
    ("pilsen-machining", "first audit", 13, 2.3, {"connected_operations": 2.6}, 0.4, True),
    ("pilsen-machining", "vision pilot audit", 3, 3.4, {"connected_operations": 3.5}, 0.8, True),
    ("stuttgart-press", "baseline", 16, 3.4, {"data_integration": 1.7}, 0.5, True),
    ("stuttgart-press", "annual audit", 4, 4.7, {"data_integration": 2.3}, 0.85, True),
    ("puebla-assembly", "ramp-up audit", 5, 2.4, {"value_realisation": 1.7}, 0.6, True),
    ("puebla-assembly", "six-month audit", 0, 2.8, {"value_realisation": 2.0}, 0.6, False),
    (
        "aarhus-turbines",
        "annual audit",
        7,
        4.3,
        {"analytics_ai": 4.8, "connected_operations": 4.7},
        0.9,
        True,
    ),
    ("grid-analytics", "annual audit", 6, 4.2, {"delivery_performance": 5.0}, 0.9, True),
    ("customer-app", "first audit", 14, 2.6, {"platform": 3.0}, 0.5, True),
    ("customer-app", "annual audit", 2, 3.4, {"platform": 4.2}, 0.8, True),
    (
        "dealer-portal",
        "legacy audit",
        8,
        1.5,
        {"platform": 1.0, "delivery_performance": 1.3},
        0.3,
        True,
    ),
    ("platform-coe", "annual audit", 5, 5.0, {}, 1.0, True),
]


def _spread(level: float, count: int) -> list[int]:
    """``count`` ratings 1–5 whose mean is close to ``level`` (fixed, no randomness)."""
    ratings = [math.floor((i + 1) * level) - math.floor(i * level) for i in range(count)]
    return [max(1, min(5, r)) for r in ratings]


# Factories whose audit keeps the site review's rating wherever a signal differs, and why.
TRUST_SITE_REVIEW = {
    "platform-coe": "the team owns and runs every reusable process and the standard "
    "toolchain; the registry counts it in portfolio-wide findings as the standard's owner",
}


def _judged(slug: str, planned: int, suggested: int | None) -> dict:
    """The demo auditor accepts a suggestion within one point of their own judgement and
    overrides it (with the reason) otherwise."""
    if suggested is None or suggested == planned:
        return {"rating": planned, "comment": ""}
    if slug in TRUST_SITE_REVIEW:
        return {"rating": planned, "comment": f"Override: {TRUST_SITE_REVIEW[slug]}."}
    if abs(suggested - planned) <= 1:
        return {"rating": suggested, "comment": ""}
    reason = (
        "the registry still lists tools the site review found already being retired"
        if planned > suggested
        else "the registry data is ahead of what the site review found in daily use"
    )
    return {"rating": planned, "comment": f"Override after the site review: {reason}."}


def _rows(assessment: Assessment, base: float, levels: dict, evidence_share: float, day) -> list:
    rows, position = [], 0
    # Where a signal measured something, the demo auditor weighs its suggestion.
    suggested = {
        r.criterion: r.suggested_rating
        for r in assessment.signal_readings.filter(measured=True, suggested_rating__isnull=False)
    }
    by_dimension: dict[str, list[dict]] = {}
    for dim, crit in assessment.model.criteria_for(assessment.factory.kind):
        by_dimension.setdefault(dim["key"], []).append(crit)
    for dim_key, criteria in by_dimension.items():
        for crit, rating in zip(
            criteria, _spread(levels.get(dim_key, base), len(criteria)), strict=True
        ):
            position += 1
            backed = (position * evidence_share) % 1 < evidence_share or evidence_share >= 1
            rows.append(
                {
                    "criterion": crit["key"],
                    **_judged(assessment.factory.slug, rating, suggested.get(crit["key"])),
                    "evidence": f"Seen on site: {crit['name'].lower()}." if backed else "",
                    "evidence_date": day.isoformat() if backed else None,
                    "comment": "Rated against the signal after review."
                    if crit.get("signal")
                    else "",
                }
            )
    return rows


@transaction.atomic
def load_demo(core: dict, stdout) -> None:
    """Create the demo audits that do not exist yet (idempotent)."""
    auditor = core["users"]["coe.auditor"]
    lead = core["users"]["coe.lead"]
    model = current_model()
    today = timezone.localdate()
    created = 0
    for slug, label, months_ago, base, levels, evidence_share, final in AUDITS:
        factory = core["factories"][slug]
        note = f"Demo audit: {label}."
        if Assessment.objects.filter(factory=factory, notes=note).exists():
            continue
        day = add_months(today, -months_ago)
        assessment = assessment_create(
            factory=factory,
            model=model,
            assessor=auditor,
            assessed_on=day if final else None,
            notes=note,
        )
        rows = _rows(assessment, base, levels, evidence_share, day)
        if not final:
            rows = rows[: len(rows) // 2]
        answers_save(assessment=assessment, rows=rows, user=auditor, today=day)
        if final:
            when = timezone.make_aware(dt.datetime.combine(day, dt.time(15, 0)))
            assessment_finalize(assessment=assessment, user=lead, now=when)
        created += 1
    finals = Assessment.objects.filter(factory__in=core["factories"].values(), status="final")
    stdout.write(f"Assessments: {created} demo audits created, {finals.count()} final in all.")
