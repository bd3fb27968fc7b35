"""Events are emitted where things happen, and periodic ones once per object and period."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import pytest
from django.utils import timezone

from assessments.events import emit_audits_due
from assessments.models import Assessment
from coe.models import Event
from connectors.choices import SyncStatus
from connectors.events import emit_unhealthy_connectors
from connectors.models import SyncRun
from connectors.services import connector_create, sync_run_start, sync_runs_reap
from registry import services
from registry.detection import duplicates_detect
from registry.finding_events import emit_expiring_waivers
from registry.models import DuplicateFinding
from tests.assessments.test_pages import final_audit
from tests.registry.builders import adoption, capability, tool
from tests.tool_requests.request_helpers import make_request, move
from tool_requests.events import emit_overdue_requests
from tool_requests.models import ToolRequest

pytestmark = pytest.mark.django_db


def kinds() -> list[str]:
    return list(Event.objects.order_by("occurred_at", "id").values_list("event", flat=True))


@pytest.fixture
def overlap(world):
    cap = capability("ci-cd", "CI/CD")
    gitlab = tool("GitLab", caps=[cap], ring="adopt")
    jenkins = tool("Jenkins", caps=[cap], ring="hold")
    adoption(world.factory_a, gitlab, cost="1000")
    return adoption(world.factory_a, jenkins, cost="9000")


def test_detection_emits_opened_then_resolved_then_reopened(world, overlap):
    duplicates_detect()
    (event,) = Event.objects.all()
    assert event.event == "finding.opened" and event.factory_ids == [world.factory_a.pk]
    assert event.data["kind"] == "overlap" and event.data["capability"] == "CI/CD"
    assert event.data["factories"] == ["alpha-plant"] and event.data["annual_cost_at_stake"]
    duplicates_detect()  # unchanged: nothing new
    assert kinds() == ["finding.opened"]
    overlap.status = "retired"
    overlap.save()
    duplicates_detect()
    assert kinds() == ["finding.opened", "finding.resolved"]
    overlap.status = "active"
    overlap.save()
    duplicates_detect()
    assert kinds() == ["finding.opened", "finding.resolved", "finding.reopened"]


def test_resolving_and_reopening_a_finding_by_hand_emits(world, overlap):
    duplicates_detect()
    finding = DuplicateFinding.objects.get()
    services.finding_transition(finding=finding, action="acknowledge")
    services.finding_transition(finding=finding, action="resolve")
    services.finding_transition(finding=finding, action="reopen")
    assert kinds() == ["finding.opened", "finding.resolved", "finding.reopened"]


def test_a_waiver_expiring_within_14_days_is_announced_once(world, overlap):
    duplicates_detect()
    finding = DuplicateFinding.objects.get()
    today = timezone.localdate()
    services.finding_waive(
        finding=finding,
        reason="contract ends",
        approver=world.users["staff"],
        expires_on=today + timedelta(days=20),
    )
    assert emit_expiring_waivers(today=today) == 0
    assert emit_expiring_waivers(today=today + timedelta(days=6)) == 1
    assert emit_expiring_waivers(today=today + timedelta(days=7)) == 0  # once per waiver
    event = Event.objects.get(event="waiver.expiring")
    assert event.data["days_left"] == 14 and event.data["approver"] == "staff"


def test_tool_request_submission_and_decision_are_emitted(world):
    req = make_request(world)
    move(req, ("submit", world.users["member_a"]))
    assert kinds() == ["tool_request.submitted"]
    req = ToolRequest.objects.get(pk=req.pk)
    move(req, ("reject", world.users["owner_a"]))
    assert kinds() == ["tool_request.submitted", "tool_request.decided"]
    decided = Event.objects.get(event="tool_request.decided")
    assert decided.data["decision"] == "rejected" and decided.data["factory"] == "alpha-plant"
    assert decided.factory_ids == [world.factory_a.pk]


def test_an_overdue_request_is_announced_once_per_step(world):
    req = make_request(world)
    move(req, ("submit", world.users["member_a"]))
    due = ToolRequest.objects.get(pk=req.pk).owner_due_on
    assert emit_overdue_requests(today=due) == 0
    assert emit_overdue_requests(today=due + timedelta(days=1)) == 1
    assert emit_overdue_requests(today=due + timedelta(days=2)) == 0


def test_finalising_emits_finalized_and_a_stage_change_only_when_the_stage_moves(world):
    final_audit(world.factory_a)
    assert kinds() == ["assessment.finalized", "stage.changed"]  # first stage: from none
    final_audit(world.factory_a)
    assert kinds() == ["assessment.finalized", "stage.changed", "assessment.finalized"]
    final_audit(world.factory_a, lambda d, c: 1)
    changed = Event.objects.filter(event="stage.changed").order_by("occurred_at").last()
    assert changed.data["previous_stage"] > changed.data["stage"] == 1


def test_audit_reminders_come_30_7_and_0_days_before_each_once(world):
    audit = final_audit(world.factory_a)
    world.factory_b.delete()  # never audited: one reminder of its own, not wanted here
    Assessment.objects.filter(pk=audit.pk).update(assessed_on=dt.date(2026, 1, 15))
    due = dt.date(2027, 1, 15)  # twelve-month cadence
    Event.objects.all().delete()
    assert emit_audits_due(today=due - timedelta(days=31)) == 0
    assert emit_audits_due(today=due - timedelta(days=30)) == 1
    assert emit_audits_due(today=due - timedelta(days=20)) == 0
    assert emit_audits_due(today=due - timedelta(days=7)) == 1
    assert emit_audits_due(today=due) == 1
    assert emit_audits_due(today=due + timedelta(days=3)) == 0
    reminders = [e.data["reminder"] for e in Event.objects.filter(event="audit.due")]
    assert sorted(reminders) == ["0", "30", "7"]


def test_a_failed_sync_and_an_unhealthy_connector_are_emitted(world, settings):
    settings.CONNECTOR_RUN_STALE_SECONDS = 600
    connector = connector_create(
        factory=world.factory_a,
        name="cmdb",
        kind="netbox",
        settings={"base_url": "http://127.0.0.1:9/"},
        credentials={"token": "t"},
    )
    run = sync_run_start(connector=connector, enqueue=False)
    past = timezone.now() - timedelta(seconds=601)
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncStatus.RUNNING, started_at=past, heartbeat_at=past
    )
    assert sync_runs_reap() == [run.pk]
    failed = Event.objects.get(event="sync.failed")
    assert failed.data["sync_run"] == run.pk and failed.data["factory"] == "alpha-plant"
    today = timezone.localdate()
    assert emit_unhealthy_connectors(today=today) == 1
    assert emit_unhealthy_connectors(today=today) == 0  # once a day
    assert emit_unhealthy_connectors(today=today + timedelta(days=1)) == 1
