"""Two approvers acting at once give one result and at most one adoption (real threads,
real row locks: PostgreSQL; SQLite serialises whole-database writes, so it is skipped)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from coe.services import user_set_coe_staff
from registry.models import Adoption
from tests.factories import MembershipFactory, UserFactory
from tests.tool_requests.request_helpers import make_request, move
from tool_requests import services as request_services
from tool_requests.models import RequestTransition

pytestmark = pytest.mark.django_db(transaction=True)


def _race(req_pk: int, action: str, actors: list) -> list:
    """Run ``action`` by every actor at the same moment; returns each outcome."""
    barrier = threading.Barrier(len(actors))
    outcomes: list = [None] * len(actors)

    def run(i: int, actor) -> None:
        try:
            barrier.wait(timeout=10)
            request_services.tool_request_transition(
                tool_request=req_pk, action=action, actor=actor, comment=f"by {actor}"
            )
            outcomes[i] = "ok"
        except request_services.TransitionConflict:
            outcomes[i] = "conflict"
        except PermissionDenied as exc:
            outcomes[i] = f"denied: {exc}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): SQLite has no row locks to race on")


def test_two_owners_approving_at_once_give_one_approval(world, postgres_only):
    second_owner = MembershipFactory(
        user=UserFactory(username="owner_a2"), factory=world.factory_a, role="business_owner"
    ).user
    req = move(make_request(world), ("submit", world.users["member_a"]))
    outcomes = _race(req.pk, "approve", [world.users["owner_a"], second_owner])
    # The loser finds the request owner-approved: the next approve is the CoE's, not theirs.
    assert outcomes.count("ok") == 1
    assert any(o.startswith("denied: Only CoE staff") or o == "conflict" for o in outcomes)
    req.refresh_from_db()
    assert req.status == "owner_approved"
    assert RequestTransition.objects.filter(request=req, action="approve").count() == 1


def test_two_coe_staff_provisioning_at_once_give_one_adoption(world, postgres_only):
    other_staff = UserFactory(username="staff2")
    user_set_coe_staff(user=other_staff, is_staff=True)
    req = move(
        make_request(world),
        ("submit", world.users["member_a"]),
        ("approve", world.users["owner_a"]),
        ("approve", world.users["staff"]),
    )
    outcomes = _race(req.pk, "provision", [world.users["staff"], other_staff])
    assert sorted(outcomes) == ["conflict", "ok"]
    req.refresh_from_db()
    assert req.status == "provisioned"
    assert Adoption.objects.filter(factory=world.factory_a, source="request").count() == 1
    assert RequestTransition.objects.filter(request=req, action="provision").count() == 1


def test_approve_and_withdraw_at_once_leave_one_consistent_result(world, postgres_only):
    req = move(make_request(world), ("submit", world.users["member_a"]))
    barrier_actions = [("approve", world.users["owner_a"]), ("withdraw", world.users["member_a"])]
    barrier = threading.Barrier(2)
    outcomes = []

    def run(action, actor):
        try:
            barrier.wait(timeout=10)
            request_services.tool_request_transition(
                tool_request=req.pk, action=action, actor=actor
            )
            outcomes.append(action)
        except request_services.TransitionConflict:
            pass
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in barrier_actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    req.refresh_from_db()
    # Approving then withdrawing is allowed too; whatever the order, history and status agree.
    last = req.transitions.order_by("at", "id").last()
    assert last.to_status == req.status
    assert req.status in ("owner_approved", "withdrawn")
    assert len(outcomes) >= 1
