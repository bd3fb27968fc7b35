"""The tool-request API: generic persona tests, filters, preview, comments, visibility."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.api_mixins import APIViewTestCase
from tests.conftest import PERSONAS
from tests.tool_requests.request_helpers import make_request, move, registry, registry_tool
from tool_requests.api.views import ToolRequestViewSet

LIST = "/api/tool-requests/"


class TestToolRequestAPI(APIViewTestCase):
    basename = "tool-request"
    viewset = ToolRequestViewSet
    # Members of a factory (any role) and CoE staff create requests; a draft is edited
    # by its requester (member_a), the factory's owner or CoE staff.
    writers = {"staff", "owner_a", "member_a"}
    create_factory_unknown_to = {"member_b"}  # a member elsewhere: A "does not exist"
    max_list_queries = 8

    def make_object(self, world, key):
        who = "member_a" if key == "a" else "member_b"
        return make_request(world, key=key, who=who)

    def create_payload(self, world):
        registry_tool(world, "datadog")
        return {
            "factory": world.factory_a.slug,
            "tool": "datadog",
            "justification": "APM for the MES.",
            "seats": 5,
        }

    def update_payload(self, world, obj):
        return {"justification": "Changed: we need traces.", "seats": 7}

    @pytest.mark.parametrize("persona", PERSONAS)
    def test_create_is_allowed_only_to_writers(self, world, persona):
        """member_b may raise requests, but not for factory A: A's slug is answered as an
        unknown one would be (400 "does not exist"), never 403."""
        response = world.client(persona).post(
            self.list_url(), self.create_payload(world), format="json"
        )
        expected = {"anonymous": 401, "member_b": 400}.get(persona, 201)
        assert response.status_code == expected, (persona, response.content)
        if persona == "member_b":
            unknown = world.client(persona).post(
                self.list_url(), {**self.create_payload(world), "factory": "nowhere"}, format="json"
            )
            assert unknown.status_code == 400
            assert unknown.json()["factory"] == [
                response.json()["factory"][0].replace("alpha-plant", "nowhere")
            ]


def test_a_request_shows_the_contract_fields(world):
    req = make_request(world)
    body = world.client("member_a").get(f"{LIST}{req.pk}/").json()
    assert set(body) >= {
        "id", "factory", "tool", "proposed_tool", "justification", "seats",
        "estimated_annual_cost", "needed_by", "status", "checks", "history",
    }  # fmt: skip
    assert body["factory"] == "alpha-plant" and body["tool"] == "datadog"
    assert body["status"] == "draft" and body["proposed_tool"] is None
    assert {c["result"] for c in body["checks"]} <= {"pass", "warn", "block"}
    assert body["history"][0]["to_status"] == "draft"


def test_a_proposed_new_tool_is_created_and_shown(world):
    reg = registry(world)
    response = world.client("member_a").post(
        LIST,
        {
            "factory": "alpha-plant",
            "proposed_tool": {"name": "Graphana", "vendor": "Grafana Labs", "homepage": ""},
            "capability": reg["cap"].slug,
            "justification": "Dashboards.",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["tool"] is None and body["proposed_tool"]["name"] == "Graphana"
    near = next(c for c in body["checks"] if c["check"] == "near_match")
    assert near["result"] == "warn" and "Did you mean Grafana" in near["message"]


def test_a_proposed_tool_without_capability_is_a_400_with_a_message(world):
    response = world.client("member_a").post(
        LIST,
        {"factory": "alpha-plant", "proposed_tool": {"name": "Foo"}, "justification": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert "capability" in response.json()


def test_member_of_b_cannot_create_for_a(world):
    """Factory A is not B's member's to see: it is answered as an unknown slug is."""
    registry(world)
    answers = [
        world.client("member_b").post(
            LIST, {"factory": slug, "tool": "datadog", "justification": "x"}, format="json"
        )
        for slug in ("alpha-plant", "no-such-factory")
    ]
    assert [a.status_code for a in answers] == [400, 400]
    assert "does not exist" in answers[0].json()["factory"][0]


def test_actions_return_the_request_and_409_on_a_wrong_status(world):
    req = make_request(world)
    client = world.client("member_a")
    response = client.post(f"{LIST}{req.pk}/submit/", {"comment": "please"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "submitted"
    assert response.json()["history"][-1]["comment"] == "please"
    again = client.post(f"{LIST}{req.pk}/submit/", {}, format="json")
    assert again.status_code == 409


def test_member_of_b_gets_404_on_actions_of_a(world):
    req = make_request(world)
    response = world.client("member_b").post(f"{LIST}{req.pk}/withdraw/", {}, format="json")
    assert response.status_code == 404


def test_filters_by_factory_status_requester_overdue_and_q(world):
    import datetime as dt

    from tool_requests.models import ToolRequest

    a = make_request(world)
    b = make_request(world, key="b", who="member_b", justification="Traces for the app")
    move(a, ("submit", world.users["member_a"]))
    ToolRequest.objects.filter(pk=a.pk).update(owner_due_on=dt.date(2020, 1, 1))
    client = world.client("staff")

    def ids(**params):
        return {r["id"] for r in client.get(LIST, params).json()["results"]}

    assert ids(factory="alpha-plant") == {a.pk}
    assert ids(factory_id=world.factory_b.pk) == {b.pk}
    assert ids(status="submitted") == {a.pk}
    assert ids(requester="member_b") == {b.pk}
    assert ids(overdue="true") == {a.pk}
    assert ids(overdue="false") == {b.pk}
    assert ids(q="traces") == {b.pk}
    assert client.get(f"{LIST}{a.pk}/").json()["overdue"] is True


def test_preview_returns_checks_without_storing(world):
    from tool_requests.models import ToolRequest

    registry(world)
    response = world.client("member_a").post(
        f"{LIST}preview/",
        {"factory": "alpha-plant", "tool": "grafana", "estimated_annual_cost": "900"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert {c["check"]: c["result"] for c in body["checks"]}["ring"] == "pass"
    assert body["fast_track"] is True
    assert not ToolRequest.objects.exists()


def test_preview_for_another_factory_is_refused_as_unknown(world):
    registry(world)
    response = world.client("member_b").post(
        f"{LIST}preview/", {"factory": "alpha-plant", "tool": "grafana"}, format="json"
    )
    assert response.status_code == 400
    assert "does not exist" in response.json()["factory"][0]


def test_comments_thread_and_stay_inside_the_factory(world):
    req = make_request(world)
    url = reverse("api:tool-request-comments", args=[req.pk])
    first = world.client("owner_a").post(url, {"body": "Why not Grafana?"}, format="json")
    assert first.status_code == 201
    reply = world.client("member_a").post(
        url, {"body": "We need traces.", "parent": first.json()["id"]}, format="json"
    )
    assert reply.status_code == 201 and reply.json()["parent"] == first.json()["id"]
    listed = world.client("member_a").get(url).json()["results"]
    assert [c["body"] for c in listed] == ["Why not Grafana?", "We need traces."]
    assert world.client("member_b").get(url).status_code == 404


@pytest.mark.parametrize("persona", ["owner_a", "staff"])
def test_nobody_but_the_requester_edits_a_submitted_request(world, persona):
    req = move(make_request(world), ("submit", world.users["member_a"]))
    response = world.client(persona).patch(
        f"{LIST}{req.pk}/", {"justification": "changed"}, format="json"
    )
    assert response.status_code in (403, 409)
    mine = world.client("member_a").patch(
        f"{LIST}{req.pk}/", {"justification": "changed"}, format="json"
    )
    assert mine.status_code == 409


def test_exception_filters_flag_expired_exceptions(world):
    import datetime as dt

    from django.utils import timezone

    from tool_requests.models import ToolRequest

    nagios = registry_tool(world, "nagios")
    req = move(
        make_request(world, tool_obj=nagios),
        ("submit", world.users["member_a"]),
        ("approve", world.users["owner_a"]),
    )
    move(
        req,
        ("approve", world.users["staff"]),
        exception_expires_on=timezone.localdate() + dt.timedelta(days=30),
    )
    other = make_request(world)
    client = world.client("staff")

    def ids(**params):
        return {r["id"] for r in client.get(LIST, params).json()["results"]}

    assert ids(exception="true") == {req.pk} and other.pk in ids(exception="false")
    assert ids(exception_expired="true") == set()
    ToolRequest.objects.filter(pk=req.pk).update(exception_expires_on=dt.date(2020, 1, 1))
    assert ids(exception_expired="true") == {req.pk}
    assert client.get(f"{LIST}{req.pk}/").json()["exception_expired"] is True


def test_a_draft_switches_from_a_registry_tool_to_a_proposed_one(world):
    reg = registry(world)
    req = make_request(world, tool_obj=reg["datadog"])
    client = world.client("member_a")
    response = client.patch(
        f"{LIST}{req.pk}/",
        {"proposed_tool": {"name": "Zabbix"}, "capability": reg["cap"].slug},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["tool"] is None
    assert response.json()["proposed_tool"]["name"] == "Zabbix"
    back = client.patch(f"{LIST}{req.pk}/", {"tool": "grafana"}, format="json").json()
    assert back["tool"] == "grafana" and back["proposed_tool"] is None
