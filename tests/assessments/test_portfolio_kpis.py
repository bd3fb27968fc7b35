"""The portfolio page's ROI and productivity columns and its payback tile."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from coe.choices import FactoryKind
from connectors.facts import Deployment, FinanceEntry, OTCounter
from kpis.rollups import rebuild
from tests.factories import FactoryFactory, MembershipFactory

TODAY = dt.datetime.now(dt.UTC).date()
LAST_MONTH = (TODAY.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


@pytest.fixture(autouse=True)
def _pinned_today(monkeypatch):
    """The pages read "last full month" from the clock; pin it to the TODAY these rows were
    dated with, so a run crossing midnight at a month's end reads the same month."""
    monkeypatch.setattr("kpis.rollups.today_utc", lambda: TODAY)
    monkeypatch.setattr("kpis.reads.today_utc", lambda: TODAY)


def months_ago(n: int) -> dt.date:
    total = TODAY.year * 12 + TODAY.month - 1 - n
    return dt.date(total // 12, total % 12 + 1, 10)


def invest(factory, back, amount, benefits=(), currency="EUR"):
    rows = [
        FinanceEntry(
            factory=factory,
            date=months_ago(back),
            kind="investment",
            amount=Decimal(amount),
            currency=currency,
            description="build",
        )
    ]
    rows += [
        FinanceEntry(
            factory=factory,
            date=months_ago(m),
            kind="benefit",
            amount=Decimal(a),
            currency="EUR",
            description=f"benefit {m}",
        )
        for m, a in benefits
    ]
    FinanceEntry.objects.bulk_create(rows)
    rebuild([factory.pk])  # rows written past the product's writers


def shift(factory, line="L1"):
    start = dt.datetime.combine(LAST_MONTH + dt.timedelta(days=3), dt.time(6), tzinfo=dt.UTC)
    OTCounter.objects.create(
        factory=factory,
        line=line,
        period_start=start,
        period_end=start + dt.timedelta(hours=8),
        planned_time_s=1000,
        run_time_s=800,
        ideal_cycle_time_s=1,
        total_count=640,
        good_count=576,
    )  # A 0.8 × P 0.8 × Q 0.9 = 57.6 %


def deploys(factory, per_month):
    start = dt.datetime.combine(LAST_MONTH, dt.time(9), tzinfo=dt.UTC)
    Deployment.objects.bulk_create(
        Deployment(
            factory=factory,
            source_id=str(i),
            environment="production",
            status="success",
            finished_at=start + dt.timedelta(hours=i),
            commit_created_at=start + dt.timedelta(hours=i) - dt.timedelta(minutes=30),
        )
        for i in range(per_month)
    )
    rebuild([factory.pk])  # rows written past the product's writers


def test_portfolio_shows_roi_productivity_and_the_payback_share(client, world):
    plant, app = world.factory_a, world.factory_b
    invest(plant, 8, 1000, [(6, 600), (4, 600)])  # paid back after 4 months
    invest(app, 8, 1000, [(6, 100)])  # not yet
    shift(plant)
    deploys(app, 40)
    client.force_login(world.users["staff"])
    page = client.get(reverse("portfolio")).content.decode()
    assert "50 %" in page and "1 of 2 factories with an investment" in page
    assert "20.0 %" in page and "4 months" in page  # plant: ROI (1200-1000)/1000
    assert "-90.0 %" in page and "not yet" in page
    assert "OEE 58 %" in page and "DORA elite" in page


def test_portfolio_columns_say_what_is_missing_and_respect_scoping(client, world):
    invest(world.factory_a, 3, 1000, currency="USD")  # no USD→EUR rate
    invest(world.factory_b, 3, 5000, [(1, 9000)])
    client.force_login(world.users["member_a"])
    page = client.get(reverse("portfolio")).content.decode()
    assert "no conversion rate for a finance entry" in page and "no OEE" in page
    assert "9000" not in page and "Beta App" not in page
    assert "0 of 0 factories" in page


def test_portfolio_columns_take_a_constant_number_of_queries(
    client, world, django_assert_max_num_queries
):
    staff = world.users["staff"]
    for i in range(40):
        kind = FactoryKind.MANUFACTURING if i % 2 else FactoryKind.SOFTWARE
        factory = FactoryFactory(slug=f"f-{i}", kind=kind, business_unit=f"Unit {i % 4}")
        MembershipFactory(user=staff, factory=factory)
        invest(factory, 6 + i % 5, 1000, [(3, 400 + 50 * i), (1, 400)])
        if kind == FactoryKind.MANUFACTURING:
            shift(factory)
            shift(factory, "L2")
        else:
            deploys(factory, 3 + i)
    client.force_login(staff)
    client.get(reverse("portfolio"))
    with django_assert_max_num_queries(16):  # +1: the unread notifications count
        response = client.get(reverse("portfolio"))
    page = response.content.decode()
    assert page.count("OEE 58 %") == 20 and page.count("DORA ") >= 20
    assert 'id="tile-payback"' in page
