"""Shared helpers of the assessments tests: a full set of answers for an assessment."""

from __future__ import annotations

from assessments.answers import answers_save
from assessments.models import Assessment


def answer_all(assessment: Assessment, rating_for=lambda dim, crit: 3, evidence: str = "seen"):
    """Answer every applicable criterion (``rating_for(dimension key, criterion key)``)."""
    rows = [
        {
            "criterion": c["key"],
            "rating": rating_for(d["key"], c["key"]),
            "evidence": evidence,
            "comment": "auditor's note",
        }
        for d, c in assessment.model.criteria_for(assessment.factory.kind)
    ]
    return answers_save(assessment=assessment, rows=rows)


def reviewer(username: str = "reviewer"):
    """A second CoE staff member: the four-eyes rule has them finalise what others answered."""
    from django.contrib.auth import get_user_model

    from coe.services import user_set_coe_staff

    user, _ = get_user_model().objects.get_or_create(username=username)
    user_set_coe_staff(user=user, is_staff=True)
    return user
