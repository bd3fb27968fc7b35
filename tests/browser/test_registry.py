"""CoE staff open the duplicates page, see the cost at stake and waive a finding; the
radar renders its chart."""

import pytest

from registry.detection import duplicates_detect
from registry.models import DuplicateFinding
from tests.factories import PASSWORD
from tests.registry.builders import adoption, capability, tool

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_see_cost_at_stake_and_waive_a_finding(world, login, live_server):
    cap = capability("historian", "Historian")
    pi = tool("PI System", caps=[cap], ring="adopt")
    canary = tool("Canary Historian", caps=[cap], ring="hold")
    adoption(world.factory_a, pi, cost="9000")
    adoption(world.factory_b, canary, cost="125000")
    duplicates_detect()
    finding = DuplicateFinding.objects.get(kind="fragmentation")

    page = login("staff", PASSWORD)
    page.goto(f"{live_server.url}/registry/duplicates/")
    assert page.locator("#total-at-stake").inner_text() in {"125,000", "125000", "125.000"}
    row = page.locator(f"#finding-{finding.pk}")
    assert "Canary Historian" in row.inner_text()
    row.locator("summary", has_text="Waive").click()
    row.get_by_label("Waiver reason").fill("Vendor contract ends 2027")
    row.get_by_role("button", name="Waive").click()
    page.wait_for_load_state("networkidle")
    assert "Waived" in page.locator(f"#finding-{finding.pk}").inner_text()
    assert "Vendor contract ends 2027" in page.locator(f"#finding-{finding.pk}").inner_text()
    finding.refresh_from_db()
    assert finding.status == "waived" and finding.waiver_approver.username == "staff"

    page.goto(f"{live_server.url}/registry/radar/")
    page.wait_for_selector("#chart-tech-radar .main-svg")
    page.get_by_role("link", name="Registry").first.click()
    page.wait_for_load_state("networkidle")
    assert "PI System" in page.locator("table.grid").inner_text()
