"""Technology, integration and delivery signals on hand-built factories with known data."""

from __future__ import annotations

import datetime as dt

import pytest

from assessments.signals import SIGNALS, measure
from coe.choices import FactoryKind
from connectors.facts import Deployment, OTCounter
from connectors.models import Connector, Device, MetricSample, SyncRun
from registry.models import Capability
from registry.services import adoption_create, tool_create
from registry.taxonomy import load_taxonomy
from tests.factories import FactoryFactory

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
RATING = [0.25, 0.4, 0.7, 0.95]


@pytest.fixture
def caps(db) -> dict[str, Capability]:
    load_taxonomy(Capability)
    return {c.slug: c for c in Capability.objects.all()}


def adopt(factory, name: str, capability: Capability | None, when: dt.datetime = NOW):
    tool = tool_create(name=name, capabilities=[capability] if capability else [])
    adoption = adoption_create(factory=factory, declared_name=name, tool=tool)
    type(adoption).objects.filter(pk=adoption.pk).update(first_seen=when - dt.timedelta(days=400))
    return tool


def device(factory, serial: str, last_seen: dt.datetime) -> Device:
    return Device.objects.create(
        factory=factory,
        serial_number=serial,
        first_seen=NOW - dt.timedelta(days=100),
        last_seen=last_seen,
        updated_at=last_seen,
    )


def sample(factory, metric: str, value: float, days_ago: float, source: str = "", **extra):
    end = NOW - dt.timedelta(days=days_ago)
    return MetricSample.objects.create(
        factory=factory,
        metric=metric,
        value=value,
        period_start=end - dt.timedelta(days=1),
        period_end=end,
        source=source,
        **extra,
    )


def rating(key: str, factory, thresholds=RATING, now=NOW) -> tuple:
    reading = measure({"key": key, "direction": "higher", "thresholds": thresholds}, factory, now)
    return reading.measured, reading.value, reading.suggested_rating, reading


def test_every_new_signal_is_registered():
    for key in (
        "digital_twin",
        "vision_quality",
        "predictive_maintenance",
        "ai_operations",
        "systems_integration",
    ):
        assert key in SIGNALS


def test_digital_twin_reads_the_twin_tool_and_live_telemetry_of_its_assets(caps):
    plant = FactoryFactory(slug="twin-plant")
    adopt(plant, "Twin Builder", caps["digital-twin-simulation"])
    live = [device(plant, f"L{i}", NOW - dt.timedelta(hours=2)) for i in range(2)]
    quiet = device(plant, "Q1", NOW - dt.timedelta(days=3))
    device(plant, "not-twinned", NOW - dt.timedelta(hours=1))
    for d in [*live, quiet]:
        sample(plant, "twin.sync_lag_s", 1.2, days_ago=3, device=d, series=d.serial_number)
    measured, value, suggested, reading = rating("digital_twin", plant)
    # 2 of the 3 twin assets live: 0.25 + 0.75 × 2/3 = 0.75 → stage 4.
    assert measured and value == pytest.approx(0.75) and suggested == 4
    assert reading.inputs["twin_assets"] == 3 and reading.inputs["live_assets"] == 2
    assert "Twin Builder adopted" in reading.detail and "2 of 3 twin assets" in reading.detail


def test_digital_twin_tool_without_data_is_a_pilot_and_no_tool_is_a_measured_zero(caps):
    pilot = FactoryFactory(slug="pilot-plant")
    adopt(pilot, "Twin Builder", caps["digital-twin-simulation"])
    assert rating("digital_twin", pilot)[1:3] == (0.25, 2)
    none = FactoryFactory(slug="no-twin-plant")
    adopt(none, "Some MES", caps["mes"])
    assert rating("digital_twin", none)[1:3] == (0.0, 1)


def test_technology_signals_say_not_measured_with_the_reason(caps):
    empty = FactoryFactory(slug="empty-plant")
    app = FactoryFactory(slug="an-app", kind=FactoryKind.SOFTWARE)
    for key in ("digital_twin", "vision_quality", "predictive_maintenance", "ai_operations"):
        measured, value, suggested, reading = rating(key, empty)
        assert not measured and value is None and suggested is None
        assert "nothing to judge by" in reading.detail
    for key in ("digital_twin", "vision_quality", "predictive_maintenance"):
        measured, _v, _s, reading = rating(key, app)
        assert not measured and "applies to manufacturing factories" in reading.detail


def test_vision_quality_is_the_share_of_output_inspected(caps):
    plant = FactoryFactory(slug="vision-plant")
    adopt(plant, "VisionPro", caps["vision-quality-inspection"])
    OTCounter.objects.create(
        factory=plant,
        line="L1",
        period_start=NOW - dt.timedelta(days=2, hours=8),
        period_end=NOW - dt.timedelta(days=2),
        planned_time_s=28800,
        run_time_s=25000,
        ideal_cycle_time_s=20,
        total_count=1000,
        good_count=980,
    )
    sample(plant, "quality.vision_inspected", 500, days_ago=2, source="VisionPro")
    sample(plant, "quality.vision_inspected", 999, days_ago=45, source="VisionPro")  # too old
    measured, value, suggested, reading = rating("vision_quality", plant)
    assert measured and value == pytest.approx(0.625) and suggested == 3
    assert "500 of 1,000 parts (50%)" in reading.detail


def test_predictive_maintenance_is_the_share_of_work_orders_raised_by_predictions(caps):
    plant = FactoryFactory(slug="pdm-plant")
    adopt(plant, "Senseye", caps["predictive-maintenance"])
    adopt(plant, "Maximo", caps["cmms-maintenance"])
    sample(plant, "maintenance.work_orders", 10, days_ago=10, source="Maximo")
    sample(plant, "maintenance.predictive_work_orders", 8, days_ago=10, source="Senseye")
    measured, value, suggested, reading = rating("predictive_maintenance", plant)
    assert measured and value == pytest.approx(0.85) and suggested == 4
    assert reading.inputs["predictive_tools"] == ["Senseye"]
    cmms_only = FactoryFactory(slug="cmms-plant")
    adopt(cmms_only, "SAP PM", caps["cmms-maintenance"])
    assert rating("predictive_maintenance", cmms_only)[1:3] == (0.0, 1)


def test_ai_operations_counts_use_cases_in_production_and_experiments(caps):
    app = FactoryFactory(slug="ai-app", kind=FactoryKind.SOFTWARE)
    sample(app, "ai.demand_forecast", 4.2, days_ago=1)
    sample(app, "ai.anomaly_alerts", 3, days_ago=5)
    sample(app, "ai.old_model", 3, days_ago=60)  # retired: outside the 30 days
    measured, value, suggested, _ = rating("ai_operations", app, [0.5, 1, 2, 3])
    assert measured and value == 2.0 and suggested == 4
    plant = FactoryFactory(slug="ai-plant")
    adopt(plant, "VisionPro", caps["vision-quality-inspection"])
    measured, value, suggested, reading = rating("ai_operations", plant, [0.5, 1, 2, 3])
    assert (
        value == 0.5 and suggested == 2 and reading.inputs["experiments"] == ["vision inspection"]
    )


def test_integration_is_the_share_of_registry_systems_landing_data_within_90_days(caps):
    app = FactoryFactory(slug="int-app", kind=FactoryKind.SOFTWARE)
    for name in ("GitLab", "Jira", "Confluence", "Prometheus"):
        adopt(app, name, None)
    gitlab = Connector.objects.create(factory=app, name="Delivery", kind="gitlab")
    SyncRun.objects.create(
        connector=gitlab, status="succeeded", finished_at=NOW - dt.timedelta(hours=5)
    )
    sample(app, "service.availability", 99.9, days_ago=2, source="Prometheus")
    sample(app, "issues.open", 12, days_ago=120, source="Jira")  # outside the window
    measured, value, suggested, reading = rating("systems_integration", app, [0.15, 0.3, 0.5, 0.75])
    assert measured and value == 0.5 and suggested == 4
    assert set(reading.inputs["landing"]) == {"GitLab", "Prometheus"}
    assert reading.inputs["not_landing"] == ["Confluence", "Jira"]
    assert "GitLab 5 h ago" in reading.detail and "Prometheus 2 d ago" in reading.detail
    # Healthy connectors alone no longer make a factory integrated.
    lone = FactoryFactory(slug="lone-app", kind=FactoryKind.SOFTWARE)
    assert not rating("systems_integration", lone)[0]


def test_a_month_without_deployments_is_a_measured_zero_when_a_delivery_source_covers_it(db):
    app = FactoryFactory(slug="quiet-app", kind=FactoryKind.SOFTWARE)
    spec = {
        "key": "dora_deployment_frequency",
        "direction": "higher",
        "thresholds": [0.03, 1, 2, 3],
    }
    missing = measure(spec, app, NOW)
    assert not missing.measured and "no delivery connector" in missing.detail
    gitlab = Connector.objects.create(
        factory=app, name="GitLab", kind="gitlab", settings={"initial_days": 90}
    )
    SyncRun.objects.create(
        connector=gitlab, status="succeeded", finished_at=NOW - dt.timedelta(days=2)
    )
    zero = measure(spec, app, NOW)
    assert zero.measured and zero.value == 0.0 and zero.suggested_rating == 1
    assert (
        zero.inputs["deployments"] == 0
        and "GitLab (GitLab connector)" in (zero.inputs["covered_by"])
    )
    # Without a connector, deployments on both sides of the month prove it was quiet.
    pushed = FactoryFactory(slug="pushed-app", kind=FactoryKind.SOFTWARE)
    for days in (60, 5):
        Deployment.objects.create(
            factory=pushed,
            source_id=f"d{days}",
            environment="production",
            status="success",
            finished_at=NOW - dt.timedelta(days=days),
        )
    assert measure(spec, pushed, NOW).value == 0.0


def test_signals_measure_as_of_a_past_date_and_ignore_what_came_later(caps):
    plant = FactoryFactory(slug="history-plant")
    twin = tool_create(name="Twin Builder", capabilities=[caps["digital-twin-simulation"]])
    adoption_create(factory=plant, declared_name="Twin Builder", tool=twin)  # first seen now
    before = dt.datetime(2025, 1, 31, 23, 59, tzinfo=dt.UTC)
    reading = measure(
        {"key": "digital_twin", "direction": "higher", "thresholds": RATING}, plant, before
    )
    assert not reading.measured  # the registry did not know the adoption then
    device(plant, "D1", NOW)
    coverage = measure(
        {"key": "device_telemetry_coverage", "direction": "higher", "thresholds": RATING},
        plant,
        NOW - dt.timedelta(days=200),
    )
    assert not coverage.measured  # no device had landed 200 days ago


def test_integration_credits_a_tool_a_connector_names_in_whole_words(caps):
    plant = FactoryFactory(slug="named-plant")
    adopt(plant, "Ignition", caps["scada-hmi"])
    adopt(plant, "GitHub Actions", caps["ci-cd"])
    adopt(plant, "TIA Portal", caps["plc-engineering"])
    for name, kind in (("Ignition gateway (line 2)", "opcua"), ("Builds", "github")):
        connector = Connector.objects.create(factory=plant, name=name, kind=kind)
        SyncRun.objects.create(
            connector=connector, status="succeeded", finished_at=NOW - dt.timedelta(hours=3)
        )
    reading = rating("systems_integration", plant, [0.15, 0.3, 0.5, 0.75])[3]
    assert set(reading.inputs["landing"]) == {"Ignition", "GitHub Actions"}
    assert reading.inputs["not_landing"] == ["TIA Portal"]
