"""Per-persona API tests of every registry endpoint, and the actions on them."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from registry.api import views
from registry.models import Adoption, DuplicateFinding, Process, ProcessAdoption, ProcessVersion
from tests.api_mixins import EVERYONE, APIViewTestCase
from tests.factories import MembershipFactory
from tests.registry.builders import adoption, capability, tool


class TestCapabilityAPI(APIViewTestCase):
    basename = "capability"
    viewset = views.CapabilityViewSet
    lookup_field = "slug"
    identity_field = "slug"
    visible = EVERYONE

    def make_object(self, world, key):
        return capability(f"cap-{key}-{Process.objects.count()}-{id(world) % 1000}")

    def make_many(self, world, count):
        for i in range(count):
            capability(f"many-{i}")

    def create_payload(self, world):
        return {"name": "Robotics", "slug": "robotics", "applies_to": "manufacturing"}

    def update_payload(self, world, obj):
        return {"description": "Robot programming"}


class TestToolAPI(APIViewTestCase):
    basename = "tool"
    viewset = views.ToolViewSet
    lookup_field = "slug"
    identity_field = "slug"
    visible = EVERYONE

    def make_object(self, world, key):
        return tool(f"Tool {key}", caps=[capability("ci-cd")], aliases=[f"T-{key}"])

    def make_many(self, world, count):
        cap = capability("ci-cd")
        for i in range(count):
            tool(f"Many {i}", caps=[cap], aliases=[f"M{i}"], ring="trial")

    def create_payload(self, world):
        capability("ci-cd")
        return {"name": "Buildkite", "vendor": "Buildkite", "capabilities": ["ci-cd"],
                "aliases": ["BK"], "ring": "trial", "annual_cost_per_seat": "180.00"}  # fmt: skip

    def update_payload(self, world, obj):
        return {"description": "Updated", "aliases": ["Other name"]}


class TestProcessAPI(APIViewTestCase):
    basename = "process"
    viewset = views.ProcessViewSet
    lookup_field = "slug"
    identity_field = "slug"
    visible = EVERYONE

    def make_object(self, world, key):
        process = Process.objects.create(name=f"Process {key}", slug=f"process-{key}")
        ProcessVersion.objects.create(process=process, version="1.0", steps="1. **Do**")
        return process

    def make_many(self, world, count):
        for i in range(count):
            p = Process.objects.create(name=f"P{i}", slug=f"p-{i}")
            v = ProcessVersion.objects.create(process=p, version="1", steps="x")
            ProcessAdoption.objects.create(factory=world.factory_a, process_version=v)

    def create_payload(self, world):
        return {"name": "Incident review", "slug": "incident-review", "owner_factory": "beta-app"}

    def update_payload(self, world, obj):
        return {"description": "Blameless"}


class TestProcessAdoptionAPI(APIViewTestCase):
    basename = "process-adoption"
    viewset = views.ProcessAdoptionViewSet

    def _version(self):
        process, _ = Process.objects.get_or_create(name="OT patching", slug="ot-patching")
        return ProcessVersion.objects.get_or_create(process=process, version="1.0")[0]

    def make_object(self, world, key):
        return ProcessAdoption.objects.create(
            factory=world.factory_of(key), process_version=self._version()
        )

    def make_many(self, world, count):
        process = Process.objects.create(name="Many", slug="many")
        for i in range(count):
            version = ProcessVersion.objects.create(process=process, version=str(i))
            ProcessAdoption.objects.create(factory=world.factory_a, process_version=version)

    def create_payload(self, world):
        process = Process.objects.create(name="Release train", slug="release-train")
        version = ProcessVersion.objects.create(process=process, version="2.0")
        return {"factory": "alpha-plant", "process_version": version.pk}

    def update_payload(self, world, obj):
        return {"adopted_on": "2025-01-01"}


class TestAdoptionAPI(APIViewTestCase):
    basename = "adoption"
    viewset = views.AdoptionViewSet
    writers = {"staff", "owner_a"}  # business owners keep their factories' adoptions

    def make_object(self, world, key):
        return adoption(world.factory_of(key), tool("Jenkins") if key == "a" else None,
                        name=f"jenkins-{key}", seats=3)  # fmt: skip

    def make_many(self, world, count):
        used = tool("GitLab")
        for i in range(count):
            adoption(world.factory_of("ab"[i % 2]), used, name=f"gitlab runner{i}")

    def create_payload(self, world):
        if not Adoption.objects.exists():
            tool("Jenkins")
        return {"factory": "alpha-plant", "declared_name": "jenkins-lts", "seats": 4,
                "annual_cost": "1200.00"}  # fmt: skip

    def update_payload(self, world, obj):
        return {"seats": 9}


class TestDuplicateAPI(APIViewTestCase):
    basename = "duplicate"
    viewset = views.DuplicateFindingViewSet

    def make_object(self, world, key):
        factory = world.factory_of(key)
        finding = DuplicateFinding.objects.create(
            key=f"overlap:{factory.pk}:{key}", kind="overlap", scope=factory,
            annual_cost_at_stake=Decimal("100"),
        )  # fmt: skip
        finding.factories.set([factory])
        finding.tools.set([tool(f"Dup {key}")])
        return finding

    def make_many(self, world, count):
        tools = [tool(f"D{i}") for i in range(2)]
        for i in range(count):
            f = DuplicateFinding.objects.create(key=f"k{i}", kind="fragmentation")
            f.tools.set(tools)
            f.factories.set([world.factory_a, world.factory_b])

    def create_payload(self, world):
        tool("Manual A")
        return {"kind": "same_tool", "tools": ["manual-a"], "note": "spotted by hand"}

    def update_payload(self, world, obj):
        return {"note": "looked at"}


# --- behaviour beyond CRUD -----------------------------------------------------------------
def test_adoption_shows_declared_name_and_resolved_tool_or_null(world):
    tool("Jenkins")
    client = world.client("staff")
    url = reverse("api:adoption-list")
    body = client.post(url, {"factory": "alpha-plant", "declared_name": "jenkins-lts"}).json()
    assert body["declared_name"] == "jenkins-lts" and body["tool"] == "jenkins"
    assert body["resolution_confidence"] == 1.0
    body = client.post(url, {"factory": "alpha-plant", "declared_name": "Homegrown X"}).json()
    assert body["tool"] is None and body["resolution_confidence"] is None


def test_owner_cannot_create_adoptions_for_another_factory(world):
    """A factory the owner does not see is answered as an unknown one: 400, not 403."""
    client = world.client("owner_a")
    foreign = client.post(
        reverse("api:adoption-list"), {"factory": "beta-app", "declared_name": "x"}
    )
    unknown = client.post(
        reverse("api:adoption-list"), {"factory": "no-such", "declared_name": "x"}
    )
    assert foreign.status_code == unknown.status_code == 400
    assert "does not exist" in foreign.json()["factory"][0]
    assert (
        foreign.json()["factory"][0].replace("beta-app", "no-such") == unknown.json()["factory"][0]
    )
    assert not Adoption.objects.filter(declared_name="x").exists()


def test_owner_who_is_a_member_elsewhere_cannot_add_adoptions_there(world):
    """Seeing a factory is not owning it: the create rule is asked with the factory."""
    MembershipFactory(user=world.users["owner_a"], factory=world.factory_b)
    response = world.client("owner_a").post(
        reverse("api:adoption-list"), {"factory": "beta-app", "declared_name": "x"}
    )
    assert response.status_code == 403
    assert "business owners" in response.json()["detail"]


def test_unresolved_queue_and_mapping_resolves_every_same_name_adoption(world):
    jenkins = tool("Jenkins")
    adoption(world.factory_a, None, name="Hudson CI")
    adoption(world.factory_b, None, name="hudson-ci")
    queue = world.client("staff").get(reverse("api:adoption-unresolved")).json()["results"]
    assert queue[0]["declared_name"] in {"Hudson CI", "hudson-ci"} and queue[0]["adoptions"] == 2
    member_queue = world.client("member_a").get(reverse("api:adoption-unresolved")).json()
    assert member_queue["results"][0]["factories"] == ["alpha-plant"]
    url = reverse("api:adoption-map-name")
    payload = {"declared_name": "Hudson CI", "tool": "jenkins"}
    assert world.client("owner_a").post(url, payload).status_code == 403
    response = world.client("staff").post(url, payload)
    assert response.json() == {"resolved": 2, "tool": "jenkins"}
    assert set(Adoption.objects.values_list("tool", flat=True)) == {jenkins.pk}
    assert jenkins.aliases.filter(name="Hudson CI").exists()


def test_tool_set_ring_records_the_history_and_overrides_per_kind(world):
    tool("Jenkins", ring="adopt")
    url = reverse("api:tool-set-ring", args=["jenkins"])
    assert world.client("member_a").post(url, {"ring": "hold", "reason": "x"}).status_code == 403
    body = world.client("staff").post(url, {"ring": "hold", "reason": "Consolidate"}).json()
    assert body["ring"] == "hold"
    assert body["ring_history"][0]["from_ring"] == "adopt"
    assert body["ring_history"][0]["changed_by"] == "staff"
    body = (
        world.client("staff")
        .post(url, {"ring": "adopt", "reason": "Plants keep it", "factory_kind": "manufacturing"})
        .json()
    )
    assert body["ring_overrides"] == {"manufacturing": "adopt"} and body["ring"] == "hold"


def test_tools_are_searchable_by_alias(world):
    tool("PI System", aliases=["OSIsoft PI"])
    body = world.client("member_b").get(reverse("api:tool-list"), {"q": "osisoft"}).json()
    assert [t["slug"] for t in body["results"]] == ["pi-system"]


def test_process_versions_render_markdown_safely(world):
    Process.objects.create(name="Incident review", slug="incident-review")
    url = reverse("api:process-versions", args=["incident-review"])
    payload = {"version": "1.0", "steps": "1. **Declare**\n<script>alert(1)</script>",
               "links": ["https://wiki.example/ir"]}  # fmt: skip
    assert world.client("member_a").post(url, payload, format="json").status_code == 403
    body = world.client("staff").post(url, payload, format="json").json()
    html = body["versions"][0]["steps_html"]
    assert "<strong>Declare</strong>" in html and "<script>" not in html


@pytest.fixture
def finding(world, django_capture_on_commit_callbacks):
    cap = capability("ci-cd")
    a, b = tool("GitLab", caps=[cap], ring="adopt"), tool("Jenkins", caps=[cap])
    adoption(world.factory_a, a, cost="100")
    adoption(world.factory_b, b, cost="900")
    with django_capture_on_commit_callbacks(execute=True):
        response = world.client("staff").post(reverse("api:duplicate-detect"))
    assert response.status_code == 202, response.content
    job = world.client("staff").get(response.json()["url"]).json()
    assert job["status"] == "done" and job["summary"]["created"] == 1, job
    return DuplicateFinding.objects.get(kind="fragmentation")


def test_portfolio_findings_are_visible_to_members_of_an_involved_factory(world, finding):
    body = world.client("member_b").get(reverse("api:duplicate-list")).json()
    (row,) = body["results"]
    assert set(row) >= {"id", "kind", "capability", "scope", "tools", "factories",
                        "annual_cost_at_stake", "suggested_standard", "status"}  # fmt: skip
    assert row["scope"] is None and row["suggested_standard"] == "gitlab"
    assert row["annual_cost_at_stake"] == "900.00"
    assert sorted(row["factories"]) == ["alpha-plant", "beta-app"]


def test_finding_actions_move_the_lifecycle_and_are_staff_only(world, finding):
    base = "api:duplicate-"
    ack = reverse(base + "acknowledge", args=[finding.pk])
    assert world.client("member_b").post(ack).status_code == 403
    assert world.client("staff").post(ack, {"comment": "seen"}).json()["status"] == "acknowledged"
    waive = reverse(base + "waive", args=[finding.pk])
    bad = world.client("staff").post(waive, {"reason": "contract"})
    assert bad.status_code == 400 and "expires_on" in bad.json()
    expiry = (timezone.localdate() + dt.timedelta(days=90)).isoformat()
    body = world.client("staff").post(waive, {"reason": "contract", "expires_on": expiry}).json()
    assert body["status"] == "waived" and body["waiver_approver"] == "staff"
    reopen = reverse(base + "reopen", args=[finding.pk])
    assert world.client("staff").post(reopen).json()["status"] == "open"
    resolve = reverse(base + "resolve", args=[finding.pk])
    assert world.client("staff").post(resolve).json()["status"] == "resolved"
    again = world.client("staff").post(resolve)
    assert again.status_code == 400


def test_deleting_a_tool_in_use_is_a_conflict_not_an_error(world):
    used = tool("Jenkins")
    adoption(world.factory_a, used)
    response = world.client("staff").delete(reverse("api:tool-detail", args=["jenkins"]))
    assert response.status_code == 409 and "still in use" in response.json()["detail"]


def test_the_adoption_list_renders_each_adoption_as_the_adoption_serializer_does(world):
    """The list renders from column values; one adoption (the serializer) is the
    reference: resolved and unresolved, declared cost, seats × cost per seat, neither."""
    import json

    from rest_framework.renderers import JSONRenderer

    from registry.api.serializers import AdoptionSerializer

    cap = capability("historian", "Historian")
    seated = tool("PI System", caps=[cap], ring="adopt")
    seated.annual_cost_per_seat = Decimal("12.50")
    seated.save()
    adoption(world.factory_a, seated, seats=7)
    adoption(world.factory_a, seated, name="PI (old)", cost="1000.5", status="retired")
    adoption(world.factory_a, tool("Canary", caps=[cap]), seats=None)
    adoption(world.factory_b, None, name="Homegrown historian", seats=3)
    Adoption.objects.filter(
        pk=adoption(world.factory_b, seated, name="PI System (B)", seats=2).pk
    ).update(resolution_confidence=0.8123)
    for persona in ("staff", "member_a", "member_b"):
        api = world.client(persona)
        for params in ({}, {"capability": "historian"}, {"ordering": "-annual_cost"}, {"q": "pi"}):
            body = api.get(reverse("api:adoption-list"), params).json()
            request = api.get(reverse("api:adoption-list")).wsgi_request
            rows = {a.pk: a for a in Adoption.objects.select_related("factory", "tool")}
            expected = [
                AdoptionSerializer(rows[row["id"]], context={"request": request}).data
                for row in body["results"]
            ]
            assert body["results"] == json.loads(JSONRenderer().render(expected))
            assert body["count"] == len(body["results"])
    everything = world.client("staff").get(reverse("api:adoption-list")).json()["results"]
    assert {row["effective_annual_cost"] for row in everything} >= {"87.50", "1000.50", "0.00"}
