"""Journeys through the pages only, in Chromium: CoE staff invite a user who then sets a
password and signs in, keep currency rates, configure an OPC UA connector with its own
fields, edit and delete process versions; a member uses the inbox tabs, sorts the
requests and searches. Each page is photographed at 1440 and 390 px and fits a phone."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from connectors.facts import CurrencyRate
from connectors.models import Connector
from registry.models import Process, ProcessVersion
from tests.browser.test_accessibility import AXE, _scan
from tests.factories import PASSWORD
from tests.registry.builders import tool
from tests.tool_requests.request_helpers import make_request, move

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _done(page) -> str:
    page.wait_for_load_state("networkidle")
    return page.inner_text(".messages")


def test_staff_invite_a_user_who_sets_a_password_and_signs_in(
    world, login, live_server, browser, shoot
):
    page = login("staff", PASSWORD)
    page.goto(f"{live_server.url}/factories/alpha-plant/")
    page.get_by_role("link", name="Invite user").click()
    page.get_by_label("E-mail").fill("not-an-address")
    page.get_by_role("button", name="Send invitation").click()
    assert "valid email" in page.locator(".has-error").inner_text()
    assert shoot("invite-form-error") <= 390
    page.get_by_label("E-mail").fill("Ada@example.com")
    page.get_by_label("First name").fill("Ada")
    expect(page.get_by_label("Factory")).to_have_value(str(world.factory_a.pk))
    page.get_by_label("Role").select_option("member")
    page.get_by_role("button", name="Send invitation").click()
    assert "Invited ada: a set-password link went to ada@example.com." in _done(page)
    expect(page.locator("#users")).to_contain_text("invited")
    assert shoot("users") <= 390
    link = re.search(r"https?://\S+/welcome/\S+/", mail.outbox[-1].body).group(0)

    context = browser.new_context(viewport={"width": 390, "height": 800})
    visitor = context.new_page()
    visitor.goto(link)
    expect(visitor.get_by_role("heading", name="Set your password")).to_be_visible()
    if AXE.exists():  # the one page a visitor sees signed out: scanned here
        assert _scan(visitor, str(AXE)) == []
    assert visitor.evaluate("document.documentElement.scrollWidth") <= 390
    visitor.get_by_label("New password", exact=True).fill("Lantern-Harbour-58")
    visitor.get_by_label("New password confirmation").fill("Lantern-Harbour-58")
    visitor.get_by_role("button", name="Set password").click()
    visitor.wait_for_load_state("networkidle")
    assert "Password set for ada; you can sign in now." in visitor.inner_text(".messages")
    visitor.fill("#id_username", "ada")
    visitor.fill("#id_password", "Lantern-Harbour-58")
    visitor.click("button[type=submit]")
    visitor.wait_for_load_state("networkidle")
    expect(visitor.get_by_role("heading", name="My factory")).to_be_visible()
    context.close()


def test_staff_keep_currency_rates(world, login, live_server, shoot):
    page = login("staff", PASSWORD)
    page.get_by_role("link", name="Currency rates").click()
    page.get_by_role("link", name="New currency rate").click()
    page.get_by_label("From currency").fill("USD")
    page.get_by_label("To currency").fill("usd")
    page.get_by_label("Rate").fill("0.92")
    page.get_by_role("button", name="Add rate").click()
    assert "two different currencies" in page.locator(".has-error").inner_text()
    page.get_by_label("To currency").fill("eur")
    page.get_by_role("button", name="Add rate").click()
    assert "Added the rate 1 USD = 0.92" in _done(page)
    expect(page.locator("#rates")).to_contain_text("1 USD = 0.92 EUR")
    assert shoot("currency-rates") <= 390
    page.get_by_role("link", name="Edit USD to EUR").click()
    page.get_by_label("Rate").fill("0.95")
    page.get_by_role("button", name="Save").click()
    assert "Saved the rate 1 USD = 0.95" in _done(page)
    page.get_by_role("link", name="Delete USD to EUR").click()
    page.get_by_role("button", name="Delete USD → EUR").click()
    assert "Deleted the rate USD → EUR." in _done(page)
    assert not CurrencyRate.objects.exists()


def test_staff_configure_an_opcua_connector_with_its_own_fields(world, login, live_server, shoot):
    page = login("staff", PASSWORD)
    page.goto(f"{live_server.url}/connectors/")
    page.get_by_role("link", name="New connector").click()
    assert shoot("connector-kinds") <= 390
    page.get_by_label("Factory").select_option(label="Alpha Plant")
    page.get_by_label("Name", exact=True).fill("Press line")
    page.get_by_label("Kind").select_option("opcua")
    expect(page.get_by_role("heading", name="New OPC UA connector")).to_be_visible()
    assert page.get_by_label("Name", exact=True).input_value() == "Press line"
    page.get_by_label("Endpoint").fill("plc.local:4840")
    page.get_by_label("Username").fill("reader")
    page.get_by_label("Password").fill("pa55word")
    page.get_by_role("button", name="Create connector").click()
    assert "opc.tcp://" in page.locator(".has-error").inner_text()
    assert page.get_by_label("Password").input_value() == ""
    assert shoot("opcua-form-error") <= 390
    page.get_by_label("Endpoint").fill("opc.tcp://plc.local:4840")
    page.get_by_label("Username").fill("reader")
    page.get_by_label("Password").fill("pa55word")
    page.get_by_role("button", name="Create connector").click()
    assert "Created connector Press line for Alpha Plant." in _done(page)
    connector = Connector.objects.get(name="Press line")
    assert connector.credentials == {"username": "reader", "password": "pa55word"}
    page.get_by_role("link", name="Edit connector").click()
    assert "pa55word" not in page.content()
    page.get_by_label("Browse root").fill("ns=2;s=Line1")
    page.get_by_role("button", name="Save").click()
    assert "Saved connector Press line." in _done(page)
    connector.refresh_from_db()
    assert connector.settings["root"] == "ns=2;s=Line1"
    assert connector.credentials["password"] == "pa55word"


def test_staff_edit_and_delete_a_process_version(world, login, live_server, shoot):
    process = Process.objects.create(name="Line clearance", slug="line-clearance")
    ProcessVersion.objects.create(process=process, version="1.0", steps="Check the line")
    page = login("staff", PASSWORD)
    page.goto(f"{live_server.url}/registry/processes/")
    page.get_by_role("link", name="New version").click()
    page.get_by_label("Version").fill("1.1")
    page.get_by_label("Steps").fill("Check the line twice")
    page.get_by_role("button", name="Release version").click()
    assert "Released Line clearance 1.1." in _done(page)
    page.get_by_role("link", name="Edit version 1.1 of Line clearance").click()
    page.get_by_label("Version").fill("1.0")
    page.get_by_role("button", name="Save").click()
    assert "already has a version 1.0" in page.locator(".has-error").inner_text()
    page.get_by_label("Version").fill("1.2")
    page.get_by_role("button", name="Save").click()
    assert "Saved Line clearance 1.2." in _done(page)
    page.locator("summary", has_text="Version 1.0").click()  # older versions start folded
    page.get_by_role("link", name="Delete version 1.0 of Line clearance").click()
    assert shoot("confirm-delete") <= 390
    page.get_by_role("button", name="Delete Line clearance 1.0").click()
    assert "Deleted Line clearance 1.0." in _done(page)
    assert list(process.versions.values_list("version", flat=True)) == ["1.2"]


def test_member_inbox_tabs_sorting_and_search(world, login, live_server, shoot):
    cheap = make_request(world, estimated_annual_cost=900)
    dear = make_request(world, tool_obj=tool("Grafana", ring="adopt"), estimated_annual_cost=15000)
    move(dear, ("submit", world.users["member_a"]))
    page = login("member_a", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    expect(page.locator('[aria-current="page"]', has_text="My requests")).to_be_visible()
    page.get_by_role("link", name="Annual cost").click()
    rows = page.locator("#requests tbody tr")
    expect(rows.first).to_contain_text(f"#{cheap.pk}")
    page.get_by_role("link", name="Annual cost").click()
    expect(rows.first).to_contain_text(f"#{dear.pk}")
    expect(page.get_by_role("columnheader", name="Annual cost")).to_have_attribute(
        "aria-sort", "descending"
    )
    page.get_by_label("Status").select_option("submitted")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state("networkidle")
    expect(rows).to_have_count(1)
    assert shoot("requests-member") <= 390
    page.get_by_label("Search", exact=True).fill("Grafana")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#search-tools")).to_contain_text("Grafana")
    page.locator("#search-requests").get_by_role("link", name=re.compile("Grafana")).click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(dear.get_absolute_url())
    # What a member may not use is not offered.
    for name in ("Users", "Currency rates", "Admin"):
        assert page.get_by_role("link", name=name, exact=True).count() == 0


def test_the_header_search_is_the_only_field_labelled_search_on_every_list(
    world, login, live_server
):
    page = login("staff", PASSWORD)
    for path in (
        "/",
        "/factories/",
        "/registry/",
        "/connectors/",
        "/devices/",
        "/assessments/",
        "/requests/",
        "/users/",
        "/search/?q=alpha",
    ):
        page.goto(live_server.url + path)
        assert page.get_by_label("Search").count() == 1, path
        assert page.get_by_label("Search").get_attribute("id") == "site-search", path
