"""An auditor fills an audit in the browser, a second CoE staff member reviews and finalises
it (four eyes); the business owner then sees the scorecard's radar, stage history and
roadmap."""

import pytest

from coe.services import user_set_coe_staff
from tests.factories import PASSWORD, UserFactory
from tests.registry.builders import adoption, tool

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_auditor_finalises_an_audit_and_the_owner_sees_radar_and_roadmap(world, login, live_server):
    adoption(world.factory_a, tool("GitLab", ring="adopt"))  # the signal suggests 5
    page = login("staff", PASSWORD)
    page.get_by_role("link", name="Assessments").click()
    page.wait_for_load_state("networkidle")
    page.select_option("#new-audit select[name=factory]", "alpha-plant")
    page.click("#new-audit button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Audit of Alpha Plant" in page.locator("h1").inner_text()
    assert page.locator("#progress-text").inner_text() == "0 / 28"

    selects = page.locator("select[name^='rating-']")
    for i in range(selects.count()):
        select = selects.nth(i)
        key = select.get_attribute("data-criterion")
        select.select_option("2" if key.startswith("data.") else "5")
    standard_tools = page.locator("select[data-criterion='platform.standard_tools']")
    standard_tools.select_option("3")
    page.click("button.use-suggestion[data-criterion='platform.standard_tools']")
    assert standard_tools.input_value() == "5"
    page.fill("textarea[name='evidence-data.systems']", "Historian and MES not connected yet")
    # GitLab lands no data, so the integration signal suggests 1: rating 2 is an override.
    page.fill("textarea[name='comment-data.systems']", "MES orders arrive by nightly file drop")
    # The technology signals see no twin, vision or AI tool in the registry (suggest 1);
    # the auditor rates what the site walk showed and says so.
    suggestions = page.locator("button.use-suggestion")
    for i in range(suggestions.count()):
        key = suggestions.nth(i).get_attribute("data-criterion")
        if key not in ("platform.standard_tools", "data.systems"):
            page.fill(f"textarea[name='comment-{key}']", "Seen on the site walk; registry lags")
    page.click("button[value=save]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#progress-text").inner_text() == "28 / 28"
    assert "Established" in page.locator("text=Preview").locator("..").inner_text()
    assert "Accepted" in page.locator("#crit-platform\\.standard_tools").inner_text()

    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.click("#finalize")  # the auditor answered: another CoE staff member must finalise
    page.wait_for_load_state("networkidle")
    assert "Four-eyes review" in page.content()
    assert dialogs and dialogs[0].startswith("Finalise this audit?")
    audit_url = page.url

    page.click("button.linklike")  # log out
    page.wait_for_load_state("networkidle")
    user_set_coe_staff(user=UserFactory(username="reviewer"), is_staff=True)
    page = login("reviewer", PASSWORD)
    page.goto(audit_url)
    page.fill("textarea[name='review-data.systems']", "Agreed: file drops are not integration")
    page.click("button[value=comment]")
    page.wait_for_load_state("networkidle")
    assert "Agreed: file drops" in page.locator("#crit-data\\.systems").inner_text()
    page.once("dialog", lambda d: d.accept())
    page.click("#finalize")
    page.wait_for_load_state("networkidle")
    assert "/report/" in page.url
    assert (
        "capped at Established by Data integration at 2.0"
        in page.locator("#explanation").inner_text()
    )

    page.click("button.linklike")  # log out
    page.wait_for_load_state("networkidle")
    page = login("owner_a", PASSWORD)
    page.goto(f"{live_server.url}/factories/alpha-plant/")
    page.get_by_role("link", name="Scorecard, stage history and roadmap").click()
    page.wait_for_selector("#chart-radar .main-svg")
    page.wait_for_selector("#chart-stage-history .main-svg")
    assert page.locator("#overall-stage").inner_text() == "Established"
    roadmap = page.locator("#roadmap").inner_text()
    assert "Core systems integrated" in roadmap
