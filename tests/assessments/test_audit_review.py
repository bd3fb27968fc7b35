"""Four-eyes audits: who may finalise, review comments, evidence warnings, corrections."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from assessments.answers import answers_save
from assessments.models import Assessment
from assessments.services import (
    AssessmentLocked,
    assessment_create,
    assessment_finalize,
    four_eyes_problem,
    review_comment_add,
)
from tests.assessments.helpers import answer_all, reviewer


def answered_by_staff(world, evidence: str = "seen on site") -> Assessment:
    assessment = assessment_create(factory=world.factory_a)
    rows = [
        {"criterion": c["key"], "rating": 3, "evidence": evidence, "comment": "note"}
        for _d, c in assessment.model.criteria_for(assessment.factory.kind)
    ]
    answers_save(assessment=assessment, rows=rows, user=world.users["staff"])
    return assessment


@pytest.mark.parametrize(
    "persona,status",
    [
        ("staff", 400),  # answered the audit: needs a second pair of eyes
        ("reviewer", 200),
        ("owner_a", 403),
        ("member_a", 403),
        ("member_b", 404),
        ("anonymous", 401),
    ],
)
def test_finalising_needs_a_coe_staff_member_who_did_not_answer(world, persona, status):
    assessment = answered_by_staff(world)
    if persona == "reviewer":
        client = APIClient()
        client.force_authenticate(reviewer())
    else:
        client = world.client(persona)
    response = client.post(reverse("api:assessment-finalize", args=[assessment.pk]))
    assert response.status_code == status, response.content
    assessment.refresh_from_db()
    assert assessment.is_final == (status == 200)
    if persona == "staff":
        assert "Four-eyes" in response.json()["reviewer"][0]


def test_four_eyes_can_be_switched_off(world, settings):
    settings.AUDIT_FOUR_EYES = False
    assessment = answered_by_staff(world)
    response = world.client("staff").post(reverse("api:assessment-finalize", args=[assessment.pk]))
    assert response.status_code == 200, response.content


def test_a_system_call_without_a_reviewer_cannot_finalise_under_four_eyes(world):
    assessment = assessment_create(factory=world.factory_a)
    answer_all(assessment)
    with pytest.raises(ValidationError, match="Four-eyes"):
        assessment_finalize(assessment=assessment)
    with pytest.raises(ValidationError, match="Only CoE staff"):
        assessment_finalize(assessment=assessment, user=world.users["owner_a"])


def test_finalise_warns_when_fewer_than_half_the_rated_criteria_carry_evidence(world, client):
    thin = answered_by_staff(world, evidence="")
    api = APIClient()
    api.force_authenticate(reviewer())
    result = api.post(reverse("api:assessment-finalize", args=[thin.pk])).json()
    assert result["evidence"]["evidenced"] == 0 and result["evidence"]["rated"] > 20
    assert result["warnings"] and "carry evidence" in result["warnings"][0]
    signed_in = client
    signed_in.force_login(world.users["owner_a"])
    for page in ("assessment-report", "assessment-detail"):
        assert "carry evidence" in signed_in.get(reverse(page, args=[thin.pk])).content.decode()
    full = assessment_create(factory=world.factory_b)
    answer_all(full)
    assert assessment_finalize(assessment=full, user=reviewer())["warnings"] == []


def test_reviewers_comment_per_criterion_while_the_audit_is_open(world):
    assessment = answered_by_staff(world)
    url = reverse("api:assessment-comments", args=[assessment.pk])
    second = APIClient()
    second.force_authenticate(reviewer())
    posted = second.post(url, {"criterion": "data.systems", "body": "Which ERP interfaces?"})
    assert posted.status_code == 200, posted.content
    assert posted.json()[0] | {"created_at": None, "id": None} == {
        "id": None,
        "criterion": "data.systems",
        "author": "reviewer",
        "body": "Which ERP interfaces?",
        "created_at": None,
    }
    assert second.post(url, {"criterion": "nope", "body": "x"}).status_code == 400
    assert second.post(url, {"criterion": "", "body": "  "}).status_code == 400
    assert world.client("owner_a").post(url, {"body": "hi"}).status_code == 403
    assert world.client("owner_a").get(url).json()[0]["body"] == "Which ERP interfaces?"
    assert world.client("member_b").get(url).status_code == 404
    second.post(reverse("api:assessment-finalize", args=[assessment.pk]))
    locked = second.post(url, {"body": "too late"})
    assert locked.status_code == 409


def test_a_final_audit_is_immutable_and_a_correction_is_a_linked_new_revision(world):
    assessment = answered_by_staff(world)
    assessment_finalize(assessment=assessment, user=reviewer())
    staff = world.client("staff")
    rows = [{"criterion": "data.systems", "rating": 5}]
    answers = reverse("api:assessment-answers", args=[assessment.pk])
    assert staff.post(answers, rows, format="json").status_code == 409
    detail = reverse("api:assessment-detail", args=[assessment.pk])
    assert staff.patch(detail, {"notes": "x"}, format="json").status_code == 409
    assert staff.delete(detail).status_code == 409
    with pytest.raises(AssessmentLocked):
        review_comment_add(assessment=assessment, body="late", user=reviewer())
    created = staff.post(
        reverse("api:assessment-list"),
        {"factory": "alpha-plant", "corrects": assessment.pk},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["revision"] == 2 and created.json()["corrects"] == assessment.pk
    assert staff.get(detail).json()["corrected_by"] == [created.json()["id"]]


def test_resaving_an_answer_unchanged_keeps_its_author_and_a_change_makes_a_new_one(world):
    assessment = answered_by_staff(world)
    second = reviewer()
    rows = [
        {"criterion": a.criterion, "rating": a.rating, "evidence": a.evidence, "comment": a.comment}
        for a in assessment.answers.all()
    ]
    answers_save(assessment=assessment, rows=rows, user=second)  # the workspace re-sends all
    assert four_eyes_problem(assessment, second) is None
    rows[0]["rating"] = 5 if rows[0]["rating"] != 5 else 4
    rows[0]["comment"] = "Raised after the plant sent the interface list."
    answers_save(assessment=assessment, rows=rows[:1], user=second)
    with pytest.raises(ValidationError, match="Four-eyes"):
        assessment_finalize(assessment=assessment, user=second)
    assessment_finalize(assessment=assessment, user=reviewer("third.reviewer"))
