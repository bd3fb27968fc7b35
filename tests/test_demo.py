"""The demo organisation, loaded once for the whole module (twice: the second load must add
nothing) and checked area by area: core, registry, tool requests, connectors, audits.

One module loads it because a load takes tens of seconds; each test runs in a transaction over
the committed demo, so what a test writes is rolled back.
"""

from __future__ import annotations

import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.http import HttpRequest
from django.urls import reverse
from rest_framework.test import APIClient

from assessments.demo import OVERRIDES
from assessments.models import Assessment, MaturityModel, ReviewComment, SignalReading
from coe import generations
from coe.models import Factory, Membership
from connectors.choices import SyncStatus
from connectors.models import Connector, Device, DeviceSourceRecord, SyncRun
from registry.models import Adoption, Capability, DuplicateFinding, Process, Tool
from registry.selectors import at_stake_total
from registry.taxonomy import load_taxonomy
from tool_requests.choices import RequestStatus
from tool_requests.demo import load_demo as load_request_demo
from tool_requests.models import ToolRequest

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


COUNTED = {
    "factories": Factory,
    "memberships": Membership,
    "tools": Tool,
    "adoptions": Adoption,
    "findings": DuplicateFinding,
    "requests": ToolRequest,
    "devices": Device,
    "audits": Assessment,
    "readings": SignalReading,
}


def _counts() -> dict[str, int]:
    return {name: model.objects.count() for name, model in COUNTED.items()}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo loaded twice (idempotent), once for every test of this module."""
    with django_db_blocker.unblock():
        first = StringIO()
        began = time.process_time()
        call_command("load_demo", stdout=first)
        first_cpu = time.process_time() - began
        counts = _counts()
        second = StringIO()
        call_command("load_demo", stdout=second)
        yield {
            "cpu_s": first_cpu,
            "counts": counts,
            "counts_after_second": _counts(),
            "first_output": first.getvalue(),
            "second_output": second.getvalue(),
        }
        call_command("flush", interactive=False, verbosity=0)
        # The flush also empties what migrations seeded; later tests rely on the taxonomy
        # and on the data-generation rows (a page would otherwise put them back on its
        # first request, a few queries a later test's query count does not expect).
        load_taxonomy(Capability)
        for group in generations.GROUPS:
            generations.current(group)


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
    assert demo["counts_after_second"] == demo["counts"]
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


# Core: factories, people and the logins printed for them.


@pytest.mark.django_db
def test_the_demo_prints_the_logins_and_has_both_kinds_of_factory(demo):
    counts = demo["counts"]
    assert counts["factories"] >= 8 and counts["memberships"] > 0
    assert {"software", "manufacturing"} == set(Factory.objects.values_list("kind", flat=True))
    assert Factory.objects.values("business_unit").distinct().count() == 3
    for login in ("coe.lead", "owner.automotive", "member.stuttgart", "password for all"):
        assert login in demo["first_output"]


# Registry: the story of DEMO.md.


@pytest.mark.django_db
def test_demo_registry_has_duplicates_worth_acting_on_and_a_waiver(demo):
    assert Tool.objects.filter(name="SAP S/4HANA", ring="adopt").exists()
    assert Process.objects.count() == 5
    stuttgart = DuplicateFinding.objects.filter(kind="overlap", scope__slug="stuttgart-press")
    assert {f.capability.slug for f in stuttgart} == {"historian", "cmms-maintenance"}
    dealer = DuplicateFinding.objects.get(kind="overlap", scope__slug="dealer-portal")
    assert {t.name for t in dealer.tools.all()} == {"Jenkins", "GitHub Actions", "Bamboo"}
    assert DuplicateFinding.objects.filter(kind="fragmentation", capability__slug="issue-tracking")
    waived = DuplicateFinding.objects.get(status="waived")
    assert waived.waiver_reason and waived.waiver_approver.username == "coe.lead"
    assert DuplicateFinding.objects.filter(status="waived").count() == 1
    # The live findings' adoptions, each counted once: a six-figure sum.
    assert at_stake_total(DuplicateFinding.objects.all()) >= Decimal("100000")


@pytest.mark.django_db
def test_demo_names_resolve_fuzzily_and_one_stays_unresolved(demo):
    opcenter = Adoption.objects.get(declared_name="Siemens Opcenter")
    assert opcenter.tool.name == "Opcenter MES" and opcenter.resolution_confidence < 1
    assert Adoption.objects.get(declared_name="jenkins-lts").tool.name == "Jenkins"
    assert list(
        Adoption.objects.filter(tool__isnull=True).values_list("declared_name", flat=True)
    ) == ["TurbineWatch (in-house)"]


@pytest.mark.django_db
def test_demo_pages_render_for_a_business_owner(demo, client):
    from django.conf import settings

    client.login(
        request=HttpRequest(), username="owner.automotive", password=settings.DEMO_PASSWORD
    )
    for name in ("tool-list", "tech-radar", "duplicate-list", "registry-unresolved"):
        assert client.get(reverse(name)).status_code == 200
    body = client.get(reverse("factory-detail", args=["stuttgart-press"])).content.decode()
    assert "Canary Historian" in body and "Overlap within a factory" in body


# Tool requests: every state, and the requests loader adds none when run again.


@pytest.mark.django_db
def test_demo_has_requests_in_every_state_and_is_idempotent(demo):
    from coe.demo import load_core

    statuses = set(ToolRequest.objects.values_list("status", flat=True))
    assert statuses == set(RequestStatus.values)
    assert ToolRequest.objects.filter(fast_track=True, status="approved").exists()
    assert ToolRequest.objects.exclude(exception_expires_on=None).exists()
    assert ToolRequest.objects.overdue().exists()
    provisioned = ToolRequest.objects.get(status="provisioned")
    assert provisioned.adoption.source == "request"
    count = ToolRequest.objects.count()
    load_request_demo(load_core(), StringIO())
    assert ToolRequest.objects.count() == count


# Connectors: the three connected plants, synced for real against local simulators.


@pytest.mark.django_db
def test_load_demo_pulls_a_few_hundred_devices_over_opcua_mqtt_and_modbus(demo):
    synced = [line for line in demo["first_output"].splitlines() if line.startswith("  ")]
    assert any("Press shop OPC UA: succeeded" in line for line in synced), synced
    total = Device.objects.count()
    assert 200 <= total <= 400
    kinds = set(DeviceSourceRecord.objects.values_list("source_kind", flat=True))
    assert kinds == {"opcua", "mqtt", "modbus"}
    assert Device.objects.filter(status="stale").exists()
    assert Device.objects.filter(status="offline", factory__slug="puebla-assembly").exists()
    # Pilsen's CNC cells answer on OPC UA and Modbus: one device, two sources, OPC UA firmware.
    cell = Device.objects.get(serial_number="CNC-0003")
    assert cell.source_records.count() == 2 and cell.firmware == "3.2.7"
    assert not SyncRun.objects.filter(status="failed").exists()
