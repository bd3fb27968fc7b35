"""Duplicate detection: the three kinds, stable findings, and every lifecycle transition."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from registry import services
from registry.detection import duplicates_detect
from registry.duplicates import AdoptionRec, ToolRec, detect, homepage_key
from registry.models import DuplicateFinding
from tests.factories import FactoryFactory
from tests.registry.builders import adoption, capability, tool


# --- pure matching --------------------------------------------------------------------------
def test_same_tool_by_vendor_and_name_by_homepage_and_by_alias():
    tools = [
        ToolRec(1, "jfrog artifactory", "jfrog", "https://jfrog.com/artifactory"),
        ToolRec(2, "jfrog artifactorys", "jfrog"),
        ToolRec(3, "maximo", "ibm", "https://www.ibm.com/products/maximo/"),
        ToolRec(4, "maximo application suite", "ibm", "http://ibm.com/products/maximo"),
        ToolRec(5, "pi system", "aveva", alias_keys=("osisoft pi",)),
        ToolRec(6, "osisoft pi", "osisoft"),
        ToolRec(7, "grafana", "grafana labs"),
        ToolRec(8, "grafana loki", "grafana labs"),
    ]
    found = {f.key: f.detail["reason"] for f in detect(tools, []) if f.kind == "same_tool"}
    assert found == {
        "same_tool:1:2": "name",
        "same_tool:3:4": "homepage",
        "same_tool:5:6": "alias",
    }


def test_homepage_key_ignores_scheme_www_and_trailing_slash():
    assert homepage_key("https://www.GitLab.com/") == homepage_key("http://gitlab.com")


def test_overlap_and_fragmentation_with_standard_and_cost_at_stake():
    tools = [ToolRec(1, "gitlab", ring="adopt"), ToolRec(2, "jenkins", ring="hold"),
             ToolRec(3, "bamboo", ring="retired")]  # fmt: skip
    adoptions = [
        AdoptionRec(10, 100, 1, Decimal("1000"), (7,)),
        AdoptionRec(11, 101, 1, Decimal("1000"), (7,)),
        AdoptionRec(12, 102, 2, Decimal("18000"), (7,)),
        AdoptionRec(13, 102, 3, Decimal("9000"), (7,)),
    ]
    findings = {f.key: f for f in detect(tools, adoptions)}
    overlap = findings["overlap:102:7"]
    assert overlap.tool_ids == [2, 3] and overlap.scope_id == 102
    assert overlap.standard_id == 2  # better ring of the two the factory runs
    assert overlap.cost == Decimal("9000")
    frag = findings["fragmentation:7"]
    assert frag.standard_id == 1  # the adopt-ring tool
    assert frag.cost == Decimal("27000")  # the non-standard adoptions
    assert frag.factory_ids == [100, 101, 102]


def test_fragmentation_without_an_adopt_tool_suggests_the_most_adopted():
    tools = [ToolRec(1, "a", ring="trial"), ToolRec(2, "b", ring="assess")]
    adoptions = [
        AdoptionRec(1, 100, 2, Decimal("5"), (7,)),
        AdoptionRec(2, 101, 2, Decimal("5"), (7,)),
        AdoptionRec(3, 102, 1, Decimal("7"), (7,)),
    ]
    (frag,) = [f for f in detect(tools, adoptions) if f.kind == "fragmentation"]
    assert frag.standard_id == 2 and frag.cost == Decimal("7")


def test_one_tool_per_capability_everywhere_is_no_finding():
    tools = [ToolRec(1, "gitlab", ring="adopt")]
    adoptions = [AdoptionRec(i, 100 + i, 1, Decimal("1"), (7,)) for i in range(5)]
    assert detect(tools, adoptions) == []


# --- the persisted service ------------------------------------------------------------------
@pytest.fixture
def ci(db):
    """Two factories with different CI/CD tools, one of them running two."""
    cap = capability("ci-cd", "CI/CD")
    gitlab = tool("GitLab", caps=[cap], ring="adopt", annual_cost_per_seat=Decimal("100"))
    jenkins = tool("Jenkins", caps=[cap], ring="hold")
    bamboo = tool("Bamboo", caps=[cap], ring="retired")
    a, b = FactoryFactory(slug="plant-a"), FactoryFactory(slug="app-b")
    adoption(a, gitlab, seats=10)
    adoption(b, jenkins, cost="18000")
    legacy = adoption(b, bamboo, cost="9000")
    return {"cap": cap, "a": a, "b": b, "gitlab": gitlab, "bamboo": legacy}


def test_detection_persists_findings_with_tools_factories_and_cost(ci):
    summary = duplicates_detect()
    assert summary.created == 2
    frag = DuplicateFinding.objects.get(kind="fragmentation")
    assert frag.annual_cost_at_stake == Decimal("27000.00")
    assert frag.suggested_standard == ci["gitlab"]
    assert {t.name for t in frag.tools.all()} == {"GitLab", "Jenkins", "Bamboo"}
    assert {f.slug for f in frag.factories.all()} == {"plant-a", "app-b"}
    overlap = DuplicateFinding.objects.get(kind="overlap")
    assert overlap.scope == ci["b"] and overlap.annual_cost_at_stake == Decimal("9000.00")


def test_findings_are_stable_across_re_runs(ci):
    duplicates_detect()
    ids = set(DuplicateFinding.objects.values_list("pk", flat=True))
    summary = duplicates_detect()
    assert summary.created == 0 and summary.updated == 2
    assert set(DuplicateFinding.objects.values_list("pk", flat=True)) == ids


def test_detection_takes_a_constant_number_of_queries(ci, django_assert_max_num_queries):
    duplicates_detect()
    for i in range(20):
        adoption(FactoryFactory(slug=f"more-{i}"), ci["bamboo"].tool, cost="100")
    # 16 for detection, one INSERT each for the change-log entries of the findings
    # opened and of the findings changed, however many; the slugs of the factory
    # previews, the stake rows (one DELETE and one INSERT for findings written whole, at
    # most three statements for the rows that changed of the others) and the tools'
    # registry figures; with no broker, the touched factories' finding figures (open
    # findings, money at stake), refreshed inline in two.
    with django_assert_max_num_queries(22 + 6):
        duplicates_detect()


def test_lifecycle_acknowledge_consolidate_resolve_reopen(ci):
    duplicates_detect()
    finding = DuplicateFinding.objects.get(kind="overlap")
    services.finding_transition(finding=finding, action="acknowledge")
    assert finding.status == "acknowledged"
    services.finding_transition(finding=finding, action="consolidate", note="moving to GitLab")
    assert finding.status == "consolidating" and finding.note == "moving to GitLab"
    services.finding_transition(finding=finding, action="resolve")
    assert finding.status == "resolved" and finding.resolved_at is not None
    services.finding_transition(finding=finding, action="reopen")
    assert finding.status == "open" and finding.resolved_at is None
    with pytest.raises(ValidationError):
        services.finding_transition(finding=finding, action="reopen")


def test_a_resolved_finding_reopens_when_it_recurs(ci):
    duplicates_detect()
    finding = DuplicateFinding.objects.get(kind="overlap")
    services.finding_transition(finding=finding, action="resolve")
    summary = duplicates_detect()  # Bamboo is still there
    finding.refresh_from_db()
    assert finding.status == "open" and summary.reopened == 1


def test_a_finding_no_longer_detected_is_resolved(ci):
    duplicates_detect()
    ci["bamboo"].status = "retired"
    ci["bamboo"].save()
    duplicates_detect()
    overlap = DuplicateFinding.objects.get(kind="overlap")
    assert overlap.status == "resolved"
    assert DuplicateFinding.objects.get(kind="fragmentation").status == "open"


def test_a_waiver_needs_a_reason_an_approver_and_a_future_expiry(ci, world):
    duplicates_detect()
    finding = DuplicateFinding.objects.get(kind="overlap")
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as missing:
        services.finding_waive(finding=finding, reason=" ", approver=None, expires_on=None)
    assert set(missing.value.message_dict) == {"reason", "approver", "expires_on"}
    with pytest.raises(ValidationError):
        services.finding_waive(
            finding=finding, reason="r", approver=world.users["staff"],
            expires_on=timezone.localdate(),
        )  # fmt: skip
    services.finding_waive(
        finding=finding, reason="vendor contract", approver=world.users["staff"],
        expires_on=tomorrow,
    )  # fmt: skip
    duplicates_detect()
    finding.refresh_from_db()
    assert finding.status == "waived"  # still within its waiver


def test_an_expired_waiver_reopens_the_finding(ci, world):
    duplicates_detect()
    finding = DuplicateFinding.objects.get(kind="overlap")
    services.finding_waive(
        finding=finding, reason="contract", approver=world.users["staff"],
        expires_on=timezone.localdate() + dt.timedelta(days=30),
    )  # fmt: skip
    later = timezone.now() + dt.timedelta(days=31)
    summary = duplicates_detect(now=later)
    finding.refresh_from_db()
    assert finding.status == "open" and summary.reopened == 1
    assert finding.waiver_reason == "" and "expired" in finding.note


def test_declared_capability_narrows_a_suite_to_what_the_factory_uses(db):
    scm, ci_cap = capability("source-control"), capability("ci-cd", "CI/CD")
    gitlab = tool("GitLab", caps=[scm, ci_cap], ring="adopt")
    jenkins = tool("Jenkins", caps=[ci_cap])
    factory = FactoryFactory(slug="legacy")
    adoption(factory, gitlab, declared_capability="Source control")
    adoption(factory, jenkins)
    duplicates_detect()
    assert not DuplicateFinding.objects.filter(kind="overlap").exists()


def test_detect_duplicates_command_prints_json(ci, capsys):
    call_command("detect_duplicates", "--json")
    out = capsys.readouterr().out
    assert '"kind": "fragmentation"' in out and '"annual_cost_at_stake": "27000.00"' in out
    call_command("detect_duplicates")
    assert "2 findings" in capsys.readouterr().out
