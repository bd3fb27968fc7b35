"""Workflow integrity: what the server decides (an adoption's source and confidence), a
proposed name that is a registry tool, provisioning against the registry as it is now, and
sole owners (nobody approves their own request; every step names its capacity)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from coe.choices import Role
from coe.services import user_set_coe_staff
from registry.models import Adoption, Tool
from registry.services import tool_alias_add, tool_set_ring
from tests.factories import MembershipFactory, UserFactory
from tests.registry.builders import adoption, tool
from tests.tool_requests.request_helpers import make_request, move, registry
from tool_requests import services as request_services
from tool_requests.models import ToolRequest

LIST = "/api/tool-requests/"


def second_staff(username: str = "staff2"):
    user = UserFactory(username=username)
    user_set_coe_staff(user=user, is_staff=True)
    return user


def jenkins(reg: dict) -> Tool:
    """Jenkins: adopt ring globally, on hold for manufacturing factories (factory A)."""
    found = tool("Jenkins", caps=[reg["cap"]], ring="adopt", vendor="CloudBees")
    tool_set_ring(tool=found, ring="hold", factory_kind="manufacturing")
    return found


# --- 1. the server sets an adoption's source and confidence -------------------------------


def test_an_adoption_posted_as_from_a_request_is_recorded_as_declared(world):
    reg = registry(world)
    response = world.client("owner_a").post(
        "/api/adoptions/",
        {
            "factory": world.factory_a.slug,
            "declared_name": "Nagios",
            "tool": reg["nagios"].slug,
            "source": "request",
            "resolution_confidence": 0.2,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "declared"
    created = Adoption.objects.get(pk=response.json()["id"])
    assert created.source == "declared" and created.resolution_confidence == 1.0
    patched = world.client("owner_a").patch(
        f"/api/adoptions/{created.pk}/", {"source": "request"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["source"] == "declared"
    assert not Adoption.objects.filter(source="request").exists()


def test_only_provisioning_an_approved_request_records_a_request_adoption(world):
    req = make_request(world)
    staff = world.users["staff"]
    owner = world.users["owner_a"]
    req = move(req, ("submit", world.users["member_a"]), ("approve", owner), ("approve", staff))
    assert not Adoption.objects.filter(source="request").exists()
    req = move(req, ("provision", staff))
    assert Adoption.objects.get(source="request").pk == req.adoption_id


# --- 2. a proposed name that resolves is that tool ------------------------------------------


@pytest.mark.parametrize("name", ["Jenkins", "jenkins", "Jenkins CI server"])
def test_a_proposed_name_of_a_hold_tool_is_blocked_like_the_tool(world, name):
    reg = registry(world)
    held = jenkins(reg)
    tool_alias_add(tool=held, name="Jenkins CI server")
    by_slug = make_request(world, tool_obj=held)
    by_name = make_request(world, tool_obj=None, proposed_name=name, capability=reg["cap"])
    for req in (by_slug, by_name):
        ring = {c["check"]: c for c in req.checks}["ring"]
        assert ring["result"] == "block", (name, ring)
        assert "on hold for manufacturing factories" in ring["message"]
    near = {c["check"]: c for c in by_name.checks}["near_match"]
    assert near["result"] == "warn" and "provisioned as Jenkins" in near["message"]


def test_a_proposed_hold_tool_needs_an_exception_and_is_provisioned_as_that_tool(world):
    reg = registry(world)
    held = jenkins(reg)
    staff, owner = world.users["staff"], world.users["owner_a"]
    req = make_request(world, tool_obj=None, proposed_name="Jenkins", capability=reg["cap"])
    req = move(req, ("submit", world.users["member_a"]), ("approve", owner))
    assert req.status == "owner_approved" and not req.fast_track
    with pytest.raises(ValidationError) as refused:
        move(req, ("approve", staff))
    assert "exception_expires_on" in refused.value.message_dict
    until = timezone.localdate() + dt.timedelta(days=30)
    req = move(req, ("approve", staff), exception_expires_on=until)
    assert req.status == "approved" and req.exception_expires_on == until
    tools_before = Tool.objects.count()
    req = move(req, ("provision", staff))
    assert Tool.objects.count() == tools_before  # no second "Jenkins" enters the registry
    assert req.tool == held and req.adoption.tool == held and req.adoption.source == "request"


def test_a_software_factory_asking_for_the_same_name_is_not_blocked(world):
    """The ring is the one for the factory's kind: Jenkins is adopt for software factories."""
    reg = registry(world)
    jenkins(reg)
    req = make_request(
        world, key="b", who="member_b", tool_obj=None, proposed_name="Jenkins",
        capability=reg["cap"],
    )  # fmt: skip
    ring = {c["check"]: c for c in req.checks}["ring"]
    assert ring["result"] == "pass" and "adopt ring for software factories" in ring["message"]


def test_a_proposed_name_of_a_tool_in_use_is_a_duplicate(world):
    reg = registry(world)
    adoption(world.factory_a, reg["datadog"], name="Datadog APM")
    req = make_request(world, tool_obj=None, proposed_name="datadog", capability=reg["cap"])
    duplicate = {c["check"]: c for c in req.checks}["duplicate"]
    assert duplicate["result"] == "warn" and "already uses Datadog" in duplicate["message"]
    standard = {c["check"]: c for c in req.checks}["standard"]
    assert "Grafana is the adopt-ring standard" in standard["message"]


def test_the_api_blocks_a_proposed_hold_tool_at_the_coe_step(world):
    reg = registry(world)
    jenkins(reg)
    created = world.client("member_a").post(
        LIST,
        {
            "factory": world.factory_a.slug,
            "proposed_tool": {"name": "Jenkins"},
            "capability": reg["cap"].slug,
            "justification": "Pipelines",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert world.client("member_a").post(f"{LIST}{pk}/submit/").status_code == 200
    assert world.client("owner_a").post(f"{LIST}{pk}/approve/").status_code == 200
    refused = world.client("staff").post(f"{LIST}{pk}/approve/", {}, format="json")
    assert refused.status_code == 400 and "exception_expires_on" in refused.json()


# --- provisioning re-runs the checks --------------------------------------------------------


def approved_trial_request(world) -> ToolRequest:
    req = make_request(world)  # Datadog, trial ring
    staff, owner = world.users["staff"], world.users["owner_a"]
    return move(req, ("submit", world.users["member_a"]), ("approve", owner), ("approve", staff))


def test_provisioning_refuses_a_tool_put_on_hold_since_the_approval(world):
    req = approved_trial_request(world)
    tool_set_ring(tool=req.tool, ring="hold")
    with pytest.raises(request_services.TransitionConflict, match="Provisioning is refused"):
        move(req, ("provision", world.users["staff"]))
    req.refresh_from_db()
    assert req.status == "approved" and req.adoption_id is None
    response = world.client("staff").post(f"{LIST}{req.pk}/provision/", {}, format="json")
    assert response.status_code == 409 and "on hold" in response.json()["detail"]


def test_provisioning_with_an_exception_is_a_coe_approval_of_its_own(world):
    """The exception is granted under the CoE step's rule: not by the requester, not by the
    owner approver (here CoE staff standing in for the sole owner)."""
    owner, staff, staff2 = world.users["owner_a"], world.users["staff"], second_staff()
    req = move(make_request(world, who="owner_a"), ("submit", owner), ("approve", staff))
    req = move(req, ("approve", staff2))
    tool_set_ring(tool=req.tool, ring="hold")
    until = timezone.localdate() + dt.timedelta(days=60)
    with pytest.raises(PermissionDenied, match="other than the requester"):
        move(req, ("provision", staff), exception_expires_on=until)
    req = move(req, ("provision", staff2), exception_expires_on=until)
    assert req.status == "provisioned" and req.exception_expires_on == until
    assert req.transitions.last().capacity == "coe_staff"


def test_provisioning_refuses_an_exception_that_has_ended(world):
    reg = registry(world)
    staff, owner = world.users["staff"], world.users["owner_a"]
    req = make_request(world, tool_obj=reg["nagios"])  # hold ring
    req = move(req, ("submit", world.users["member_a"]), ("approve", owner))
    req = move(req, ("approve", staff), exception_expires_on=timezone.localdate() + dt.timedelta(1))
    ToolRequest.objects.filter(pk=req.pk).update(
        exception_expires_on=timezone.localdate() - dt.timedelta(days=1)
    )
    with pytest.raises(request_services.TransitionConflict, match="exception ended"):
        move(req, ("provision", staff))


# --- 3. sole owners and capacities ---------------------------------------------------------


def test_a_sole_owners_request_is_approved_by_two_different_coe_staff(world):
    owner, staff, staff2 = world.users["owner_a"], world.users["staff"], second_staff()
    req = make_request(world, who="owner_a")
    req = move(req, ("submit", owner))
    with pytest.raises(PermissionDenied, match="own request"):
        move(req, ("approve", owner))
    assert request_services.allowed_actions(req, staff) == ["approve", "reject"]
    req = move(req, ("approve", staff))
    assert req.status == "owner_approved" and req.owner_approver == staff
    with pytest.raises(PermissionDenied, match="second person"):
        move(req, ("approve", staff))
    req = move(req, ("approve", staff2))
    assert req.status == "approved" and req.coe_approver == staff2
    history = world.client("owner_a").get(f"{LIST}{req.pk}/").json()["history"]
    assert [(h["action"], h["actor"], h["capacity"]) for h in history] == [
        ("create", "owner_a", "requester"),
        ("submit", "owner_a", "requester"),
        ("approve", "staff", "coe_staff"),
        ("approve", "staff2", "coe_staff"),
    ]


def test_the_approval_queues_follow_the_sole_owner_rule(world):
    from tool_requests.selectors import approval_queue

    owner, staff, staff2 = world.users["owner_a"], world.users["staff"], second_staff()
    req = move(make_request(world, who="owner_a"), ("submit", owner))
    assert req not in approval_queue(owner)
    assert req in approval_queue(staff) and req in approval_queue(staff2)
    req = move(req, ("approve", staff))
    assert req not in approval_queue(staff) and req in approval_queue(staff2)
    members = move(make_request(world), ("submit", world.users["member_a"]))
    assert members in approval_queue(owner) and members not in approval_queue(staff)


def test_a_factory_with_another_owner_keeps_the_owner_step_with_owners(world):
    other = MembershipFactory(
        user=UserFactory(username="owner_a2"), factory=world.factory_a, role=Role.BUSINESS_OWNER
    ).user
    owner, staff = world.users["owner_a"], world.users["staff"]
    req = move(make_request(world, who="owner_a"), ("submit", owner))
    with pytest.raises(PermissionDenied):
        move(req, ("approve", staff))  # another owner can: CoE staff do not stand in
    req = move(req, ("approve", other))
    assert req.transitions.last().capacity == "business_owner"


def test_a_coe_staff_requester_never_approves_their_own_request(world):
    staff, staff2, staff3 = world.users["staff"], second_staff(), second_staff("staff3")
    world.factory_a.memberships.filter(role=Role.BUSINESS_OWNER).delete()  # no owner at all
    req = move(make_request(world, who="staff"), ("submit", staff))
    for step in ("approve", "reject"):
        assert step not in request_services.allowed_actions(req, staff)
    req = move(req, ("approve", staff2))
    assert request_services.allowed_actions(req, staff) == ["withdraw"]
    assert request_services.allowed_actions(req, staff2) == []  # took the owner step
    req = move(req, ("approve", staff3))
    assert req.status == "approved"


def test_the_page_names_who_took_each_step_and_as_what(world, client):
    owner, staff, staff2 = world.users["owner_a"], world.users["staff"], second_staff()
    req = move(make_request(world, who="owner_a"), ("submit", owner), ("approve", staff))
    req = move(req, ("approve", staff2))
    client.force_login(owner)
    page = client.get(f"/requests/{req.pk}/").content.decode()
    history = page[page.index('id="history"') :]
    assert history.count('<td class="capacity">CoE staff</td>') == 2
    assert history.count('<td class="capacity">Requester</td>') == 2
