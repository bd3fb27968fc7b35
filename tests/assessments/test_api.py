"""The assessments API per persona: maturity models, assessments and their actions, scorecard."""

from __future__ import annotations

import copy

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from assessments.api.views import AssessmentViewSet, MaturityModelViewSet
from assessments.models import Assessment, MaturityModel
from assessments.services import (
    assessment_create,
    assessment_finalize,
    current_model,
    maturity_model_store,
)
from tests.api_mixins import EVERYONE, APIViewTestCase
from tests.assessments.helpers import answer_all, reviewer
from tests.factories import FactoryFactory


class TestMaturityModelAPI(APIViewTestCase):
    basename = "maturitymodel"
    viewset = MaturityModelViewSet
    visible = EVERYONE
    read_only = True

    def make_object(self, world, key):
        definition = copy.deepcopy(current_model().definition)
        definition["key"] = f"model-{key}-{MaturityModel.objects.count()}"
        return maturity_model_store(definition=definition)[0]

    def create_payload(self, world):
        return {"key": "new", "name": "New"}

    def update_payload(self, world, obj):
        return {"name": "Renamed"}


class TestAssessmentAPI(APIViewTestCase):
    basename = "assessment"
    viewset = AssessmentViewSet

    def make_object(self, world, key):
        return assessment_create(factory=world.factory_of(key))

    def create_payload(self, world):
        return {"factory": "alpha-plant"}

    def update_payload(self, world, obj):
        return {"notes": "Site visit on Tuesday."}

    def make_many(self, world, count):
        for i in range(count):
            assessment_create(factory=FactoryFactory(slug=f"many-{i}"))


def test_maturity_model_has_the_contract_shape_and_the_five_stage_descriptors(world):
    body = world.client("member_b").get(reverse("api:maturitymodel-list")).json()
    model = next(m for m in body["results"] if m["key"] == "digital-factory")
    assert {"id", "key", "name", "version", "gating", "dimensions"} <= set(model)
    assert model["name"] == "Digital factory maturity" and model["gating"] == "one_below"
    assert len(model["dimensions"]) >= 8
    for dim in model["dimensions"]:
        assert {"key", "name", "weight", "applies_to", "criteria"} <= set(dim)
        assert 3 <= len(dim["criteria"]) <= 5
        for crit in dim["criteria"]:
            assert set(crit["descriptors"]) == {"1", "2", "3", "4", "5"}
    kinds = {d["key"]: d["applies_to"] for d in model["dimensions"]}
    assert kinds["connected_operations"] == "manufacturing"
    assert kinds["delivery_performance"] == "software"


def test_staff_run_an_audit_through_the_api_and_owner_reads_the_scorecard(world):
    staff = world.client("staff")
    created = staff.post(reverse("api:assessment-list"), {"factory": "alpha-plant"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "draft" and body["model_key"] == "digital-factory"
    assert body["progress"]["answered"] == 0 and body["progress"]["total"] > 20
    url = reverse("api:assessment-answers", args=[body["id"]])
    model = MaturityModel.objects.get(pk=body["model"])
    rows = [
        {
            "criterion": c["key"],
            "rating": 2 if d["key"] == "data_integration" else 5,
            "evidence": "Walked the line",
            "comment": "",
        }
        for d, c in model.criteria_for("manufacturing")
    ]
    saved = staff.post(url, rows, format="json")
    assert saved.status_code == 200, saved.content
    assert len(saved.json()) == len(rows)
    detail = staff.get(reverse("api:assessment-detail", args=[body["id"]])).json()
    assert detail["status"] == "in_progress"
    assert detail["progress"]["answered"] == detail["progress"]["total"]
    alone = staff.post(reverse("api:assessment-finalize", args=[body["id"]]))
    assert alone.status_code == 400 and "Four-eyes" in str(alone.json()), alone.content
    second = APIClient()
    second.force_authenticate(reviewer())
    final = second.post(reverse("api:assessment-finalize", args=[body["id"]]))
    assert final.status_code == 200, final.content
    result = final.json()
    assert result["overall"]["stage_name"] == "Established"
    assert result["overall"]["capped_by"] == "data_integration"
    assert "capped at Established by Data integration at 2.0" in result["explanation"]
    card = world.client("owner_a").get(reverse("api:factory-scorecard", args=["alpha-plant"]))
    assert card.status_code == 200
    card = card.json()
    assert set(card) >= {
        "factory",
        "model",
        "model_version",
        "assessed_at",
        "overall",
        "dimensions",
        "confidence",
        "roadmap",
    }
    assert set(card["overall"]) >= {"index", "stage", "stage_name", "capped_by"}
    assert set(card["dimensions"][0]) >= {
        "key",
        "name",
        "score",
        "stage",
        "stage_name",
        "confidence",
    }
    assert card["roadmap"] and set(card["roadmap"][0]) == {
        "criterion",
        "dimension",
        "current",
        "target",
        "gain",
    }
    assert card["confidence"] == 1.0
    # Final is locked.
    again = staff.post(url, rows[:1], format="json")
    assert again.status_code == 409
    assert (
        staff.patch(
            reverse("api:assessment-detail", args=[body["id"]]), {"notes": "x"}, format="json"
        ).status_code
        == 409
    )
    assert staff.delete(reverse("api:assessment-detail", args=[body["id"]])).status_code == 409


@pytest.mark.parametrize(
    "persona,status", [("staff", 200), ("owner_a", 200), ("member_a", 200), ("member_b", 404)]
)
def test_scorecard_is_visible_only_inside_the_persona_factories(world, persona, status):
    assessment = assessment_create(factory=world.factory_a)
    answer_all(assessment)
    assessment_finalize(assessment=assessment, user=reviewer())
    response = world.client(persona).get(reverse("api:factory-scorecard", args=["alpha-plant"]))
    assert response.status_code == status
    if status == 200:
        assert response.json()["overall"]["stage_name"] == "Established"


def test_scorecard_needs_a_final_assessment_and_a_login(world):
    assert (
        world.client("anonymous")
        .get(reverse("api:factory-scorecard", args=["alpha-plant"]))
        .status_code
        == 401
    )
    missing = world.client("owner_a").get(reverse("api:factory-scorecard", args=["alpha-plant"]))
    assert missing.status_code == 404 and "no final assessment" in missing.json()["detail"]


def test_answers_are_validated_row_by_row_and_nothing_is_saved_on_error(world):
    assessment = assessment_create(factory=world.factory_b)
    rows = [
        {"criterion": "strategy.vision", "rating": 3, "evidence": "", "comment": ""},
        {"criterion": "ops.telemetry", "rating": 3},  # manufacturing only
        {"criterion": "nope", "rating": 2},
        {"criterion": "strategy.goals", "rating": 7},
        {"criterion": "strategy.sponsorship"},
        {"criterion": "strategy.vision", "rating": None},  # twice
    ]
    response = world.client("staff").post(
        reverse("api:assessment-answers", args=[assessment.pk]), rows, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["rows"]
    assert errors[0] == {}
    assert "does not apply" in errors[1]["criterion"][0]
    assert "Unknown criterion" in errors[2]["criterion"][0]
    assert "1 to 5" in errors[3]["rating"][0]
    assert "required" in errors[4]["rating"][0]
    assert "twice" in errors[5]["criterion"][0]
    assert assessment.answers.count() == 0


def test_members_and_owners_cannot_run_audits(world):
    assessment = assessment_create(factory=world.factory_a)
    url = reverse("api:assessment-answers", args=[assessment.pk])
    rows = [{"criterion": "strategy.vision", "rating": 3}]
    assert world.client("owner_a").post(url, rows, format="json").status_code == 403
    assert world.client("member_b").post(url, rows, format="json").status_code == 404
    assert world.client("owner_a").get(url).status_code == 200
    finalize = reverse("api:assessment-finalize", args=[assessment.pk])
    assert world.client("member_a").post(finalize).status_code == 403


def test_status_moves_draft_to_review_and_back_and_finalize_needs_every_answer(world):
    staff = world.client("staff")
    assessment = assessment_create(factory=world.factory_b)
    assert staff.post(reverse("api:assessment-submit", args=[assessment.pk])).status_code == 409
    assert staff.post(reverse("api:assessment-start", args=[assessment.pk])).json()["status"] == (
        "in_progress"
    )
    submitted = staff.post(reverse("api:assessment-submit", args=[assessment.pk]))
    assert submitted.json()["status"] == "in_review"
    reopened = staff.post(reverse("api:assessment-reopen", args=[assessment.pk]))
    assert reopened.json()["status"] == "in_progress"
    incomplete = staff.post(reverse("api:assessment-finalize", args=[assessment.pk]))
    assert incomplete.status_code == 400 and "unanswered" in str(incomplete.json())
    assert Assessment.objects.get(pk=assessment.pk).status == "in_progress"


def test_evidence_upload_checks_type_and_size(world, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    assessment = assessment_create(factory=world.factory_a)
    staff = world.client("staff")
    staff.post(
        reverse("api:assessment-answers", args=[assessment.pk]),
        [{"criterion": "strategy.vision", "rating": 3}],
        format="json",
    )
    url = reverse("api:assessment-evidence", args=[assessment.pk])
    ok = staff.post(
        url,
        {"criterion": "strategy.vision", "file": SimpleUploadedFile("roadmap.pdf", b"%PDF-1.4")},
        format="multipart",
    )
    assert ok.status_code == 201, ok.content
    assert ok.json()["name"] == "roadmap.pdf" and ok.json()["size"] == 8
    bad = staff.post(
        url,
        {"criterion": "strategy.vision", "file": SimpleUploadedFile("run.exe", b"MZ")},
        format="multipart",
    )
    assert bad.status_code == 400 and "not allowed" in str(bad.json())
    answers = staff.get(reverse("api:assessment-answers", args=[assessment.pk])).json()
    assert answers[0]["files"][0]["name"] == "roadmap.pdf"


def test_a_factory_has_one_open_audit_at_a_time(world):
    staff = world.client("staff")
    assert staff.post(reverse("api:assessment-list"), {"factory": "beta-app"}).status_code == 201
    again = staff.post(reverse("api:assessment-list"), {"factory": "beta-app"})
    assert again.status_code == 400 and "already has an open audit" in again.json()["factory"][0]
