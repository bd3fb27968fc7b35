"""The request workflow against a reference model of its rules (hypothesis state machine).

Random people (members, business owners — a factory's only owner among them —, CoE
staff) create requests and take random actions on random requests. A small model says
what must happen: the status reached, or a conflict (wrong status), a refusal (wrong
person) or a validation error (an exception where none is due, none where one is). After
every step: nobody approved their own request, the two approvals were given by two
people, every step names its capacity, and only provisioned requests have adoptions.

Runs on SQLite and, with ``DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from coe.choices import FactoryKind, Role
from coe.services import user_set_coe_staff
from registry.models import Adoption
from tests.factories import FactoryFactory, MembershipFactory, UserFactory
from tests.tool_requests.request_helpers import registry
from tool_requests import services as request_services
from tool_requests.models import ToolRequest

STAFF = {"staff", "staff2"}
# factory key → its business owners and members (A: one owner; B: none; C: two).
OWNERS = {"a": {"owner_a"}, "b": set(), "c": {"owner_c1", "owner_c2"}}
MEMBERS = {"a": {"member_a", "owner_a"}, "b": {"member_b"}, "c": {"owner_c1", "owner_c2"}}
PEOPLE = sorted(STAFF | set().union(*MEMBERS.values()))
TOOLS = ["datadog", "grafana", "nagios"]  # trial, adopt, hold — one capability
ACTIONS = ["submit", "approve", "reject", "withdraw", "provision"]
OPEN = ["submitted", "owner_approved", "approved"]

REQUESTER, OWNER, COE = "requester", "owner", "coe"
STEPS = {
    ("submit", "draft"): REQUESTER,
    ("approve", "submitted"): OWNER,
    ("reject", "submitted"): OWNER,
    ("approve", "owner_approved"): COE,
    ("reject", "owner_approved"): COE,
    ("provision", "approved"): COE,
    **{("withdraw", status): REQUESTER for status in ["draft", *OPEN]},
}


@dataclass
class Model:
    """What the reference model knows of one request."""

    pk: int
    factory: str
    requester: str
    tool: str
    status: str = "draft"
    owner_approver: str = ""


class WorkflowMachine(RuleBasedStateMachine):
    """One example: a savepoint opened here, rolled back in ``teardown``."""

    def __init__(self, people: dict, factories: dict, tools: dict):
        super().__init__()
        self.people, self.factories, self.tools = people, factories, tools
        self.requests: list[Model] = []
        # Factories that run a tool of the capability (B uses Grafana from the start).
        self.in_use: set[str] = {"b"}
        self._atomic = transaction.atomic()
        self._atomic.__enter__()

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- the reference model ------------------------------------------------------------

    def may(self, step: str, req: Model, who: str) -> bool:
        if step == REQUESTER:
            return who == req.requester
        if who == req.requester:
            return False  # nobody approves (or rejects) their own request
        if step == OWNER:
            others = OWNERS[req.factory] - {req.requester}
            return who in OWNERS[req.factory] or (who in STAFF and not others)
        return who in STAFF and who != req.owner_approver

    def expect(self, req: Model, action: str, who: str, exception: bool) -> tuple[str, str]:
        """("ok", new status) | ("conflict" | "denied" | "invalid", "")."""
        step = STEPS.get((action, req.status))
        if step is None:
            return "conflict", ""
        if action == "provision" and who in STAFF:
            return "ok", "provisioned"  # provisioning is any CoE staff's, no approval
        if not self.may(step, req, who):
            return "denied", ""
        if action == "approve" and req.status == "submitted":
            if exception:
                return "invalid", ""  # exceptions belong to the CoE step
            fast = req.tool == "grafana" and req.factory not in self.in_use
            return "ok", "approved" if fast else "owner_approved"
        if action == "approve":
            if exception != (req.tool == "nagios"):
                return "invalid", ""  # only the hold-ring tool needs (and takes) one
            return "ok", "approved"
        return "ok", {"submit": "submitted", "reject": "rejected", "withdraw": "withdrawn"}[action]

    def capacity(self, step: str, req: Model, who: str) -> str:
        if step == REQUESTER:
            return "requester"
        if step == OWNER and who in OWNERS[req.factory]:
            return "business_owner"
        return "coe_staff"

    # --- rules ----------------------------------------------------------------------------

    @rule(
        factory=st.sampled_from(sorted(OWNERS)),
        who=st.sampled_from(PEOPLE),
        tool=st.sampled_from(TOOLS),
    )
    def create(self, factory, who, tool):
        if who not in STAFF and who not in MEMBERS[factory]:
            return  # not theirs to ask for (the API answers it as an unknown factory)
        req = request_services.tool_request_create(
            factory=self.factories[factory],
            requester=self.people[who],
            tool=self.tools[tool],
            justification="Needed on the line.",
        )
        self.requests.append(Model(pk=req.pk, factory=factory, requester=who, tool=tool))

    @precondition(lambda self: self.requests)
    @rule(data=st.data())
    def act(self, data):
        """Anyone tries anything on any request (mostly refused: conflicts and denials)."""
        req = self.requests[data.draw(st.integers(0, len(self.requests) - 1), label="request")]
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        involved = sorted(STAFF | OWNERS[req.factory] | {req.requester})
        who = data.draw(st.sampled_from(involved) | st.sampled_from(PEOPLE), label="who")
        self.attempt(req, action, who, data.draw(st.booleans(), label="exception"))

    @precondition(lambda self: any(r.status in ["draft", *OPEN] for r in self.requests))
    @rule(data=st.data())
    def advance(self, data):
        """Someone the model allows takes a step the request's status offers, so long paths
        (a sole owner's request through two CoE approvals to provisioning) occur."""
        live = [r for r in self.requests if r.status in ["draft", *OPEN]]
        req = live[data.draw(st.integers(0, len(live) - 1), label="request")]
        offered = sorted(action for action, status in STEPS if status == req.status)
        action = data.draw(st.sampled_from(offered), label="action")
        step = STEPS[(action, req.status)]
        allowed = [p for p in PEOPLE if self.may(step, req, p)]
        if action == "provision":
            allowed = sorted(STAFF)
        if not allowed:
            return
        who = data.draw(st.sampled_from(allowed), label="who")
        exception = action == "approve" and req.status == "owner_approved" and req.tool == "nagios"
        if data.draw(st.integers(0, 9), label="wrong exception") == 0:
            exception = not exception  # now and then the wrong way round: a 400
        self.attempt(req, action, who, exception)

    def attempt(self, req: Model, action: str, who: str, exception: bool) -> None:
        """Take the action and compare with the model."""
        outcome, status = self.expect(req, action, who, exception and action == "approve")
        kwargs = {}
        if action == "approve" and exception:
            kwargs["exception_expires_on"] = timezone.localdate() + dt.timedelta(days=30)
        try:
            with transaction.atomic():
                done = request_services.tool_request_transition(
                    tool_request=req.pk,
                    action=action,
                    actor=self.people[who],
                    comment="a reason",
                    notify=False,
                    **kwargs,
                )
            got = "ok"
        except request_services.TransitionConflict:
            got = "conflict"
        except PermissionDenied:
            got = "denied"
        except ValidationError:
            got = "invalid"
        assert got == outcome, (req, action, who, exception, got, outcome)
        if got != "ok":
            return
        assert done.status == status, (req, action, who, done.status, status)
        step = STEPS[(action, req.status)]
        last = done.transitions.order_by("-at", "-id").first()
        assert (last.actor_id, last.capacity) == (
            self.people[who].pk,
            self.capacity(step, req, who),
        )
        if step == OWNER and action == "approve":
            req.owner_approver = who
        if status == "provisioned":
            self.in_use.add(req.factory)
        req.status = status

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def statuses_match_the_model(self):
        stored = dict(ToolRequest.objects.values_list("pk", "status"))
        assert stored == {r.pk: r.status for r in self.requests}

    @invariant()
    def nobody_approves_their_own_request(self):
        for requester, owner_step, coe_step in ToolRequest.objects.values_list(
            "requester_id", "owner_approver_id", "coe_approver_id"
        ):
            assert requester not in (owner_step, coe_step)
            assert owner_step is None or owner_step != coe_step

    @invariant()
    def only_provisioned_requests_have_adoptions(self):
        linked = ToolRequest.objects.exclude(adoption=None).values_list("status", flat=True)
        assert set(linked) <= {"provisioned"}
        provisioned = {(r.factory, r.tool) for r in self.requests if r.status == "provisioned"}
        adopted = Adoption.objects.filter(source="request").count()
        assert adopted == len(provisioned)


@pytest.mark.django_db
def test_the_request_workflow_follows_its_rules(world):
    reg = registry(world)  # Grafana adopt (used by B), Datadog trial, Nagios hold
    factory_c = FactoryFactory(slug="gamma-app", name="Gamma App", kind=FactoryKind.SOFTWARE)
    people = {
        "staff": world.users["staff"],
        "owner_a": world.users["owner_a"],
        "member_a": world.users["member_a"],
        "member_b": world.users["member_b"],
    }
    people["staff2"] = UserFactory(username="staff2")
    user_set_coe_staff(user=people["staff2"], is_staff=True)
    for name in ("owner_c1", "owner_c2"):
        people[name] = MembershipFactory(
            user=UserFactory(username=name), factory=factory_c, role=Role.BUSINESS_OWNER
        ).user
    factories = {"a": world.factory_a, "b": world.factory_b, "c": factory_c}
    tools = {name: reg[name] for name in TOOLS}
    run_state_machine_as_test(
        lambda: WorkflowMachine(people, factories, tools),
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
