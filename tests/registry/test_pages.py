"""The registry pages: what each persona sees, the forms, and pinned query counts."""

import pytest
from django.http import HttpRequest
from django.urls import reverse

from registry.detection import duplicates_detect
from registry.models import Adoption, DuplicateFinding
from tests.factories import PASSWORD, FactoryFactory
from tests.registry.builders import adoption, capability, tool


@pytest.fixture
def portfolio(world):
    cap = capability("historian", "Historian")
    pi = tool("PI System", caps=[cap], ring="adopt", vendor="AVEVA", aliases=["OSIsoft PI"])
    canary = tool("Canary Historian", caps=[cap], ring="hold")
    adoption(world.factory_a, pi, cost="9000", seats=10)
    adoption(world.factory_a, canary, cost="38000", seats=25)
    adoption(world.factory_b, canary, cost="5000")
    adoption(world.factory_a, None, name="TurbineWatch")
    for i in range(15):  # a bigger portfolio must not cost more queries
        factory = FactoryFactory(slug=f"extra-{i}")
        adoption(factory, pi if i % 2 else canary, cost="100")
    duplicates_detect()
    return {"pi": pi, "canary": canary}


def login(client, persona):
    client.login(request=HttpRequest(), username=persona, password=PASSWORD)
    return client


def test_tool_list_filters_and_counts_only_visible_adopters(client, portfolio):
    body = login(client, "member_b").get(reverse("tool-list"), {"ring": "hold"}).content.decode()
    assert "Canary Historian" in body and "PI System" not in body
    body = client.get(reverse("tool-list"), {"q": "osisoft"}).content.decode()
    assert "PI System" in body


def test_tool_detail_shows_adopters_cost_and_ring_history(client, portfolio):
    body = login(client, "member_a").get(reverse("tool-detail", args=["canary-historian"]))
    text = body.content.decode()
    assert "Alpha Plant" in text and "Beta App" not in text
    assert 'id="tool-total-cost">38,000 EUR<' in text
    assert "Ring history" in text and "Added" in text


def test_staff_move_a_tool_to_another_ring_from_its_page(client, portfolio):
    login(client, "staff")
    url = reverse("tool-set-ring", args=["canary-historian"])
    client.post(url, {"ring": "retired", "reason": "Replaced by PI"})
    portfolio["canary"].refresh_from_db()
    assert portfolio["canary"].ring == "retired"
    login(client, "member_a")
    assert client.post(url, {"ring": "adopt", "reason": "x"}).status_code == 403


def test_radar_renders_a_polar_chart_and_filters_by_kind(client, portfolio):
    body = login(client, "member_a").get(reverse("tech-radar")).content.decode()
    assert "chart-tech-radar" in body and "scatterpolar" in body
    assert "PI System" in body
    body = client.get(reverse("tech-radar"), {"kind": "software"}).content.decode()
    assert "Software" in body


def test_duplicates_page_shows_cost_at_stake_and_sorts_by_savings(client, portfolio):
    body = login(client, "staff").get(reverse("duplicate-list")).content.decode()
    assert 'id="total-at-stake">' in body
    # Canary at Alpha (38000) + Beta (5000) + 8 extra plants (800), each adoption once.
    assert "43,800" in body or "43800" in body
    table = body[body.index('id="findings"') :]
    assert table.index("Fragmentation") < table.index("Overlap")  # larger saving first
    ascending = client.get(reverse("duplicate-list"), {"sort": "-savings"}).content.decode()
    table = ascending[ascending.index('id="findings"') :]
    assert table.index("Overlap") < table.index("Fragmentation")


def test_member_sees_findings_of_their_factories_only(client, world, portfolio):
    other = FactoryFactory(slug="gamma")
    cap = capability("erp")
    adoption(other, tool("SAP", caps=[cap]))
    adoption(other, tool("Oracle", caps=[cap]))
    duplicates_detect()
    body = login(client, "member_b").get(reverse("duplicate-list")).content.decode()
    assert "Fragmentation" in body and "Oracle" not in body


def test_staff_waive_from_the_page_and_a_waiver_without_reason_is_refused(client, portfolio):
    finding = DuplicateFinding.objects.get(kind="overlap")
    login(client, "staff")
    url = reverse("duplicate-action", args=[finding.pk, "waive"])
    client.post(url, {"reason": "", "expires_on": "2099-01-01"})
    finding.refresh_from_db()
    assert finding.status == "open"
    client.post(url, {"reason": "Contract until 2027", "expires_on": "2099-01-01"})
    finding.refresh_from_db()
    assert finding.status == "waived" and finding.waiver_approver.username == "staff"
    login(client, "owner_a")
    ack = reverse("duplicate-action", args=[finding.pk, "reopen"])
    assert client.post(ack).status_code == 403


def test_unresolved_queue_maps_a_name_for_staff(client, portfolio):
    body = login(client, "member_a").get(reverse("registry-unresolved")).content.decode()
    assert "TurbineWatch" in body and "Map</button>" not in body
    login(client, "staff")
    client.post(
        reverse("registry-unresolved"), {"declared_name": "TurbineWatch", "tool": "pi-system"}
    )
    assert Adoption.objects.get(declared_name="TurbineWatch").tool == portfolio["pi"]


def test_factory_page_panel_lists_adoptions_and_open_findings(client, world, portfolio):
    url = reverse("factory-detail", args=["alpha-plant"])
    body = login(client, "member_a").get(url).content.decode()
    assert 'id="panel-registry"' in body
    assert "Canary Historian" in body and "unresolved" in body
    assert "Overlap within a factory" in body


def test_process_page_renders_steps_safely_with_adopters(client, world):
    from registry.models import Process, ProcessAdoption, ProcessVersion

    process = Process.objects.create(name="OT patching", slug="ot-patching")
    version = ProcessVersion.objects.create(
        process=process, version="1.0", steps="1. **Patch** the test cell\n<script>x()</script>"
    )
    ProcessAdoption.objects.create(factory=world.factory_a, process_version=version)
    body = login(client, "member_b").get(reverse("process-list")).content.decode()
    assert "<strong>Patch</strong>" in body and "<script>x()" not in body
    assert "Alpha Plant" not in body and "nobody yet" in body  # adopters among visible
    body = login(client, "member_a").get(reverse("process-list")).content.decode()
    assert "Alpha Plant" in body


@pytest.mark.parametrize(
    ("name", "args", "limit"),
    [
        ("tool-list", [], 12),  # + the inbox count and the sortable, exportable list
        ("tool-detail", ["canary-historian"], 14),
        ("tech-radar", [], 12),
        ("process-list", [], 10),
        ("duplicate-list", [], 19),  # + realised savings: findings, costs, factories
        ("registry-unresolved", [], 13),
        ("factory-detail", ["alpha-plant"], 22),
    ],
)
def test_pages_take_a_bounded_number_of_queries(
    client, portfolio, name, args, limit, django_assert_max_num_queries
):
    login(client, "staff")
    client.get(reverse(name, args=args))
    with django_assert_max_num_queries(limit):
        response = client.get(reverse(name, args=args))
    assert response.status_code == 200
