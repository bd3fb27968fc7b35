"""Each policy check: its result and the sentence that explains it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings

from registry.services import tool_set_ring
from tests.registry.builders import adoption
from tests.tool_requests.request_helpers import registry
from tool_requests.checks import (
    CheckInput,
    evaluate,
    policy_checks,
    qualifies_for_fast_track,
    review_threshold,
)


def by_check(checks):
    return {c["check"]: c for c in checks}


BASE = CheckInput(factory_name="Alpha Plant", factory_kind="manufacturing", tool_name="Datadog")


@pytest.mark.parametrize(
    "ring, result, words",
    [
        ("adopt", "pass", "adopt ring for manufacturing factories"),
        ("trial", "warn", "trial ring for manufacturing factories: needs CoE review"),
        ("assess", "warn", "needs CoE review"),
        ("hold", "block", "on hold for manufacturing factories"),
        ("retired", "block", "retired"),
    ],
)
def test_ring_check_by_ring(ring, result, words):
    check = by_check(evaluate(BASE.__class__(**{**BASE.__dict__, "ring": ring})))["ring"]
    assert check["result"] == result and words in check["message"]


def test_hold_ring_with_an_exception_warns_with_the_expiry():
    data = CheckInput(**{**BASE.__dict__, "ring": "hold", "exception_until": dt.date(2027, 1, 31)})
    check = by_check(evaluate(data))["ring"]
    assert check["result"] == "warn" and "exception until 2027-01-31" in check["message"]


def test_budget_check_against_the_threshold():
    over = CheckInput(**{**BASE.__dict__, "annual_cost": Decimal("12000")})
    under = CheckInput(**{**BASE.__dict__, "annual_cost": Decimal("800")})
    assert by_check(evaluate(over))["budget"]["result"] == "warn"
    assert (
        "EUR 12,000 a year is above the review threshold of EUR 10,000"
        in (by_check(evaluate(over))["budget"]["message"])
    )
    assert by_check(evaluate(under))["budget"]["result"] == "pass"


@override_settings(TOOL_REQUEST_REVIEW_THRESHOLD=500)
def test_the_threshold_is_a_setting():
    assert review_threshold() == Decimal("500")


def test_fast_track_needs_adopt_no_duplicate_and_under_threshold():
    good = CheckInput(**{**BASE.__dict__, "ring": "adopt", "annual_cost": Decimal("100")})
    assert qualifies_for_fast_track(evaluate(good))
    dup = CheckInput(**{**good.__dict__, "factory_tools_for_capability": ("Grafana",)})
    assert not qualifies_for_fast_track(evaluate(dup))
    new = CheckInput(**{**good.__dict__, "is_new": True})
    assert not qualifies_for_fast_track(evaluate(new))


def test_duplicate_and_standard_checks_from_the_registry(world):
    reg = registry(world)
    adoption(world.factory_a, reg["grafana"], cost=500)
    checks = by_check(policy_checks(factory=world.factory_a, tool=reg["datadog"]))
    assert checks["duplicate"]["result"] == "warn"
    assert checks["duplicate"]["message"] == (
        "Alpha Plant already runs Grafana for Monitoring: a second tool would be a duplicate."
    )
    assert checks["standard"]["result"] == "warn"
    assert "Grafana is the adopt-ring standard for Monitoring" in checks["standard"]["message"]
    assert "Grafana is used by Beta App" in checks["used_elsewhere"]["message"]


def test_already_using_the_requested_tool_is_a_duplicate(world):
    reg = registry(world)
    adoption(world.factory_a, reg["datadog"])
    check = by_check(policy_checks(factory=world.factory_a, tool=reg["datadog"]))["duplicate"]
    assert check["result"] == "warn" and "already uses Datadog" in check["message"]


def test_requesting_the_standard_passes_and_names_its_users(world):
    reg = registry(world)
    checks = by_check(policy_checks(factory=world.factory_a, tool=reg["grafana"]))
    assert checks["ring"]["result"] == "pass"
    assert checks["duplicate"]["result"] == "pass"
    assert checks["standard"]["message"] == "Grafana is the adopt-ring standard for Monitoring."
    assert checks["used_elsewhere"]["message"] == (
        "Grafana is already used by Beta App: ask them about their experience."
    )


def test_the_ring_for_the_factory_kind_wins_over_the_global_ring(world):
    reg = registry(world)
    tool_set_ring(tool=reg["datadog"], ring="hold", factory_kind="manufacturing")
    a = by_check(policy_checks(factory=world.factory_a, tool=reg["datadog"]))["ring"]
    b = by_check(policy_checks(factory=world.factory_b, tool=reg["datadog"]))["ring"]
    assert a["result"] == "block" and b["result"] == "warn"


def test_a_new_tool_gets_did_you_mean_from_the_resolver(world):
    reg = registry(world)
    near = by_check(
        policy_checks(factory=world.factory_a, proposed_name="Graphana", capability=reg["cap"])
    )
    assert near["near_match"]["result"] == "warn"
    assert near["near_match"]["message"] == (
        "Did you mean Grafana (adopt ring)? It is already in the registry."
    )
    assert near["ring"]["result"] == "warn" and "not in the registry" in near["ring"]["message"]
    exact = by_check(policy_checks(factory=world.factory_a, proposed_name="grafana labs grafana"))
    assert exact["near_match"]["message"] == (
        "grafana labs grafana is Grafana in the registry (adopt ring for manufacturing "
        "factories): the request is checked, approved and provisioned as Grafana."
    )
    none = by_check(policy_checks(factory=world.factory_a, proposed_name="Quxotic Widgetizer"))
    assert none["near_match"]["result"] == "pass"


def test_cost_defaults_to_seats_times_cost_per_seat(world):
    reg = registry(world)
    reg["datadog"].annual_cost_per_seat = Decimal("2000")
    reg["datadog"].save()
    check = by_check(policy_checks(factory=world.factory_a, tool=reg["datadog"], seats=6))
    assert check["budget"]["result"] == "warn" and "EUR 12,000" in check["budget"]["message"]


def test_checks_load_in_a_constant_number_of_queries(world, django_assert_max_num_queries):
    reg = registry(world)
    with django_assert_max_num_queries(8):
        policy_checks(factory=world.factory_a, tool=reg["datadog"])


def test_did_you_mean_sees_a_tool_added_after_the_last_preview(world):
    from tests.registry.builders import tool

    reg = registry(world)
    first = by_check(policy_checks(factory=world.factory_a, proposed_name="Zabix"))
    assert first["near_match"]["result"] == "pass"
    tool("Zabbix", caps=[reg["cap"]], ring="trial")
    again = by_check(policy_checks(factory=world.factory_a, proposed_name="Zabix"))
    assert again["near_match"]["message"].startswith("Zabix is Zabbix in the registry (trial")
    assert again["ring"]["message"].startswith("Zabbix is on the trial ring")
