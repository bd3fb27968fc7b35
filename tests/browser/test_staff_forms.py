"""CoE staff create and change things through the pages only: a factory (with a field
error first), a member, a tool, a connector; a member sees none of those buttons and is
refused the form's URL with the site's navigation around the refusal."""

import pytest

from coe.models import Factory, Membership
from connectors.models import Connector
from registry.models import Tool
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_create_a_factory_a_member_a_tool_and_a_connector(world, login, live_server, shoot):
    page = login("staff", PASSWORD)
    page.goto(f"{live_server.url}/factories/")
    page.get_by_role("link", name="New factory").click()
    page.get_by_label("Name", exact=True).fill("Gamma Works")
    page.get_by_label("Slug").fill("alpha-plant")  # taken: a field error, nothing lost
    page.get_by_label("Kind").select_option("manufacturing")
    page.get_by_label("Business unit").fill("Automotive")
    page.get_by_role("button", name="Create factory").click()
    assert "already exists" in page.locator(".has-error").inner_text()
    assert page.get_by_label("Name", exact=True).input_value() == "Gamma Works"
    assert shoot("factory-form-error") <= 390
    page.get_by_label("Slug").fill("gamma-works")
    page.get_by_role("button", name="Create factory").click()
    page.wait_for_load_state("networkidle")
    assert "Created factory Gamma Works." in page.locator(".messages").inner_text()
    gamma = Factory.objects.get(slug="gamma-works")
    assert gamma.business_unit == "Automotive"

    page.get_by_role("link", name="Add member").click()
    page.get_by_label("User").select_option(label="member_b")
    page.get_by_label("Role").select_option("business_owner")
    page.get_by_role("button", name="Add member").click()
    page.wait_for_load_state("networkidle")
    assert "Added member_b to Gamma Works as business owner." in page.inner_text(".messages")
    assert Membership.objects.filter(factory=gamma, user__username="member_b").exists()
    page.get_by_role("button", name="Remove member_b").click()
    page.wait_for_load_state("networkidle")
    assert "Removed member_b from Gamma Works." in page.inner_text(".messages")
    assert not Membership.objects.filter(factory=gamma).exists()

    page.goto(f"{live_server.url}/registry/")
    page.get_by_role("link", name="New tool").click()
    page.get_by_label("Name", exact=True).fill("Grafana")
    page.get_by_label("Vendor").fill("Grafana Labs")
    page.get_by_label("Ring").select_option("trial")
    page.get_by_role("button", name="Create tool").click()
    page.wait_for_load_state("networkidle")
    assert "Added tool Grafana to the registry." in page.inner_text(".messages")
    grafana = Tool.objects.get(name="Grafana")
    assert grafana.ring == "trial" and grafana.ring_changes.count() == 1
    page.get_by_label("Ring", exact=True).select_option("adopt")
    page.get_by_label("Reason").fill("Two plants use it daily")
    page.get_by_role("button", name="Move").click()
    page.wait_for_load_state("networkidle")
    assert "Moved Grafana from trial to adopt." in page.inner_text(".messages")

    page.goto(f"{live_server.url}/connectors/")
    page.get_by_role("link", name="New connector").click()
    page.get_by_label("Factory").select_option(label="Gamma Works")
    page.get_by_label("Name", exact=True).fill("Inventory")
    page.get_by_label("Kind").select_option("netbox")  # the form reloads with its fields
    page.get_by_label("Base URL").wait_for()
    assert page.get_by_label("Name", exact=True).input_value() == "Inventory"
    page.get_by_label("Base URL").fill("netbox.example")
    page.get_by_label("Page size").fill("100")
    page.get_by_label("API token").fill("s3cret")
    page.get_by_role("button", name="Create connector").click()
    assert "base_url" in page.locator(".has-error").inner_text()
    # Credentials are write-only: the form never sends them back.
    assert page.get_by_label("API token").input_value() == ""
    assert page.get_by_label("Page size").input_value() == "100"
    page.get_by_label("Base URL").fill("https://netbox.example")
    page.get_by_label("API token").fill("s3cret")
    page.get_by_role("button", name="Create connector").click()
    page.wait_for_load_state("networkidle")
    assert "Created connector Inventory for Gamma Works." in page.inner_text(".messages")
    connector = Connector.objects.get(name="Inventory")
    assert connector.factory == gamma and connector.credentials == {"token": "s3cret"}
    page.get_by_role("link", name="Edit connector").click()
    assert "s3cret" not in page.content()
    shoot("connector-form")


def test_a_member_sees_no_staff_button_and_is_refused_the_form(world, login, live_server, shoot):
    page = login("member_a", PASSWORD)
    for path, name in (
        ("/factories/", "New factory"),
        ("/registry/", "New tool"),
        ("/connectors/", "New connector"),
        ("/factories/alpha-plant/", "Add member"),
    ):
        page.goto(live_server.url + path)
        assert page.get_by_role("link", name=name).count() == 0, path
    response = page.goto(f"{live_server.url}/factories/new/")
    assert response.status == 403
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert "may not open this page" in page.inner_text("h1")
    shoot("403")
    response = page.goto(f"{live_server.url}/factories/no-such-factory/")
    assert response.status == 404
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert shoot("404") <= 390
