"""A business owner opens their plant's page: the OEE and ROI charts render."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.facts import FinanceEntry, OTCounter
from kpis.rollups import rebuild
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_sees_oee_and_roi_charts_and_can_download_the_data(world, login, live_server):
    now = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    OTCounter.objects.bulk_create(
        OTCounter(
            factory=world.factory_a,
            line="L1",
            period_start=now - timedelta(days=i),
            period_end=now - timedelta(days=i) + timedelta(hours=8),
            planned_time_s=28800,
            run_time_s=25000,
            ideal_cycle_time_s=2,
            total_count=11000,
            good_count=10800,
        )
        for i in range(60)
    )
    rebuild([world.factory_a.pk])  # rows written past the product's writers
    FinanceEntry.objects.create(
        factory=world.factory_a,
        date=date(2026, 1, 5),
        kind="investment",
        amount=Decimal(1000),
        currency="EUR",
    )
    FinanceEntry.objects.create(
        factory=world.factory_a,
        date=date(2026, 3, 5),
        kind="benefit",
        amount=Decimal(1500),
        currency="EUR",
    )
    page = login("owner_a", PASSWORD)
    page.goto(f"{live_server.url}/factories/alpha-plant/")
    page.wait_for_selector("#chart-oee .main-svg")
    page.wait_for_selector("#chart-roi .main-svg")
    assert "2 months" in page.locator("#panel-roi").inner_text()
    with page.expect_download() as download:
        page.locator("#panel-roi").get_by_role("link", name="Download data (CSV)").click()
    assert download.value.suggested_filename == "alpha-plant-roi.csv"
