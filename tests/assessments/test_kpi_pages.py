"""Factory page KPI and ROI panels, their charts and CSV downloads."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from connectors.facts import Deployment, FinanceEntry, OTCounter
from kpis.rollups import rebuild


def client_for(world, persona: str) -> Client:
    client = Client()
    client.force_login(world.users[persona])
    return client


@pytest.fixture
def facts(world):
    today = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    OTCounter.objects.bulk_create(
        OTCounter(
            factory=world.factory_a,
            line=f"L{i % 3}",
            period_start=today - timedelta(days=i),
            period_end=today - timedelta(days=i) + timedelta(hours=8),
            planned_time_s=28800,
            run_time_s=25200,
            ideal_cycle_time_s=2,
            total_count=11000,
            good_count=10780,
        )
        for i in range(90)
    )
    Deployment.objects.bulk_create(
        Deployment(
            factory=world.factory_b,
            source_id=str(i),
            environment="production",
            status="failed" if i % 10 == 0 else "success",
            finished_at=today - timedelta(hours=12 * i),
            commit_created_at=today - timedelta(hours=12 * i + 5),
        )
        for i in range(120)
    )
    FinanceEntry.objects.bulk_create(
        [
            FinanceEntry(
                factory=world.factory_a,
                date=date(2026, 1, 10),
                kind="investment",
                amount=Decimal("50000"),
                currency="EUR",
            ),
            FinanceEntry(
                factory=world.factory_a,
                date=date(2026, 4, 2),
                kind="benefit",
                amount=Decimal("60000"),
                currency="EUR",
            ),
        ]
    )
    # Rows written past the product's writers (bulk_create): refresh their rollups.
    rebuild([world.factory_a.pk, world.factory_b.pk])


def test_manufacturing_page_shows_oee_and_roi_charts(world, facts, django_assert_max_num_queries):
    client = client_for(world, "member_a")
    with django_assert_max_num_queries(25):
        response = client.get("/factories/alpha-plant/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="panel-kpis"' in html and 'id="chart-oee"' in html
    assert 'id="panel-roi"' in html and 'id="chart-roi"' in html
    assert "payback" in html and "3 months" in html
    assert "/factories/alpha-plant/kpis.csv" in html and "/factories/alpha-plant/roi.csv" in html


def test_software_page_shows_dora(world, facts):
    html = client_for(world, "member_b").get("/factories/beta-app/").content.decode()
    assert 'id="chart-dora"' in html and "DORA band" in html
    assert "No finance entries yet" in html


def test_csv_downloads_hold_the_panel_data(world, facts):
    client = client_for(world, "owner_a")
    roi = client.get("/factories/alpha-plant/roi.csv")
    assert roi["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(roi.content.decode())))
    assert rows[0]["invested"] == "50000.00" and rows[-1]["benefits"] == "60000.00"
    kpis = list(
        csv.DictReader(io.StringIO(client.get("/factories/alpha-plant/kpis.csv").content.decode()))
    )
    assert {"period_start", "line", "oee", "good_count"} <= set(kpis[0])
    dora = client_for(world, "staff").get("/factories/beta-app/kpis.csv").content.decode()
    assert dora.splitlines()[0].startswith("period_start,deployments,deployment_frequency_per_day")


def test_csv_downloads_are_404_outside_the_user_factories(world, facts):
    client = client_for(world, "member_b")
    assert client.get("/factories/alpha-plant/roi.csv").status_code == 404
    assert client.get("/factories/alpha-plant/kpis.csv").status_code == 404


def test_upload_page_imports_a_file_and_lists_bad_rows(world):
    client = client_for(world, "member_a")
    assert client.get("/uploads/").status_code == 200
    good = io.BytesIO(
        b"date,kind,category,amount,currency,description\n2026-01-01,investment,x,10,EUR,a\n"
    )
    good.name = "finance.csv"
    response = client.post(
        "/uploads/", {"kind": "finance", "factory": "alpha-plant", "file": good}, follow=True
    )
    assert "1 created" in response.content.decode()
    assert FinanceEntry.objects.filter(factory=world.factory_a).count() == 1
    bad = io.BytesIO(b"date,kind,amount\n2026-01-01,gift,-3\n")
    bad.name = "finance.csv"
    response = client.post("/uploads/", {"kind": "finance", "factory": "alpha-plant", "file": bad})
    assert response.status_code == 400
    html = response.content.decode()
    assert "row 2: kind: one of investment, benefit" in html
    assert "row 2: amount: must be a non-negative amount" in html
    # A member cannot upload for a factory that is not theirs.
    other = io.BytesIO(b"date,kind,amount\n2026-01-01,benefit,3\n")
    other.name = "f.csv"
    response = client.post("/uploads/", {"kind": "finance", "factory": "beta-app", "file": other})
    assert response.status_code == 400 and FinanceEntry.objects.count() == 1
