"""The home page by role: CoE staff's cockpit, business owners' "My factories", members'
factory and requests; each in a constant number of queries."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from coe.choices import Role
from connectors.choices import SyncStatus
from connectors.models import SyncRun
from tests.connectors.helpers import make_connector
from tests.factories import FactoryFactory, MembershipFactory
from tests.pages.helpers import final_audit, signed_in
from tests.tool_requests.request_helpers import make_request, move
from tool_requests.choices import RequestStatus

pytestmark = pytest.mark.django_db


def test_home_and_portfolio_have_their_own_urls(world):
    assert reverse("home") == "/"
    assert reverse("portfolio") == "/portfolio/"
    client = signed_in(world, "owner_a")
    assert client.get("/portfolio/").status_code == 200
    page = client.get("/").content.decode()
    assert 'href="/portfolio/"' in page


def test_anonymous_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_owner_sees_my_factories_with_trend_cap_next_step_and_waiting(world):
    final_audit(world, world.factory_a, on=dt.date(2025, 1, 10), rating=2)
    final_audit(world, world.factory_a, on=dt.date(2026, 1, 10), rating=3)
    req = make_request(world)
    move(req, ("submit", world.users["member_a"]))
    page = signed_in(world, "owner_a").get("/").content.decode()
    assert "My factories" in page
    table = page[page.index('id="owned-factories"') :]
    assert "Alpha Plant" in table and "Beta App" not in page
    assert "▲ +1.00" in table, table[:3000]  # index 2.00 → 3.00
    assert "since 2025-01-10" in table
    assert "To reach" in table  # the next step, whole
    waiting = re.search(r'view=queue">(\d+)</a></td>', table)
    assert waiting and waiting.group(1) == "1"
    assert "Request a tool" in page


def test_member_sees_their_factory_their_requests_and_request_a_tool(world):
    req = make_request(world)
    page = signed_in(world, "member_a").get("/").content.decode()
    assert "My factory" in page and "Alpha Plant" in page
    assert "Beta App" not in page
    assert f'href="{req.get_absolute_url()}"' in page
    assert f'href="{reverse("request-create")}"' in page and "Request a tool" in page
    assert "No final audit yet." in page


def test_staff_cockpit_shows_queue_audits_failing_syncs_and_stage_table(world):
    final_audit(world, world.factory_a, on=dt.date(2020, 1, 10), rating=3)  # long overdue
    req = make_request(world)
    move(req, ("submit", world.users["member_a"]), ("approve", world.users["owner_a"]))
    connector = make_connector(world.factory_b, name="Line OPC UA")
    SyncRun.objects.create(connector=connector, status=SyncStatus.FAILED, message="refused")
    page = signed_in(world, "staff").get("/").content.decode()
    assert "CoE cockpit" in page
    queue = page[page.index('id="cockpit-queue"') :]
    owner_approved = RequestStatus.OWNER_APPROVED.label
    assert re.search(rf"{re.escape(owner_approved)}</a></th><td class=\"num\">1<", queue)
    audits = page[page.index('id="cockpit-audits"') :]
    assert "Alpha Plant" in audits and "days overdue" in audits
    assert "Beta App" in audits and "never audited" in audits
    syncs = page[page.index('id="cockpit-syncs"') :]
    assert "Line OPC UA" in syncs
    stages = page[page.index('id="cockpit-stages"') :]
    assert "Defined" in stages or "Developing" in stages  # a text table, not only a chart
    units = page[page.index('id="cockpit-units"') :]
    assert "Automotive" in units and "3.00" in units


def _portfolio(world, size: int):
    """``size`` more factories owned by owner_a, each with a final audit and a request."""
    owner = world.users["owner_a"]
    for i in range(size):
        factory = FactoryFactory(slug=f"plant-{size}-{i}", name=f"Plant {size}-{i}")
        MembershipFactory(user=owner, factory=factory, role=Role.BUSINESS_OWNER)
        final_audit(world, factory, on=dt.date(2025, 6, 1), rating=2 + i % 3)
        make_connector(factory, name=f"OPC {i}")


@pytest.mark.parametrize("persona", ["owner_a", "staff", "member_a"])
def test_home_query_count_does_not_grow_with_the_portfolio(
    world, persona, django_assert_max_num_queries
):
    client = signed_in(world, persona)
    _portfolio(world, 2)
    with django_assert_max_num_queries(40) as small:
        assert client.get("/").status_code == 200
    _portfolio(world, 8)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/").status_code == 200
