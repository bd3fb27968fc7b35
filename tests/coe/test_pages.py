"""The core pages: login, the factory list and the factory page, per persona."""

import pytest
from django.urls import reverse

from coe.choices import Role
from tests.factories import PASSWORD, FactoryFactory, MembershipFactory


def login(client, world, persona):
    client.force_login(world.users[persona])
    return client


@pytest.mark.parametrize("url_name", ["portfolio", "factory-list"])
def test_anonymous_is_sent_to_login(client, world, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_form_signs_in_and_lands_on_the_portfolio(client, world):
    response = client.post(reverse("login"), {"username": "member_a", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    page = client.get(reverse("portfolio"))
    assert b"Alpha Plant" in page.content and b"Beta App" not in page.content


def test_wrong_password_shows_an_error(client, world):
    response = client.post(reverse("login"), {"username": "member_a", "password": "nope"})
    assert response.status_code == 200
    assert b"did not match" in response.content


def test_member_of_b_sees_only_b_in_the_factory_list(client, world):
    page = login(client, world, "member_b").get(reverse("factory-list")).content.decode()
    assert "Beta App" in page and "Alpha Plant" not in page


def test_staff_see_every_factory_and_can_filter(client, world):
    page = login(client, world, "staff").get(reverse("factory-list")).content.decode()
    assert "Beta App" in page and "Alpha Plant" in page
    filtered = client.get(reverse("factory-list"), {"kind": "software"}).content.decode()
    assert "Beta App" in filtered and "Alpha Plant" not in filtered


def test_factory_page_is_404_outside_the_user_factories(client, world):
    login(client, world, "member_b")
    assert client.get(reverse("factory-detail", args=["alpha-plant"])).status_code == 404
    page = client.get(reverse("factory-detail", args=["beta-app"]))
    assert page.status_code == 200 and b"member_b" in page.content


def test_factory_page_names_the_business_owner(client, world):
    page = login(client, world, "member_a").get(reverse("factory-detail", args=["alpha-plant"]))
    assert b"owner_a" in page.content and b"Business owner" in page.content


def test_navigation_marks_the_current_section(client, world):
    page = login(client, world, "staff").get(reverse("factory-list")).content.decode()
    assert 'href="/factories/" class="active"' in page
    assert ">Admin<" in page


def test_factory_list_takes_a_constant_number_of_queries(
    client, world, django_assert_max_num_queries
):
    for i in range(40):
        factory = FactoryFactory(slug=f"page-{i}", business_unit=f"Unit {i % 4}")
        MembershipFactory(factory=factory, role=Role.BUSINESS_OWNER)
    login(client, world, "staff")
    with django_assert_max_num_queries(12):
        response = client.get(reverse("factory-list"))
    assert response.status_code == 200 and response.content.count(b"kind-manufacturing") >= 40
    # The portfolio reads stored maturity and KPI figures: a few more queries than the
    # raw reads it replaced, the same at every portfolio size (tests/kpis pins 3 vs 15).
    with django_assert_max_num_queries(16):
        assert client.get(reverse("portfolio")).status_code == 200


def test_health_tells_anonymous_callers_only_ok(client, db):
    response = client.get(reverse("health"))
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize("persona", ["member_a", "owner_a"])
def test_health_details_are_for_coe_staff_only(client, world, persona):
    login(client, world, persona)
    assert client.get(reverse("health")).json() == {"status": "ok"}


def test_health_reports_the_database_to_coe_staff(client, world):
    login(client, world, "staff")
    body = client.get(reverse("health")).json()
    assert body["status"] == "ok" and body["database"] == "ok" and "broker" in body
