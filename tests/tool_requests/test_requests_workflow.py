"""The two-step approval: every transition for every persona, the fast track, exceptions
with expiry, own requests, provisioning into exactly one adoption, and the emails."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.http import HttpRequest
from django.test import override_settings
from django.utils import timezone

from registry.models import Adoption, Tool
from tests.factories import MembershipFactory, UserFactory
from tests.tool_requests.request_helpers import make_request, move, registry, registry_tool
from tool_requests import services as request_services
from tool_requests.models import ToolRequest

LIST = "/api/tool-requests/"
STATUSES = ["draft", "submitted", "owner_approved", "approved", "provisioned", "rejected",
            "withdrawn"]  # fmt: skip
ACTIONS = ["submit", "approve", "reject", "withdraw", "provision"]
PERSONAS = ["staff", "owner_a", "member_a", "member_b", "anonymous"]

# Who may take each action from each status (the request is member_a's, of factory A,
# for a trial-ring tool so the owner's approval leads to the CoE step).
ALLOWED = {
    ("draft", "submit"): "member_a",
    ("draft", "withdraw"): "member_a",
    ("submitted", "approve"): "owner_a",
    ("submitted", "reject"): "owner_a",
    ("submitted", "withdraw"): "member_a",
    ("owner_approved", "approve"): "staff",
    ("owner_approved", "reject"): "staff",
    ("owner_approved", "withdraw"): "member_a",
    ("approved", "provision"): "staff",
    ("approved", "withdraw"): "member_a",
}
PATH = {
    "draft": [],
    "submitted": [("submit", "member_a")],
    "owner_approved": [("submit", "member_a"), ("approve", "owner_a")],
    "approved": [("submit", "member_a"), ("approve", "owner_a"), ("approve", "staff")],
    "provisioned": [("submit", "member_a"), ("approve", "owner_a"), ("approve", "staff"),
                    ("provision", "staff")],
    "rejected": [("submit", "member_a"), ("reject", "owner_a")],
    "withdrawn": [("withdraw", "member_a")],
}  # fmt: skip
TARGET = {
    "submit": "submitted",
    "reject": "rejected",
    "withdraw": "withdrawn",
    "provision": "provisioned",
}


def request_in(world, status: str) -> ToolRequest:
    req = make_request(world)
    return move(req, *[(action, world.users[who]) for action, who in PATH[status]])


def expected_code(status: str, action: str, persona: str) -> int:
    if persona == "anonymous":
        return 401
    if persona == "member_b":
        return 404
    allowed = ALLOWED.get((status, action))
    if allowed is None:
        return 409
    return 200 if persona == allowed else 403


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("status", STATUSES)
def test_every_transition_for_every_persona(world, status, action, persona):
    req = request_in(world, status)
    assert req.status == status
    response = world.client(persona).post(
        f"{LIST}{req.pk}/{action}/", {"comment": "a reason"}, format="json"
    )
    code = expected_code(status, action, persona)
    assert response.status_code == code, (status, action, persona, response.content)
    req.refresh_from_db()
    if code == 200:
        expected = TARGET.get(action) or {"submitted": "owner_approved"}.get(status, "approved")
        assert req.status == expected == response.json()["status"]
        last = req.transitions.last()
        assert (last.actor.username, last.from_status, last.to_status, last.comment) == (
            persona, status, expected, "a reason"
        )  # fmt: skip
    else:
        assert req.status == status


def test_a_rejection_needs_a_comment(world):
    req = request_in(world, "submitted")
    response = world.client("owner_a").post(f"{LIST}{req.pk}/reject/", {}, format="json")
    assert response.status_code == 400 and "comment" in response.json()


def test_nobody_approves_their_own_request(world):
    req = move(make_request(world, who="owner_a"), ("submit", world.users["owner_a"]))
    response = world.client("owner_a").post(f"{LIST}{req.pk}/approve/", {}, format="json")
    assert response.status_code == 403
    assert "own request" in response.json()["detail"]
    # A second owner of the factory may.
    other = MembershipFactory(
        user=UserFactory(username="owner_a2"), factory=world.factory_a, role="business_owner"
    ).user
    assert move(req, ("approve", other)).status == "owner_approved"
    # CoE staff who requested cannot give the CoE step on their own request either.
    staff_req = move(
        make_request(world, who="staff"), ("submit", world.users["staff"]), ("approve", other)
    )
    response = world.client("staff").post(f"{LIST}{staff_req.pk}/approve/", {}, format="json")
    assert response.status_code == 403


def test_a_member_cannot_approve_and_an_owner_cannot_give_the_coe_step(world):
    submitted = request_in(world, "submitted")
    assert world.client("member_a").post(f"{LIST}{submitted.pk}/approve/").status_code == 403
    owner_approved = request_in(world, "owner_approved")
    response = world.client("owner_a").post(f"{LIST}{owner_approved.pk}/approve/")
    assert response.status_code == 403
    assert "CoE staff" in response.json()["detail"]


def test_fast_track_skips_the_coe_step(world):
    grafana = registry_tool(world, "grafana")
    req = move(
        make_request(world, tool_obj=grafana, estimated_annual_cost=900),
        ("submit", world.users["member_a"]),
        ("approve", world.users["owner_a"]),
    )
    assert req.status == "approved" and req.fast_track
    assert req.provision_due_on == timezone.localdate() + dt.timedelta(days=10)


@override_settings(TOOL_REQUEST_FAST_TRACK=False)
def test_fast_track_can_be_switched_off(world):
    grafana = registry_tool(world, "grafana")
    req = move(
        make_request(world, tool_obj=grafana, estimated_annual_cost=900),
        ("submit", world.users["member_a"]),
        ("approve", world.users["owner_a"]),
    )
    assert req.status == "owner_approved" and not req.fast_track


@pytest.mark.parametrize(
    "fields, why",
    [
        ({"estimated_annual_cost": 25000}, "above the threshold"),
        ({"tool": "datadog"}, "trial ring"),
    ],
)
def test_no_fast_track_above_threshold_or_outside_adopt(world, fields, why):
    tool_obj = registry_tool(world, fields.pop("tool", "grafana"))
    req = move(
        make_request(world, tool_obj=tool_obj, **fields),
        ("submit", world.users["member_a"]),
        ("approve", world.users["owner_a"]),
    )
    assert req.status == "owner_approved", why


def test_no_fast_track_when_the_factory_already_runs_a_tool_for_it(world):
    from tests.registry.builders import adoption

    reg = registry(world)
    adoption(world.factory_a, reg["datadog"])
    req = move(
        make_request(world, tool_obj=reg["grafana"]),
        ("submit", world.users["member_a"]),
        ("approve", world.users["owner_a"]),
    )
    assert req.status == "owner_approved"


def _hold_request(world):
    nagios = registry_tool(world, "nagios")
    return move(
        make_request(world, tool_obj=nagios),
        ("submit", world.users["member_a"]),
        ("approve", world.users["owner_a"]),
    )


def test_a_hold_ring_approval_is_an_exception_with_an_expiry_date(world):
    req = _hold_request(world)
    ring = next(c for c in req.checks if c["check"] == "ring")
    assert ring["result"] == "block"
    client = world.client("staff")
    missing = client.post(f"{LIST}{req.pk}/approve/", {}, format="json")
    assert missing.status_code == 400 and "exception_expires_on" in missing.json()
    past = client.post(
        f"{LIST}{req.pk}/approve/", {"exception_expires_on": "2020-01-01"}, format="json"
    )
    assert past.status_code == 400
    too_long = (timezone.localdate() + dt.timedelta(days=400)).isoformat()
    assert (
        client.post(
            f"{LIST}{req.pk}/approve/", {"exception_expires_on": too_long}, format="json"
        ).status_code
        == 400
    )
    until = (timezone.localdate() + dt.timedelta(days=90)).isoformat()
    response = client.post(
        f"{LIST}{req.pk}/approve/",
        {"exception_expires_on": until, "comment": "Until the migration."},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "approved" and body["exception_expires_on"] == until
    ring = next(c for c in body["checks"] if c["check"] == "ring")
    assert ring["result"] == "warn" and f"exception until {until}" in ring["message"]


def test_an_exception_date_is_refused_for_a_tool_that_needs_none(world):
    req = request_in(world, "owner_approved")
    until = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    response = world.client("staff").post(
        f"{LIST}{req.pk}/approve/", {"exception_expires_on": until}, format="json"
    )
    assert response.status_code == 400


def test_provisioning_creates_one_adoption_from_the_request(world):
    req = request_in(world, "approved")
    req = move(req, ("provision", world.users["staff"]))
    adoption = Adoption.objects.get(factory=world.factory_a, tool__slug="datadog")
    assert adoption.source == "request" and req.adoption_id == adoption.pk
    response = world.client("staff").post(f"{LIST}{req.pk}/provision/", format="json")
    assert response.status_code == 409
    assert Adoption.objects.filter(factory=world.factory_a, tool__slug="datadog").count() == 1


def test_a_provisioned_new_tool_enters_the_registry_on_trial(world):
    reg = registry(world)
    req = make_request(
        world, proposed_name="Zabbix", proposed_vendor="Zabbix LLC", capability=reg["cap"]
    )
    req = move(
        req,
        ("submit", world.users["member_a"]),
        ("approve", world.users["owner_a"]),
        ("approve", world.users["staff"]),
        ("provision", world.users["staff"]),
    )
    tool = Tool.objects.get(name="Zabbix")
    assert tool.ring == "trial" and list(tool.capabilities.all()) == [reg["cap"]]
    assert req.tool_id == tool.pk and req.adoption.tool_id == tool.pk


def test_due_dates_per_step_and_the_overdue_flag(world):
    req = request_in(world, "submitted")
    today = timezone.localdate()
    assert req.owner_due_on == today + dt.timedelta(days=5) and not req.overdue
    req = move(req, ("approve", world.users["owner_a"]))
    assert req.coe_due_on == today + dt.timedelta(days=10)
    ToolRequest.objects.filter(pk=req.pk).update(coe_due_on=today - dt.timedelta(days=1))
    req.refresh_from_db()
    assert req.overdue and ToolRequest.objects.overdue().filter(pk=req.pk).exists()


class TestNotifications:
    """Each state change mails the people who must act next (locmem outbox)."""

    def _send(self, world, req, action, who, django_capture_on_commit_callbacks, **kw):
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            req = move(req, (action, world.users[who]), **kw)
        return req, sorted(address for m in mail.outbox for address in m.to)

    def test_the_whole_path_notifies_the_next_actor(
        self, world, django_capture_on_commit_callbacks
    ):
        cb = django_capture_on_commit_callbacks
        req = make_request(world)
        req, to = self._send(world, req, "submit", "member_a", cb)
        assert to == ["owner_a@example.com"]
        assert "is submitted" in mail.outbox[0].subject and f"/requests/{req.pk}/" in (
            mail.outbox[0].body
        )
        req, to = self._send(world, req, "approve", "owner_a", cb)
        assert to == ["staff@example.com"]
        req, to = self._send(world, req, "approve", "staff", cb)
        assert to == ["member_a@example.com"]  # the approver provisions; the requester hears
        req, to = self._send(world, req, "provision", "staff", cb)
        assert to == ["member_a@example.com"]

    def test_rejection_and_withdrawal_notify(self, world, django_capture_on_commit_callbacks):
        cb = django_capture_on_commit_callbacks
        req = request_in(world, "submitted")
        _, to = self._send(world, req, "reject", "owner_a", cb)
        assert to == ["member_a@example.com"]
        assert "Comment: ok" in mail.outbox[0].body
        other = request_in(world, "owner_approved")
        _, to = self._send(world, other, "withdraw", "member_a", cb)
        assert to == ["staff@example.com"]

    def test_nothing_is_sent_when_the_transition_fails(
        self, world, django_capture_on_commit_callbacks
    ):
        from django.core.exceptions import PermissionDenied

        req = request_in(world, "submitted")
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
            move(req, ("approve", world.users["member_a"]))
        assert mail.outbox == []


def test_coe_staff_give_the_first_approval_when_the_factory_has_no_owner(world):
    from tests.factories import FactoryFactory
    from tool_requests.selectors import approval_queue

    lonely = FactoryFactory(slug="gamma", name="Gamma")
    member = MembershipFactory(user=UserFactory(username="member_c"), factory=lonely).user
    draft = request_services.tool_request_create(
        factory=lonely, requester=member, tool=registry_tool(world, "datadog"), justification="x"
    )
    req = move(draft, ("submit", member))
    staff = world.users["staff"]
    assert req in approval_queue(staff)
    req = move(req, ("approve", staff))
    assert req.status == "owner_approved" and req.owner_approver == staff
    # ... and a second CoE person gives the CoE step.
    response = world.client("staff").post(f"{LIST}{req.pk}/approve/", {}, format="json")
    assert response.status_code == 403 and "second person" in response.json()["detail"]


def test_overdue_reminders_go_to_the_next_actor_once_a_day(world):
    from django.core.management import call_command

    late = request_in(world, "submitted")
    coe_late = request_in(world, "owner_approved")
    request_in(world, "submitted")  # not overdue
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    ToolRequest.objects.filter(pk=late.pk).update(owner_due_on=yesterday)
    ToolRequest.objects.filter(pk=coe_late.pk).update(coe_due_on=yesterday)
    mail.outbox.clear()
    out = __import__("io").StringIO()
    call_command("remind_tool_requests", stdout=out)
    assert "Overdue reminders sent: 2" in out.getvalue()
    by_address = {m.to[0]: m.subject for m in mail.outbox}
    assert f"#{late.pk}" in by_address["owner_a@example.com"]
    assert f"#{coe_late.pk}" in by_address["staff@example.com"]
    assert "Overdue" in by_address["staff@example.com"]
    call_command("remind_tool_requests", stdout=out)
    assert len(mail.outbox) == 2  # not again today


def test_factory_panel_lists_the_factory_requests(world, client, monkeypatch):
    from coe import pages
    from coe.pages import register_factory_panel
    from tests.factories import PASSWORD
    from tool_requests.views import request_panel_context

    req = make_request(world)
    # Registered here for the test only (the lead wires it in RegistryConfig.ready()).
    monkeypatch.setattr(pages, "_FACTORY_PANELS", dict(pages._FACTORY_PANELS))
    register_factory_panel(
        "requests", order=30, template="tool_requests/factory_panel.html",
        context=request_panel_context,
    )  # fmt: skip
    assert client.login(request=HttpRequest(), username="member_a", password=PASSWORD)
    html = client.get(world.factory_a.get_absolute_url()).content.decode()
    assert 'id="panel-requests"' in html and f"#{req.pk}" in html


@pytest.mark.parametrize("action", ["submit", "withdraw"])
def test_another_member_of_the_factory_cannot_act_for_the_requester(world, action):
    colleague = MembershipFactory(user=UserFactory(username="member_a2"), factory=world.factory_a)
    req = make_request(world)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied, match="Only the requester"):
        move(req, (action, colleague.user))
