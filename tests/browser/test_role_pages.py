"""Each persona's home, the inbox, the global search and a sync's live status, in Chromium."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from connectors.choices import SyncStatus
from connectors.models import SyncRun
from tests.connectors.helpers import make_connector
from tests.factories import PASSWORD
from tests.pages.helpers import final_audit
from tests.tool_requests.request_helpers import make_request, move

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_home_shows_my_factories_and_the_inbox(world, login, live_server):
    final_audit(world, world.factory_a, on=dt.date(2025, 1, 10), rating=2)
    final_audit(world, world.factory_a, on=dt.date(2026, 1, 10), rating=3)
    req = make_request(world)
    move(req, ("submit", world.users["member_a"]))
    page = login("owner_a", PASSWORD)
    expect(page.get_by_role("heading", name="My factories")).to_be_visible()
    row = page.locator("#owned-factories tbody tr").first
    expect(row).to_contain_text("Alpha Plant")
    expect(row).to_contain_text("▲ +1.00")
    expect(row).to_contain_text("To reach")
    # The first screen: the table starts above the fold of a 900 px window.
    assert page.locator("#owned-factories").bounding_box()["y"] < 900
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Requests")).to_contain_text("1")
    nav.get_by_role("link", name="Requests").click()
    expect(page.locator('[aria-current="page"]', has_text="Waiting for me")).to_be_visible()
    expect(page.get_by_role("link", name=f"#{req.pk}").first).to_be_visible()


def test_member_home_requests_a_tool(world, login, live_server):
    page = login("member_a", PASSWORD)
    expect(page.get_by_role("heading", name="My factory")).to_be_visible()
    page.get_by_role("link", name="Request a tool").first.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/requests/new/")


def test_staff_cockpit_and_search(world, login, live_server):
    make_connector(world.factory_a, name="Press shop OPC UA")
    page = login("staff", PASSWORD)
    expect(page.get_by_role("heading", name="CoE cockpit")).to_be_visible()
    expect(page.locator("#cockpit-queue")).to_contain_text("Approved by the business owner")
    page.get_by_label("Search").fill("alpha")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#search-factories")).to_contain_text("Alpha Plant")
    page.get_by_role("link", name="Alpha Plant").first.click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#panel-requests")).to_be_visible()


def test_sync_status_follows_the_run_until_it_ends(world, login, live_server):
    connector = make_connector(world.factory_a, name="Press shop OPC UA")
    run = SyncRun.objects.create(connector=connector, status=SyncStatus.RUNNING, progress=12)
    page = login("staff", PASSWORD)
    page.goto(f"{live_server.url}{connector.get_absolute_url()}?run={run.pk}")
    status = page.locator("#run-status")
    expect(status).to_contain_text("12 records processed so far")
    SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.SUCCEEDED, rejected=4)
    expect(status).to_contain_text("Succeeded, 4 rejected", timeout=10000)
    assert "status-partial" in status.inner_html()  # amber, not green
