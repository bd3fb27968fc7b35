"""A person logs in with a browser and sees the portfolio, its chart and their factories."""

import pytest

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_member_logs_in_and_sees_the_portfolio_with_a_rendered_chart(world, login, live_server):
    page = login("member_a", PASSWORD)
    assert page.url == f"{live_server.url}/"  # the home by role; the portfolio is one click on
    page.goto(f"{live_server.url}/portfolio/")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "Portfolio"
    assert page.get_by_role("link", name="Alpha Plant").is_visible()
    assert page.get_by_role("link", name="Beta App").count() == 0
    # plotly.js is served by the app itself and draws the chart into an SVG.
    page.wait_for_selector("#chart-factories-by-unit .main-svg")
    page.get_by_role("link", name="Factories").click()
    page.wait_for_load_state("networkidle")
    assert "Alpha Plant" in page.locator("table.grid").inner_text()


def test_wrong_password_keeps_the_person_on_the_login_page(world, login, live_server):
    page = login("member_a", "not-the-password")
    assert "/login/" in page.url
    assert page.locator(".error").is_visible()
