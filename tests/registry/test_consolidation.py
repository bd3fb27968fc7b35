"""Consolidation: merging two registry tools, plans on findings, realised savings."""

import datetime as dt
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from registry import services
from registry.detection import duplicates_detect
from registry.models import Adoption, DuplicateFinding, RingChange, Tool, ToolAlias
from tests.registry.builders import adoption, capability, tool
from tests.tool_requests.request_helpers import make_request
from tool_requests.models import ToolRequest


@pytest.fixture
def pair(world):
    """One product registered twice (same vendor, near-identical name)."""
    cap = capability("ci-cd")
    jenkins = tool("Jenkins", caps=[cap], ring="adopt", vendor="Jenkins project",
                   aliases=["Hudson"])  # fmt: skip
    twin = tool("Jenkins Server", caps=[cap], ring="assess", vendor="Jenkins project",
                aliases=["Jenkins Pipeline"])  # fmt: skip
    services.tool_set_ring(tool=twin, ring="trial", reason="Pilot", actor=world.users["staff"])
    adoption(world.factory_a, jenkins, cost="1000")
    adoption(world.factory_b, twin, cost="500")
    duplicates_detect()
    return jenkins, twin


def merge(world, source, into, persona="staff", **extra):
    return world.client(persona).post(
        reverse("api:tool-merge", args=[source.slug]),
        {"into": into.slug, "comment": "One product", **extra},
        format="json",
    )


def test_merge_moves_everything_and_resolves_the_same_tool_finding(world, pair):
    jenkins, twin = pair
    request = make_request(world, key="b", who="member_b", tool_obj=twin)
    same = DuplicateFinding.objects.get(kind="same_tool")
    assert set(same.tools.all()) == {jenkins, twin}
    response = merge(world, twin, jenkins)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["into"] == "jenkins" and body["adoptions"] == 1 and body["requests"] == 1
    assert body["alias_added"] == "Jenkins Server" and body["findings_resolved"] == [same.pk]
    assert not Tool.objects.filter(pk=twin.pk).exists()
    assert Adoption.objects.filter(tool=jenkins).count() == 2
    assert ToolRequest.objects.get(pk=request.pk).tool_id == jenkins.pk
    assert sorted(jenkins.alias_names) == ["Hudson", "Jenkins Pipeline", "Jenkins Server"]
    assert RingChange.objects.filter(tool=jenkins, to_ring="trial", reason="Pilot").exists()
    same.refresh_from_db()
    assert same.status == "resolved" and "Merged 'Jenkins Server' into 'Jenkins'" in same.note
    jenkins.refresh_from_db()
    assert jenkins.ring == "adopt"  # the target keeps its ring
    # The change log records the merge and every moved row.
    assert LogEntry.objects.filter(
        object_repr="Jenkins Server", action=LogEntry.Action.DELETE
    ).exists()
    (merged,) = [
        e for e in LogEntry.objects.filter(object_repr="Jenkins") if "merged" in (e.changes or {})
    ]
    assert merged.additional_data["summary"]["merged"] == "jenkins-server"
    assert merged.additional_data["summary"]["comment"] == "One product"
    assert LogEntry.objects.filter(
        content_type__model="adoption", action=LogEntry.Action.UPDATE
    ).exists()
    # A re-run does not bring the finding back.
    duplicates_detect()
    assert not DuplicateFinding.objects.filter(kind="same_tool").exclude(status="resolved")


def test_merge_is_for_coe_staff_and_refuses_a_tool_into_itself(world, pair):
    jenkins, twin = pair
    assert merge(world, twin, jenkins, persona="owner_a").status_code == 403
    refused = merge(world, jenkins, jenkins)
    assert refused.status_code == 400 and "into" in refused.json()
    missing = world.client("staff").post(
        reverse("api:tool-merge", args=[twin.slug]), {"into": "nope"}, format="json"
    )
    assert missing.status_code == 400
    assert Tool.objects.count() == 2


@pytest.fixture
def overlap(world):
    cap = capability("ci-cd")
    gitlab = tool("GitLab", caps=[cap], ring="adopt", annual_cost_per_seat=Decimal("100"))
    bamboo = tool("Bamboo", caps=[cap], ring="hold")
    adoption(world.factory_a, gitlab, seats=10)
    kept = adoption(world.factory_a, bamboo, cost="9000")
    adoption(world.factory_b, bamboo, cost="3000")
    duplicates_detect()
    return gitlab, bamboo, kept


def test_a_plan_on_an_overlap_and_its_progress_from_adoptions(world, overlap):
    gitlab, bamboo, kept = overlap
    finding = DuplicateFinding.objects.get(kind="overlap")
    url = reverse("api:duplicate-plan", args=[finding.pk])
    due = (timezone.localdate() + dt.timedelta(days=90)).isoformat()
    client = world.client("staff")
    bad = client.post(url, {"standard": "gitlab", "factories": ["beta-app"], "due_on": due},
                      format="json")  # fmt: skip
    assert bad.status_code == 400 and "factories" in bad.json()
    response = client.post(
        url, {"standard": "gitlab", "factories": ["alpha-plant"], "due_on": due}, format="json"
    )
    assert response.status_code == 200, response.content
    plan = response.json()["plan"]
    assert plan["standard"] == "gitlab" and plan["owner"] == "staff"
    assert plan["progress"] == {"factories": 1, "done": 0, "share": 0.0, "remaining": [
        world.factory_a.pk]}  # fmt: skip
    assert response.json()["status"] == "consolidating"
    assert world.client("member_a").post(url, {}, format="json").status_code == 403
    # The factory retires Bamboo: the plan is done and the saving realised.
    Adoption.objects.filter(pk=kept.pk).update(status="retired")
    row = client.get(reverse("api:duplicate-detail", args=[finding.pk])).json()
    assert row["plan"]["progress"]["done"] == 1 and row["plan"]["progress"]["share"] == 1.0
    assert row["cost_at_detection"] == "9000.00" and row["realised_savings"] == "9000.00"


def test_realised_savings_per_factory_business_unit_and_portfolio(world, overlap):
    gitlab, bamboo, kept = overlap
    frag = DuplicateFinding.objects.get(kind="fragmentation")
    assert frag.cost_at_detection == Decimal("12000.00")
    # Alpha cuts Bamboo to 4,000 a year; Beta drops it.
    Adoption.objects.filter(pk=kept.pk).update(annual_cost=Decimal("4000"))
    Adoption.objects.filter(factory=world.factory_b).delete()
    body = world.client("staff").get(reverse("api:savings")).json()
    rows = {r["kind"]: r for r in body["findings"]}
    assert rows["overlap"]["realised_savings"] == "5000.00"
    assert rows["fragmentation"]["realised_savings"] == "8000.00"
    assert body["portfolio"]["realised_savings"] == "13000.00"
    units = {r["business_unit"]: r["realised_savings"] for r in body["by_business_unit"]}
    assert units == {"Automotive": "10000.00", "Digital": "3000.00"}
    assert body["trend"][-1]["realised_savings"] == "13000.00"
    # A member of Beta sees Beta's share only.
    member = world.client("member_b").get(reverse("api:savings")).json()
    assert member["portfolio"]["realised_savings"] == "3000.00"
    assert [r["factory"] for r in member["by_factory"]] == ["beta-app"]
    assert world.client(None).get(reverse("api:savings")).status_code in (401, 403)


def test_the_duplicates_page_shows_each_findings_realised_saving(world, overlap, client):
    """The page adds savings up from the stake rows: the same amounts as the baseline gives
    (a cost cut, a deleted adoption counted at 0 now)."""
    gitlab, bamboo, kept = overlap
    Adoption.objects.filter(pk=kept.pk).update(annual_cost=Decimal("4000"))
    Adoption.objects.filter(factory=world.factory_b).delete()
    client.force_login(world.users["staff"])
    html = client.get(reverse("duplicate-list")).content.decode()
    for kind, shown in (("overlap", "5,000"), ("fragmentation", "8,000")):
        pk = DuplicateFinding.objects.get(kind=kind).pk
        row = html[html.index(f'id="finding-{pk}"') :]
        cell = row[row.index('class="num finding-realised">') :]
        assert cell.split(">", 1)[1].startswith(f"{shown}<"), cell[:80]
    # The tiles and the business-unit line: the same money as the savings API adds up.
    assert 'id="realised-savings">13,000<' in html
    assert "By business unit: Automotive 10,000 · Digital 3,000</p>" in html
    assert '"x":["' in html[html.index('id="chart-savings-trend"') :]  # the trend has a point


def test_the_baseline_is_kept_when_costs_change(world, overlap):
    finding = DuplicateFinding.objects.get(kind="overlap")
    before = finding.baseline
    Adoption.objects.filter(tool__name="Bamboo", factory=world.factory_a).update(
        annual_cost=Decimal("1")
    )
    duplicates_detect()
    finding.refresh_from_db()
    assert finding.baseline == before and finding.cost_at_detection == Decimal("9000.00")
    assert finding.annual_cost_at_stake == Decimal("1.00")
    assert ToolAlias.objects.count() == 0


def test_pages_merge_a_tool_and_plan_a_finding(world, overlap, client):
    gitlab, bamboo, kept = overlap
    client.force_login(world.users["staff"])
    page = client.get(reverse("duplicate-list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="chart-savings-trend"' in html and 'class="plan-form"' in html
    finding = DuplicateFinding.objects.get(kind="overlap")
    due = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    response = client.post(
        reverse("duplicate-plan", args=[finding.pk]),
        {"standard": "gitlab", "factories": ["alpha-plant"], "due_on": due},
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.plan_standard == gitlab and finding.status == "consolidating"
    assert "0 of 1 factories done" in client.get(reverse("duplicate-list")).content.decode()
    detail = client.get(reverse("tool-detail", args=[bamboo.slug])).content.decode()
    assert 'id="merge"' in detail
    response = client.post(reverse("tool-merge", args=[bamboo.slug]), {"into": "GitLab"})
    assert response.status_code == 302 and response.url == gitlab.get_absolute_url()
    assert not Tool.objects.filter(pk=bamboo.pk).exists()
    client.force_login(world.users["owner_a"])
    assert 'id="merge"' not in client.get(gitlab.get_absolute_url()).content.decode()
    assert client.post(reverse("tool-merge", args=[gitlab.slug]), {"into": "x"}).status_code == 403
