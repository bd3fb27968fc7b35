"""The demo tells a true story: audits agree with the data they were measured from."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from assessments.demo import OVERRIDES
from assessments.models import Assessment, MaturityModel, ReviewComment, SignalReading
from coe.models import Factory
from connectors.choices import SyncStatus
from connectors.models import Connector
from registry.models import Capability
from registry.taxonomy import load_taxonomy

EXPECTED = {
    "stuttgart-press": "Established",
    "puebla-assembly": "Developing",
    "pilsen-machining": "Established",
    "aarhus-turbines": "Advanced",
    "grid-analytics": "Advanced",
    "customer-app": "Established",
    "dealer-portal": "Ad hoc",
    "platform-coe": "Optimized",
}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo loaded twice (idempotent), once for every test of this module."""
    with django_db_blocker.unblock():
        began = time.process_time()
        call_command("load_demo", stdout=StringIO())
        first_cpu = time.process_time() - began
        counts = (Assessment.objects.count(), SignalReading.objects.count())
        out = StringIO()
        call_command("load_demo", stdout=out)
        yield {"cpu_s": first_cpu, "counts": counts, "second_output": out.getvalue()}
        call_command("flush", interactive=False, verbosity=0)
        # The flush also empties what migrations seeded; later tests rely on the taxonomy.
        load_taxonomy(Capability)


def latest_finals() -> dict[str, Assessment]:
    latest = {}
    for a in (
        Assessment.objects.filter(status="final")
        .select_related("factory", "model")
        .order_by("assessed_on", "finalized_at")
    ):
        latest[a.factory.slug] = a
    return latest


@pytest.mark.django_db
def test_demo_is_idempotent_and_quick(demo):
    assert demo["cpu_s"] < 60, f"load_demo used {demo['cpu_s']:.0f} s of CPU"
    assert (Assessment.objects.count(), SignalReading.objects.count()) == demo["counts"]
    assert "0 demo audits created" in demo["second_output"]


@pytest.mark.django_db
def test_every_factory_has_its_stage_over_all_five_and_two_model_versions(demo):
    latest = latest_finals()
    assert {slug: a.stage_name for slug, a in latest.items()} == EXPECTED
    versions = MaturityModel.objects.filter(key="digital-factory")
    assert sorted(versions.values_list("version", flat=True)) == [1, 2]
    assert versions.get(is_current=True).version == 2
    pilsen = list(
        Assessment.objects.filter(factory__slug="pilsen-machining", status="final").order_by(
            "assessed_on"
        )
    )
    assert [(a.stage_name, a.model.version) for a in pilsen] == [
        ("Developing", 1),
        ("Established", 2),
    ]
    assert all(a.model.version == 2 for a in latest.values())
    puebla = Assessment.objects.get(factory__slug="puebla-assembly", status="in_review")
    assert ReviewComment.objects.filter(assessment=puebla, criterion="ops.telemetry").exists()


@pytest.mark.django_db
def test_audits_agree_with_their_signals_except_overrides_in_real_words(demo):
    overridden = 0
    for audit in Assessment.objects.exclude(status="draft").prefetch_related("answers"):
        readings = {r.criterion: r for r in audit.signal_readings.all()}
        for answer in audit.answers.all():
            reading = readings.get(answer.criterion)
            if reading is None or reading.suggested_rating is None:
                continue
            if answer.rating == reading.suggested_rating:
                assert answer.suggestion == "accepted"
                continue
            overridden += 1
            key = (audit.factory.slug, audit.notes[len("Demo audit: ") : -1], answer.criterion)
            assert key in OVERRIDES, key
            assert answer.comment == OVERRIDES[key][1] and len(answer.comment) > 60
    assert 0 < overridden <= len(OVERRIDES)


@pytest.mark.django_db
def test_stages_are_explained_by_the_data(demo):
    latest = latest_finals()

    def reading(slug: str, signal: str) -> SignalReading:
        return latest[slug].signal_readings.get(signal=signal)

    stuttgart = latest["stuttgart-press"].result
    lowest = min(stuttgart["dimensions"], key=lambda d: d["score"] or 9)
    assert lowest["key"] == "data_integration" and stuttgart["roadmap"][0]["criterion"] == (
        "data.systems"
    )
    systems = reading("stuttgart-press", "systems_integration")
    assert systems.suggested_rating == 2 and systems.inputs["systems"] == 9
    assert reading("stuttgart-press", "open_duplicate_findings").value >= 4
    twin = reading("aarhus-turbines", "digital_twin")
    assert twin.measured and twin.inputs["live_assets"] == twin.inputs["twin_assets"] == 24
    assert reading("aarhus-turbines", "device_telemetry_coverage").value == 1.0
    assert reading("aarhus-turbines", "predictive_maintenance").suggested_rating == 4
    vision = reading("pilsen-machining", "vision_quality")
    assert vision.suggested_rating == 3 and "Cognex VisionPro adopted" in vision.detail
    assert reading("platform-coe", "dora_deployment_frequency").suggested_rating == 5
    assert reading("dealer-portal", "systems_integration").suggested_rating == 1
    assert reading("grid-analytics", "ai_operations").value == 2.0
    assert reading("aarhus-turbines", "roi_payback_months").value == 5.0
    puebla = reading("puebla-assembly", "roi_payback_months")
    assert not puebla.measured and "Not paid back yet" in puebla.detail


@pytest.mark.django_db
def test_software_factories_have_measured_connectors_and_delivery(demo):
    for slug in ("grid-analytics", "platform-coe", "customer-app", "dealer-portal"):
        connectors = Connector.objects.filter(factory__slug=slug)
        kinds = set(connectors.values_list("kind", flat=True))
        assert {"gitlab", "rest"} <= kinds
        for connector in connectors:
            assert connector.runs.latest("finished_at").status == SyncStatus.SUCCEEDED
        audit = latest_finals()[slug]
        frequency = audit.signal_readings.get(signal="dora_deployment_frequency")
        assert frequency.measured, frequency.detail
        assert frequency.inputs["covered_by"]


@pytest.mark.django_db
def test_old_audits_keep_measurements_as_of_their_own_date(demo):
    for audit in Assessment.objects.filter(model__version=1):
        for reading in audit.signal_readings.all():
            assert reading.as_of.date() == audit.assessed_on
            if reading.measured_at:
                assert reading.measured_at.date() <= audit.assessed_on
    baseline = Assessment.objects.get(factory__slug="stuttgart-press", model__version=1)
    telemetry = baseline.signal_readings.get(signal="device_telemetry_coverage")
    assert not telemetry.measured  # the OPC UA connector came later


@pytest.mark.django_db
def test_scorecard_api_shows_the_trend_since_the_previous_audit(demo):
    client = APIClient()
    client.force_authenticate(Assessment.objects.first().assessor)
    card = client.get(reverse("api:factory-scorecard", args=["stuttgart-press"])).json()
    assert card["previous"]["stage_name"] == "Developing" and card["previous"]["model_version"] == 1
    assert card["change"]["stage"] == 1
    assert card["change"]["index"] == round(card["overall"]["index"] - card["previous"]["index"], 2)
    single = client.get(reverse("api:factory-scorecard", args=["aarhus-turbines"])).json()
    assert single["previous"] is None and single["change"] is None


@pytest.mark.django_db
def test_the_demo_leaves_the_kpi_rollups_current(demo):
    from kpis.models import FactoryFigures, FactoryMonth
    from kpis.reads import rois_by_factory
    from kpis.rollups import rebuild
    from kpis.selectors import roi_by_factory

    def snapshot():
        months = FactoryMonth.objects.order_by("factory_id", "month").values_list(
            "factory_id", "month", "oee", "band", "deployments", "finance"
        )
        figures = FactoryFigures.objects.order_by("factory_id").values_list(
            "factory_id", "invested", "payback_months", "annual_spend", "open_findings", "at_stake"
        )
        return list(months), list(figures)

    loaded = snapshot()
    assert loaded[0] and len(loaded[1]) == Factory.objects.count()
    assert "KPI rollups:" in demo["second_output"]
    rebuild()
    assert snapshot() == loaded
    factories = list(Factory.objects.all())
    rolled, raw = rois_by_factory(factories), roi_by_factory(factories)
    for factory in factories:
        if raw[factory.pk] is None:
            assert rolled[factory.pk] is None
            continue
        mine, theirs = rolled[factory.pk].as_dict(), raw[factory.pk].as_dict()
        assert {**mine, "series": []} == {**theirs, "series": []}, factory.slug
