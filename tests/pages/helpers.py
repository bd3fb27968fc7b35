"""Builders for the role-home, inbox and search tests."""

from __future__ import annotations

import datetime as dt

from django.test import Client

from assessments import services as assessment_services
from tests.assessments.helpers import answer_all


def signed_in(world, persona: str) -> Client:
    client = Client()
    client.force_login(world.users[persona])
    return client


def final_audit(world, factory, *, on: dt.date, rating: int = 3, by: str = "staff"):
    """A final audit of ``factory`` dated ``on``, every criterion rated ``rating``."""
    assessment = assessment_services.assessment_create(factory=factory, assessed_on=on)
    answer_all(assessment, rating_for=lambda dim, crit: rating)
    assessment_services.assessment_finalize(assessment=assessment, user=world.users[by])
    assessment.refresh_from_db()
    return assessment
