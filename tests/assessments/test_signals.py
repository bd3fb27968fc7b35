"""Evidence signals read real registry and connector rows; without data they say so."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from assessments.answers import answers_save
from assessments.services import assessment_create
from assessments.signals import SIGNALS, measure
from connectors.models import Device, SyncRun
from registry.models import (
    DuplicateFinding,
    Process,
    ProcessAdoption,
    ProcessVersion,
    ToolRingOverride,
)
from tests.connectors.helpers import make_connector
from tests.registry.builders import adoption, tool

# Signals measure as of a moment and ignore what came later: the registry rows and
# connectors these tests create now must exist by it, so it is a fixed hour ahead.
NOW = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=2)


def test_every_signal_named_by_the_default_model_exists(db):
    from assessments.services import current_model

    named = {
        c["signal"]["key"]
        for d in current_model().definition["dimensions"]
        for c in d["criteria"]
        if c.get("signal")
    }
    assert named <= set(SIGNALS)


def test_without_data_every_signal_says_not_measured(world):
    for key, signal in SIGNALS.items():
        found = signal(world.factory_a, NOW)
        assert found.measured is False and found.value is None, key
        assert found.detail, key


def test_adopt_ring_share_uses_the_ring_for_the_factory_kind(world):
    gitlab = tool("GitLab", ring="adopt")
    jenkins = tool("Jenkins", ring="hold")
    ignition = tool("Ignition", ring="trial")
    ToolRingOverride.objects.create(tool=ignition, factory_kind="manufacturing", ring="adopt")
    for used in (gitlab, jenkins, ignition):
        adoption(world.factory_a, used)
    adoption(world.factory_a, None, name="Homegrown tracker")  # unresolved: left out
    found = SIGNALS["adopt_ring_share"](world.factory_a, NOW)
    assert found.measured and round(found.value, 3) == 0.667
    assert "2 of 3" in found.detail and found.source.startswith("registry")
    reading = measure(
        {"key": "adopt_ring_share", "direction": "higher", "thresholds": [0.25, 0.5, 0.7, 0.85]},
        world.factory_a,
        NOW,
    )
    assert reading.suggested_rating == 3 and reading.measured_at == NOW


def test_open_duplicate_findings_count_only_unresolved_ones_of_the_factory(world):
    a, b = tool("Grafana", ring="adopt"), tool("Kibana", ring="trial")
    adoption(world.factory_a, a)
    adoption(world.factory_a, b)
    live = DuplicateFinding.objects.create(key="k1", kind="overlap", scope=world.factory_a)
    live.tools.set([a, b])
    portfolio = DuplicateFinding.objects.create(
        key="k2", kind="fragmentation", status="consolidating"
    )
    portfolio.factories.set([world.factory_a, world.factory_b])
    DuplicateFinding.objects.create(
        key="k3", kind="overlap", scope=world.factory_a, status="resolved"
    )
    DuplicateFinding.objects.create(key="k4", kind="overlap", scope=world.factory_b)
    found = SIGNALS["open_duplicate_findings"](world.factory_a, NOW)
    assert found.measured and found.value == 2.0
    reading = measure(
        {"key": "open_duplicate_findings", "direction": "lower", "thresholds": [4, 2, 1, 0]},
        world.factory_a,
        NOW,
    )
    assert reading.suggested_rating == 3


def test_process_adoption_is_the_share_of_processes_followed(world):
    processes = [Process.objects.create(name=f"P{i}", slug=f"p{i}") for i in range(4)]
    versions = [
        ProcessVersion.objects.create(process=p, version="1", steps="Do it") for p in processes
    ]
    ProcessAdoption.objects.create(factory=world.factory_a, process_version=versions[0])
    newer = ProcessVersion.objects.create(process=processes[0], version="2", steps="Do it better")
    ProcessAdoption.objects.create(factory=world.factory_a, process_version=newer)
    ProcessAdoption.objects.create(factory=world.factory_a, process_version=versions[1])
    found = SIGNALS["process_adoption"](world.factory_a, NOW)
    assert found.measured and found.value == 0.5 and "2 of 4" in found.detail


def test_device_coverage_and_connector_health_read_landed_facts(world):
    def device(serial, seen_hours_ago, status="active"):
        seen = NOW - dt.timedelta(hours=seen_hours_ago)
        return Device.objects.create(
            factory=world.factory_a,
            serial_number=serial,
            serial_normalised=serial,
            status=status,
            first_seen=seen,
            last_seen=seen,
            updated_at=seen,
        )

    device("A1", 1)
    device("A2", 5)
    device("A3", 30, status="offline")
    device("A4", 400, status="stale")  # left the inventory: not counted
    found = SIGNALS["device_telemetry_coverage"](world.factory_a, NOW)
    assert found.measured and round(found.value, 3) == 0.667 and "2 of 3" in found.detail

    ok = make_connector(world.factory_a, "opcua", name="presses")
    bad = make_connector(world.factory_a, "mqtt", name="line 2")
    make_connector(world.factory_a, "modbus", name="never synced")
    SyncRun.objects.create(connector=ok, status="failed", finished_at=NOW - dt.timedelta(days=2))
    SyncRun.objects.create(
        connector=ok, status="succeeded", finished_at=NOW - dt.timedelta(hours=1)
    )
    SyncRun.objects.create(
        connector=bad, status="succeeded", finished_at=NOW - dt.timedelta(days=3)
    )
    SyncRun.objects.create(connector=bad, status="failed", finished_at=NOW - dt.timedelta(hours=2))
    health = SIGNALS["connector_health"](world.factory_a, NOW)
    assert health.measured and round(health.value, 3) == 0.333
    assert health.measured_at == NOW - dt.timedelta(hours=1)


def test_accepted_signal_counts_as_evidence_and_override_needs_a_comment(world):
    adoption(world.factory_a, tool("GitLab", ring="adopt"))
    assessment = assessment_create(factory=world.factory_a)
    reading = assessment.signal_readings.get(criterion="platform.standard_tools")
    assert reading.measured and reading.value == 1.0 and reading.suggested_rating == 5
    [answer] = answers_save(
        assessment=assessment, rows=[{"criterion": "platform.standard_tools", "rating": 5}]
    )
    assert answer.suggestion == "accepted"
    from assessments.services import assessment_inputs

    assert assessment_inputs(assessment, timezone.localdate())["platform.standard_tools"].evidenced


def test_score_factories_and_the_nightly_task_re_measure_open_audits(world):
    from io import StringIO

    from django.core.management import call_command

    from assessments.tasks import refresh_signals_task

    assessment = assessment_create(factory=world.factory_a)
    reading = assessment.signal_readings.get(criterion="platform.standard_tools")
    assert reading.measured is False
    adoption(world.factory_a, tool("GitLab", ring="adopt"))
    out = StringIO()
    call_command("score_factories", stdout=out)
    assert "re-measured for 1 open assessment" in out.getvalue()
    assert "alpha-plant" in out.getvalue() and "no final assessment" in out.getvalue()
    assert assessment.signal_readings.get(criterion="platform.standard_tools").measured
    assert refresh_signals_task.delay([world.factory_b.pk]).get() == 0
    assert refresh_signals_task.delay().get() == 1
