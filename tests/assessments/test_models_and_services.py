"""Model versions from definition files, audits, answers and overrides, evidence, cadence."""

from __future__ import annotations

import datetime as dt
import shutil
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from assessments.answers import answers_save
from assessments.definitions import MODELS_DIR, DefinitionError, validate_definition
from assessments.models import MaturityModel, SignalReading
from assessments.selectors import add_months, audit_schedule
from assessments.services import (
    AssessmentLocked,
    RowsInvalid,
    assessment_create,
    assessment_finalize,
    assessment_inputs,
    current_model,
)
from tests.assessments.helpers import answer_all, reviewer

DEFAULT_FILE = "digital_factory_maturity.yaml"


def test_migrate_loads_the_default_model_as_version_one(db):
    model = MaturityModel.objects.get(key="digital-factory", is_current=True)
    assert model.name == "Digital factory maturity" and model.version == 1
    assert model.gating == "one_below" and len(model.definition["dimensions"]) >= 8


def test_changed_model_file_is_a_new_version_and_old_final_assessment_keeps_its_score(
    world, tmp_path
):
    shutil.copy(MODELS_DIR / DEFAULT_FILE, tmp_path / DEFAULT_FILE)
    out = StringIO()
    call_command("load_maturity_models", str(tmp_path), stdout=out)
    assert "unchanged" in out.getvalue()

    old = assessment_create(factory=world.factory_a)
    answer_all(old, lambda dim, crit: 2 if dim == "data_integration" else 5)
    old_result = assessment_finalize(assessment=old, user=reviewer())
    assert old_result["overall"]["stage_name"] == "Established"

    # Edit the file: data integration now weighs four times as much, and the gate is strict.
    definition = yaml.safe_load((tmp_path / DEFAULT_FILE).read_text())
    definition["gating"] = "strict"
    next(d for d in definition["dimensions"] if d["key"] == "data_integration")["weight"] = 4
    (tmp_path / DEFAULT_FILE).write_text(yaml.safe_dump(definition))
    out = StringIO()
    call_command("load_maturity_models", str(tmp_path), stdout=out)
    assert "digital-factory v2" in out.getvalue() and "new version" in out.getvalue()

    v2 = current_model()
    assert v2.version == 2 and v2.gating == "strict"
    assert MaturityModel.objects.get(key="digital-factory", version=1).is_current is False
    old.refresh_from_db()
    assert old.model.version == 1 and old.result == old_result
    assert old.stage == 3

    new = assessment_create(factory=world.factory_a)
    assert new.model == v2
    answer_all(new, lambda dim, crit: 2 if dim == "data_integration" else 5)
    assert (
        assessment_finalize(assessment=new, user=reviewer())["overall"]["stage_name"]
        == "Developing"
    )
    old.refresh_from_db()
    assert old.result["model_version"] == 1 and old.result["overall"]["stage"] == 3


def test_a_broken_model_file_is_refused_whole(tmp_path):
    (tmp_path / "bad.yaml").write_text("key: x\nname: X\ngating: lenient\ndimensions: []\n")
    with pytest.raises(CommandError, match="gating"):
        call_command("load_maturity_models", str(tmp_path), stdout=StringIO())


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d: d["dimensions"][0]["criteria"][0]["descriptors"].pop("3"), "stages 1–5"),
        (lambda d: d["dimensions"][0].update(applies_to="robots"), "applies_to"),
        (
            lambda d: d["dimensions"][1]["criteria"].append(d["dimensions"][0]["criteria"][0]),
            "duplicate",
        ),
        (
            lambda d: d["dimensions"][2]["criteria"][0]["signal"].update(
                thresholds=[0.9, 0.1, 0.5, 0.6]
            ),
            "thresholds",
        ),
    ],
)
def test_definition_validation_names_the_problem(change, message):
    definition = yaml.safe_load((MODELS_DIR / DEFAULT_FILE).read_text())
    change(definition)
    with pytest.raises(DefinitionError, match=message):
        validate_definition(definition)


def test_final_assessment_is_locked_and_a_correction_is_a_new_assessment(world):
    assessment = assessment_create(factory=world.factory_b)
    answer_all(assessment)
    assessment_finalize(assessment=assessment, user=reviewer())
    with pytest.raises(AssessmentLocked):
        answers_save(assessment=assessment, rows=[{"criterion": "strategy.vision", "rating": 5}])
    with pytest.raises(AssessmentLocked):
        assessment_finalize(assessment=assessment, user=reviewer())
    correction = assessment_create(factory=world.factory_b, corrects=assessment)
    assert correction.status == "draft" and correction.corrects == assessment


def test_signals_without_data_say_not_measured_and_suggest_nothing(world):
    assessment = assessment_create(factory=world.factory_a)
    readings = {r.signal: r for r in SignalReading.objects.filter(assessment=assessment)}
    assert {"oee", "roi_payback_months"} <= set(readings)
    assert "dora_deployment_frequency" not in readings  # software-only dimension
    for key in ("oee", "roi_payback_months"):
        assert readings[key].measured is False
        assert readings[key].value is None and readings[key].suggested_rating is None
    assert readings["oee"].detail.startswith("No OT counters")
    assert readings["roi_payback_months"].detail == "No investment recorded for this factory."


def test_overriding_a_measured_suggestion_needs_a_comment(world):
    assessment = assessment_create(factory=world.factory_a)
    SignalReading.objects.filter(assessment=assessment, criterion="platform.standard_tools").update(
        measured=True, value=0.9, suggested_rating=5, source="registry", measured_at=None
    )
    with pytest.raises(RowsInvalid) as caught:
        answers_save(
            assessment=assessment, rows=[{"criterion": "platform.standard_tools", "rating": 3}]
        )
    assert "needs a comment" in caught.value.rows[0]["comment"][0]
    [overridden] = answers_save(
        assessment=assessment,
        rows=[
            {"criterion": "platform.standard_tools", "rating": 3, "comment": "Exceptions pending"}
        ],
    )
    assert overridden.suggestion == "overridden" and overridden.suggested_rating == 5
    [accepted] = answers_save(
        assessment=assessment, rows=[{"criterion": "platform.standard_tools", "rating": 5}]
    )
    assert accepted.suggestion == "accepted"


def test_evidence_older_than_the_freshness_limit_does_not_count(world):
    assessment = assessment_create(factory=world.factory_a, assessed_on=dt.date(2026, 6, 1))
    answers_save(
        assessment=assessment,
        rows=[
            {
                "criterion": "strategy.vision",
                "rating": 3,
                "evidence": "Roadmap",
                "evidence_date": "2026-05-01",
            },
            {
                "criterion": "strategy.goals",
                "rating": 3,
                "evidence": "Old KPIs",
                "evidence_date": "2024-01-01",
            },
            {"criterion": "strategy.sponsorship", "rating": 3},
        ],
    )
    inputs = assessment_inputs(assessment, dt.date(2026, 6, 1))
    assert inputs["strategy.vision"].evidenced is True
    assert inputs["strategy.goals"].evidenced is False  # stale
    assert inputs["strategy.sponsorship"].evidenced is False  # no evidence


def test_audit_schedule_lists_overdue_and_never_audited_factories_first(world):
    today = dt.date(2026, 11, 25)
    world.factory_a.audit_cadence_months = 6
    world.factory_a.save()
    done = assessment_create(factory=world.factory_a, assessed_on=dt.date(2026, 3, 1))
    answer_all(done)
    assessment_finalize(assessment=done, user=reviewer())
    rows = audit_schedule(world.users["staff"], today=today)
    assert [r["factory"].slug for r in rows] == ["beta-app", "alpha-plant"]
    never, alpha = rows
    assert never["never"] and never["overdue"]
    assert alpha["next_due"] == dt.date(2026, 9, 1) and alpha["overdue"]
    assert alpha["days_overdue"] == 85
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert [r["factory"].slug for r in audit_schedule(world.users["member_b"], today=today)] == [
        "beta-app"
    ]
