"""KPI and ROI endpoints: files and payloads in, the numbers a hand calculation gives out."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from connectors.facts import CurrencyRate, FinanceEntry, OTCounter
from kpis.rollups import rebuild
from kpis.selectors import kpi_range, payback_share
from tests.factories import FactoryFactory

COUNTERS = (
    "factory,line,period_start,period_end,planned_time_s,run_time_s,ideal_cycle_time_s,"
    "total_count,good_count\n"
    "alpha-plant,L1,2026-03-02T06:00:00Z,2026-03-02T14:00:00Z,28800,25200,2.0,11000,10500\n"
    "alpha-plant,L2,2026-03-02T06:00:00Z,2026-03-02T14:00:00Z,28800,21600,3.0,6000,5900\n"
)
FINANCE = (
    "factory,date,kind,category,amount,currency,description\n"
    "alpha-plant,2026-01-15,investment,platform,120000,EUR,MES roll-out\n"
    "alpha-plant,2026-02-10,benefit,scrap,30000,EUR,less scrap\n"
    "alpha-plant,2026-03-05,benefit,scrap,30000,EUR,less scrap\n"
    "alpha-plant,2026-04-20,investment,licences,10000,USD,analytics seats\n"
    "alpha-plant,2026-05-02,benefit,downtime,40000,EUR,less downtime\n"
    "alpha-plant,2026-06-30,benefit,downtime,30000,EUR,less downtime\n"
)


def load(tmp_path, command: str, text: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(text)
    call_command(command, str(path), stdout=io.StringIO())


def test_a_counters_file_gives_the_hand_calculated_oee(world, tmp_path):
    load(tmp_path, "import_counters", COUNTERS)
    response = world.client("member_a").get(
        "/api/factories/alpha-plant/kpis/",
        {"period": "day", "from": "2026-03-01", "to": "2026-03-31"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"factory", "period", "oee", "dora"}
    assert (body["factory"], body["period"], body["dora"]) == ("alpha-plant", "day", [])
    whole = next(r for r in body["oee"] if r["line"] is None)
    # Summed counters: planned 57 600 s, run 46 800 s, ideal output 2×11 000 + 3×6 000 =
    # 40 000 s, 17 000 parts, 16 400 good. A = 0.8125, P = 0.854701, Q = 0.964706,
    # OEE = 0.8125 × 0.854701 × 0.964706 = 0.669935.
    assert whole == {
        "period_start": "2026-03-02",
        "line": None,
        "availability": 0.8125,
        "performance": 0.8547,
        "quality": 0.9647,
        "oee": 0.6699,
        "planned_time_s": 57600.0,
        "run_time_s": 46800.0,
        "total_count": 17000,
        "good_count": 16400,
    }
    l2 = next(r for r in body["oee"] if r["line"] == "L2")
    # L2: A = 21600/28800 = 0.75, P = 3×6000/21600 = 0.833333, Q = 5900/6000 = 0.983333.
    assert (l2["availability"], l2["performance"], l2["quality"], l2["oee"]) == (
        0.75,
        0.8333,
        0.9833,
        0.6146,
    )


def test_a_finance_file_gives_the_hand_calculated_roi(world, tmp_path):
    CurrencyRate.objects.create(from_currency="USD", to_currency="EUR", rate=Decimal("0.9"))
    load(tmp_path, "import_finance", FINANCE)
    response = world.client("owner_a").get("/api/factories/alpha-plant/roi/")
    assert response.status_code == 200, response.content
    body = response.json()
    # Invested 120 000 + 10 000 USD × 0.9 = 129 000 EUR; benefits 130 000 EUR; net 1 000;
    # ROI 1 000 / 129 000 = 0.78 %; cumulative benefits reach the investment in June 2026,
    # five whole months after the first investment (January).
    assert body == {
        "currency": "EUR",
        "invested": "129000.00",
        "benefits": "130000.00",
        "net": "1000.00",
        "roi_pct": 0.78,
        "payback_date": "2026-06-01",
        "payback_months": 5,
        "roi_within_6_months": True,
        "series": [
            {"month": "2026-01-01", "invested": "120000.00", "benefits": "0.00"},
            {"month": "2026-02-01", "invested": "120000.00", "benefits": "30000.00"},
            {"month": "2026-03-01", "invested": "120000.00", "benefits": "60000.00"},
            {"month": "2026-04-01", "invested": "129000.00", "benefits": "60000.00"},
            {"month": "2026-05-01", "invested": "129000.00", "benefits": "100000.00"},
            {"month": "2026-06-01", "invested": "129000.00", "benefits": "130000.00"},
        ],
    }


def test_roi_without_a_conversion_rate_is_an_explicit_error(world, tmp_path):
    load(tmp_path, "import_finance", FINANCE)
    response = world.client("staff").get("/api/factories/alpha-plant/roi/")
    assert response.status_code == 422
    assert "no conversion rate from USD to EUR" in response.json()["detail"]


def test_roi_of_a_factory_without_finance_is_empty(world):
    body = world.client("member_b").get("/api/factories/beta-app/roi/").json()
    assert body["series"] == [] and body["payback_date"] is None
    assert body["roi_within_6_months"] is False


@pytest.mark.parametrize(
    ("persona", "slug", "expected"),
    [
        ("staff", "alpha-plant", 200),
        ("staff", "beta-app", 200),
        ("owner_a", "alpha-plant", 200),
        ("member_a", "alpha-plant", 200),
        ("member_a", "beta-app", 404),
        ("member_b", "alpha-plant", 404),
        ("member_b", "beta-app", 200),
        ("anonymous", "alpha-plant", 401),
        ("owner_a", "no-such-factory", 404),
    ],
)
@pytest.mark.parametrize("endpoint", ["kpis", "roi", "flow"])
def test_kpi_endpoints_per_persona(world, persona, slug, expected, endpoint):
    response = world.client(persona).get(f"/api/factories/{slug}/{endpoint}/")
    assert response.status_code == expected, response.content


def test_bad_ranges_are_400(world):
    client = world.client("staff")
    assert client.get("/api/factories/alpha-plant/kpis/?period=year").status_code == 400
    assert client.get("/api/factories/alpha-plant/kpis/?from=yesterday").status_code == 400
    too_long = client.get(
        "/api/factories/alpha-plant/kpis/?period=day&from=2020-01-01&to=2026-01-01"
    )
    assert too_long.status_code == 400


def test_kpis_take_a_constant_number_of_queries(world, django_assert_max_num_queries):
    start = datetime(2026, 1, 1, 6, tzinfo=UTC)
    OTCounter.objects.bulk_create(
        OTCounter(
            factory=world.factory_a,
            line=f"L{i % 4}",
            period_start=start + timedelta(hours=8 * i),
            period_end=start + timedelta(hours=8 * i + 8),
            planned_time_s=28800,
            run_time_s=25000,
            ideal_cycle_time_s=2,
            total_count=10000,
            good_count=9800,
        )
        for i in range(600)
    )
    client = world.client("owner_a")
    with django_assert_max_num_queries(8):
        body = client.get(
            "/api/factories/alpha-plant/kpis/?period=week&from=2026-01-01&to=2026-06-30"
        ).json()
    # Mondays from 2025-12-29 (the week of 1 January) to 2026-06-29: 27 weeks × (4 lines + 1)
    assert len(body["oee"]) == 27 * 5
    FinanceEntry.objects.bulk_create(
        FinanceEntry(
            factory=world.factory_a,
            date=date(2026, 1, 1) + timedelta(days=i),
            kind="benefit" if i % 3 else "investment",
            category="c",
            amount=Decimal("100.00"),
            currency="EUR",
            description=str(i),
        )
        for i in range(300)
    )
    rebuild([world.factory_a.pk])  # rows written past the product's writers
    with django_assert_max_num_queries(6):
        assert client.get("/api/factories/alpha-plant/roi/").status_code == 200


def test_payback_share_counts_factories_paid_back_within_six_months(world):
    quick, slow, never = (FactoryFactory(slug=s) for s in ("quick", "slow", "never"))
    rows = [
        (quick, date(2026, 1, 1), "investment", 100),
        (quick, date(2026, 3, 1), "benefit", 150),
        (slow, date(2025, 1, 1), "investment", 100),
        (slow, date(2025, 10, 1), "benefit", 100),
        (never, date(2026, 1, 1), "investment", 100),
        (never, date(2026, 2, 1), "benefit", 10),
    ]
    FinanceEntry.objects.bulk_create(
        FinanceEntry(factory=f, date=d, kind=k, amount=a, currency="EUR", description=str(i))
        for i, (f, d, k, a) in enumerate(rows)
    )
    share = payback_share([quick, slow, never, world.factory_a])
    assert share == {"factories": 3, "within_6_months": 1, "paid_back": 2, "share": 0.3333}


def test_kpi_range_defaults_and_limits():
    rng = kpi_range("week", None, "2026-06-30")
    assert (rng.start, rng.end) == (date(2025, 12, 30), date(2026, 7, 1))
    with pytest.raises(ValueError, match="from: after to"):
        kpi_range("day", "2026-02-01", "2026-01-01")


def test_latest_kpis_for_the_portfolio_take_two_queries(world, django_assert_num_queries):
    from connectors.facts import Deployment, WorkItem
    from kpis.selectors import latest_kpis_by_factory

    OTCounter.objects.create(
        factory=world.factory_a,
        line="L1",
        period_start=datetime(2026, 10, 5, 6, tzinfo=UTC),
        period_end=datetime(2026, 10, 5, 14, tzinfo=UTC),
        planned_time_s=100,
        run_time_s=80,
        ideal_cycle_time_s=1,
        total_count=80,
        good_count=40,
    )
    Deployment.objects.bulk_create(
        Deployment(
            factory=world.factory_b,
            source_id=str(day),
            environment="production",
            status="success",
            finished_at=datetime(2026, 10, day, 12, tzinfo=UTC),
            commit_created_at=datetime(2026, 10, day, 10, tzinfo=UTC),
        )
        for day in range(1, 32)
    )
    for day in (3, 10, 20):  # incidents, restored by the next deployment 30 min later
        WorkItem.objects.create(
            factory=world.factory_b,
            source="jira",
            key=f"INC-{day}",
            kind="incident",
            created=datetime(2026, 10, day, 11, 30, tzinfo=UTC),
        )
    with django_assert_num_queries(2):
        summary = latest_kpis_by_factory(
            [world.factory_a, world.factory_b], today=date(2026, 11, 25)
        )
    # A = 0.8, P = 1.0, Q = 0.5 → 0.4; 31 deployments in 31 days, 2 h lead, restores in
    # 0.5 h: elite, but 3 failures of 34 (8.8 %) make the change failure rate high.
    assert summary[world.factory_a.pk] == {"oee": 0.4, "dora_band": None, "month": "2026-10-01"}
    assert summary[world.factory_b.pk] == {"oee": None, "dora_band": "high", "month": "2026-10-01"}
