"""``GET /api/portfolio/roi/``: pooled ROI, payback against the survey, by business unit,
scoped to what the caller may see."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.facts import CurrencyRate
from tests.assessments.test_portfolio_kpis import invest
from tests.factories import FactoryFactory

pytestmark = pytest.mark.django_db


def _portfolio(world):
    """alpha-plant (Automotive) paid back in 4 months; beta-app (Digital) not yet;
    gamma (Automotive) paid back in 8 months."""
    gamma = FactoryFactory(slug="gamma-line", name="Gamma Line", business_unit="Automotive")
    invest(world.factory_a, 8, 1000, [(6, 600), (4, 600)])
    invest(world.factory_b, 8, 1000, [(6, 100)])
    invest(gamma, 10, 2000, [(5, 1000), (2, 1500)])
    return gamma


def test_staff_see_the_whole_portfolio_against_the_survey_benchmark(world):
    _portfolio(world)
    body = world.client("staff").get("/api/portfolio/roi/").json()
    assert body["factories"] == 3 and body["currency"] == "EUR"
    assert body["invested"] == "4000.00" and body["benefits"] == "3800.00"
    assert body["roi"] == -5.0  # (3800 - 4000) / 4000, the factory ROI formula on the pool
    assert body["payback_months"]["median"] == 6  # 4 and 8 months
    assert body["payback_months"]["not_yet"] == 1
    assert body["paid_back_within_6_months"] == {
        "count": 1,
        "of": 3,
        "share": 0.3333,
        "vs_benchmark": 0.0633,
    }
    bench = body["survey_benchmark"]
    assert (bench["share"], bench["previous_year_share"], bench["year"]) == (0.27, 0.42, 2026)
    assert bench["source"]
    units = {row["business_unit"]: row for row in body["by_business_unit"]}
    assert units["Automotive"]["factories"] == 2
    assert units["Automotive"]["paid_back_within_6_months"]["share"] == 0.5
    assert units["Automotive"]["invested"] == "3000.00"
    assert units["Digital"]["paid_back_within_6_months"]["count"] == 0


def test_a_business_unit_narrows_and_members_see_only_their_factories(world):
    _portfolio(world)
    body = world.client("staff").get("/api/portfolio/roi/?business_unit=Digital").json()
    assert body["factories"] == 1 and [u["business_unit"] for u in body["by_business_unit"]] == [
        "Digital"
    ]
    mine = world.client("member_a").get("/api/portfolio/roi/").json()
    assert mine["factories"] == 1 and mine["invested"] == "1000.00"
    assert mine["paid_back_within_6_months"]["share"] == 1.0
    assert world.client("anonymous").get("/api/portfolio/roi/").status_code == 401


def test_entries_in_another_currency_are_converted_or_the_factory_is_named(world):
    invest(world.factory_a, 3, 1000, currency="USD")
    invest(world.factory_b, 3, 500)
    body = world.client("staff").get("/api/portfolio/roi/").json()
    assert body["invested"] == "500.00"
    assert body["excluded"][0]["factory"] == "alpha-plant"
    CurrencyRate.objects.create(from_currency="USD", to_currency="EUR", rate=Decimal("0.9"))
    body = world.client("staff").get("/api/portfolio/roi/").json()
    assert body["invested"] == "1400.00" and body["excluded"] == []


def test_the_portfolio_roi_takes_a_constant_number_of_queries(world, django_assert_max_num_queries):
    _portfolio(world)
    for i in range(10):
        invest(FactoryFactory(slug=f"more-{i}", business_unit=f"Unit {i % 3}"), 5, 100, [(1, 50)])
    client = world.client("staff")
    with django_assert_max_num_queries(9):
        assert client.get("/api/portfolio/roi/").json()["factories"] == 13


def test_the_portfolio_page_sets_the_payback_share_against_the_survey_by_unit(client, world):
    _portfolio(world)
    client.force_login(world.users["staff"])
    page = client.get("/portfolio/").content.decode()  # "/" is the home by role now
    section = page.split('id="payback-benchmark"')[1].split("</section>")[0]
    assert "27 % of organisations expected ROI within six months in 2026" in section
    assert "42 % the year before" in section
    assert '<td>Automotive</td><td class="num">1 of 2</td><td class="num">50 %</td>' in section
    assert '<td>Digital</td><td class="num">0 of 1</td><td class="num">0 %</td>' in section
    assert section.count("above") == 2 and section.count("below") == 1  # portfolio 33 %


def test_a_user_of_no_factory_gets_an_empty_portfolio(world):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    _portfolio(world)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=UserFactory()).key}")
    body = client.get("/api/portfolio/roi/").json()
    assert body["factories"] == 0 and body["by_business_unit"] == []
    assert body["payback_months"] == {
        "median": None, "mean": None, "min": None, "max": None, "paid_back": 0, "not_yet": 0,
    }  # fmt: skip
    assert body["paid_back_within_6_months"]["of"] == 0
