"""A member asks for a tool, sees the duplicate warning live, and the request is approved
by the business owner and then by CoE staff, each logging in through the real form."""

import pytest

from tests.factories import PASSWORD
from tests.registry.builders import adoption
from tests.tool_requests.request_helpers import registry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_out(page):
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state("networkidle")


def test_submit_see_duplicate_warning_and_approve_twice(world, login, live_server):
    reg = registry(world)
    adoption(world.factory_a, reg["grafana"], cost=800)  # Alpha already runs Grafana

    page = login("member_a", PASSWORD)
    page.goto(f"{live_server.url}/requests/new/")
    page.select_option("#id_factory", "alpha-plant")
    page.select_option("#id_tool", "datadog")
    page.fill("#id_justification", "Tracing for the MES interfaces.")
    page.fill("#id_estimated_annual_cost", "4000")
    duplicate = page.locator('#policy-checks li[data-check="duplicate"]')
    duplicate.wait_for()
    assert "already runs Grafana" in duplicate.inner_text()
    assert "warn" in duplicate.get_attribute("class")
    page.get_by_role("button", name="Submit for approval").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#request-status").inner_text() == "Submitted"
    detail = page.url
    _log_out(page)

    login("owner_a", PASSWORD)
    page.goto(f"{live_server.url}/requests/?view=queue")
    page.locator("#requests a", has_text="Datadog").click()
    page.wait_for_load_state("networkidle")
    page.fill("#comment", "Fine for the pilot line.")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#request-status").inner_text() == "Approved by the business owner"
    _log_out(page)

    login("staff", PASSWORD)
    page.goto(detail)
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#request-status").inner_text() == "Approved"
    history = page.locator("#history").inner_text()
    assert "owner_a" in history and "staff" in history and "Fine for the pilot line." in history
