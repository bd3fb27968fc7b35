"""The per-factory KPI rollups: equal to the per-request computation, kept current when
facts land, change or go, rebuilt by ``manage.py kpis_rollup``, and read by the pages in
a number of queries that does not grow with the portfolio."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from celery.signals import task_prerun
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coe.choices import FactoryKind, Role
from connectors.facts import CurrencyRate, Deployment, FinanceEntry, OTCounter, WorkItem
from connectors.imports import facts_import_file
from kpis import reads
from kpis.models import FactoryFigures, FactoryMonth
from kpis.rollups import last_full_month, next_month, rebuild
from kpis.selectors import (
    DORA_KEYS,
    KPIRange,
    dora_for_factory,
    oee_for_factory,
    roi_by_factory,
    roi_for_factory,
)
from registry.models import Adoption, DuplicateFinding, Tool
from tests.factories import FactoryFactory, MembershipFactory

START = datetime(2026, 1, 1, tzinfo=UTC)

counter = st.tuples(
    st.integers(0, 150),  # day offset
    st.sampled_from(["L1", "L2", "L3"]),
    st.integers(0, 28800),  # planned
    st.integers(0, 28800),  # run
    st.sampled_from([0.5, 1.0, 2.0]),
    st.integers(0, 5000),  # total
    st.integers(0, 5000),  # good
)
deployment = st.tuples(
    st.integers(0, 150 * 24),  # hour offset
    st.sampled_from(["success", "failed", "running"]),
    st.integers(0, 200),  # lead hours
)
finance = st.tuples(
    st.integers(0, 150),
    st.sampled_from(["investment", "benefit"]),
    st.integers(1, 100000),
    st.sampled_from(["EUR", "EUR", "USD", ""]),
)


def _month_starts() -> list[date]:
    months, month = [], START.date()
    while month < date(2026, 7, 1):
        months.append(month)
        month = next_month(month)
    return months


def _land(factory, counters, deployments, incidents, entries) -> None:
    OTCounter.objects.bulk_create(
        OTCounter(
            factory=factory,
            line=line,
            period_start=START + timedelta(days=day, hours=6),
            period_end=START + timedelta(days=day, hours=8),
            planned_time_s=planned,
            run_time_s=run,
            ideal_cycle_time_s=ideal,
            total_count=total,
            good_count=good,
        )
        for day, line, planned, run, ideal, total, good in counters
    )
    Deployment.objects.bulk_create(
        Deployment(
            factory=factory,
            environment="production",
            source_id=str(i),
            status=status,
            finished_at=START + timedelta(hours=hour),
            commit_created_at=START + timedelta(hours=hour - lead),
        )
        for i, (hour, status, lead) in enumerate(deployments)
    )
    WorkItem.objects.bulk_create(
        WorkItem(
            factory=factory, source="jira", key=f"INC-{i}", kind="incident",
            created=START + timedelta(hours=hour),
        )
        for i, hour in enumerate(incidents)
    )  # fmt: skip
    FinanceEntry.objects.bulk_create(
        FinanceEntry(
            factory=factory, date=START.date() + timedelta(days=day), kind=kind,
            amount=Decimal(amount) / 100, currency=currency, description=str(i),
        )
        for i, (day, kind, amount, currency) in enumerate(entries)
    )  # fmt: skip


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    counters=st.lists(counter, max_size=25, unique_by=lambda c: (c[0], c[1])),
    deployments=st.lists(deployment, max_size=25, unique_by=lambda d: d[0]),
    incidents=st.lists(st.integers(0, 150 * 24), max_size=5),
    entries=st.lists(finance, max_size=10),
    with_rate=st.booleans(),
)
def test_rollups_equal_the_per_request_computation(
    world, counters, deployments, incidents, entries, with_rate
):
    factory = world.factory_a
    for model in (OTCounter, Deployment, WorkItem, FinanceEntry, CurrencyRate):
        model.objects.all().delete()
    if with_rate:
        CurrencyRate.objects.create(from_currency="USD", to_currency="EUR", rate="0.91234567")
    _land(factory, counters, deployments, incidents, entries)
    rebuild([factory.pk])
    months = {m.month: m for m in FactoryMonth.objects.filter(factory=factory)}
    for month in _month_starts():
        rng = KPIRange(period="month", start=month, end=next_month(month))
        whole = [r for r in oee_for_factory(factory, rng) if r["line"] is None]
        dora = dora_for_factory(factory, rng)
        rolled = reads.oee_rows([months[month]]) if month in months else []
        assert rolled == whole
        rolled = reads.dora_rows([months[month]]) if month in months else []
        assert rolled == [{k: r[k] for k in DORA_KEYS} for r in dora]
    try:
        raw = roi_for_factory(factory).as_dict()
    except Exception as exc:  # a missing rate: the rollup says the same
        with pytest.raises(type(exc)):
            reads.factory_roi(factory)
        assert reads.rois_by_factory([factory])[factory.pk] is None
        return
    assert reads.factory_roi(factory).as_dict() == raw
    assert reads.rois_by_factory([factory])[factory.pk].as_dict() == {
        **roi_by_factory([factory])[factory.pk].as_dict(),
        "series": [],
    }


def _counter_file(slug: str, good: int, day: int = 2) -> bytes:
    return (
        "factory,line,period_start,period_end,planned_time_s,run_time_s,"
        "ideal_cycle_time_s,total_count,good_count\n"
        f"{slug},L1,2026-03-0{day}T06:00:00Z,2026-03-0{day}T14:00:00Z,28800,25200,2.0,11000,{good}\n"
    ).encode()


def test_an_imported_counter_lands_in_the_rollup_and_a_correction_changes_it(world):
    facts_import_file(kind="counters", data=_counter_file("alpha-plant", 10500), name="a.csv")
    march = FactoryMonth.objects.get(factory=world.factory_a, month=date(2026, 3, 1))
    assert march.lines == ["L1"] and march.good_count == 10500
    assert march.quality == round(10500 / 11000, 4)
    facts_import_file(kind="counters", data=_counter_file("alpha-plant", 9900), name="b.csv")
    march.refresh_from_db()
    assert march.good_count == 9900 and march.quality == round(9900 / 11000, 4)


def test_finance_entries_move_the_roi_figures_when_saved_and_deleted(world):
    factory = world.factory_a
    entry = FinanceEntry.objects.create(
        factory=factory, date=date(2026, 1, 5), kind="investment", amount=1000, currency="EUR"
    )
    FinanceEntry.objects.create(
        factory=factory, date=date(2026, 3, 5), kind="benefit", amount=1500, currency="EUR"
    )
    figures = FactoryFigures.objects.get(factory=factory)
    assert (figures.invested, figures.benefits, figures.payback_months) == (1000, 1500, 2)
    entry.amount = Decimal("3000")
    entry.save()
    figures.refresh_from_db()
    assert figures.invested == 3000 and figures.payback_months is None
    entry.delete()
    figures.refresh_from_db()
    assert figures.invested == 0 and figures.roi_pct is None
    assert not FactoryMonth.objects.filter(factory=factory, month=date(2026, 1, 1)).exists()


def test_spend_and_findings_follow_adoptions_and_findings(world):
    factory = world.factory_a
    tool = Tool.objects.create(name="Planner", annual_cost_per_seat=Decimal("10"))
    adoption = Adoption.objects.create(factory=factory, declared_name="Planner", tool=tool, seats=7)
    figures = FactoryFigures.objects.get(factory=factory)
    assert (figures.annual_spend, figures.active_adoptions) == (70, 1)
    tool.annual_cost_per_seat = Decimal("20")
    tool.save()
    figures.refresh_from_db()
    assert figures.annual_spend == 140
    finding = DuplicateFinding.objects.create(
        key="manual:x", kind="overlap", scope=factory, annual_cost_at_stake=Decimal("500")
    )
    finding.factories.add(world.factory_b)
    figures.refresh_from_db()
    other = FactoryFigures.objects.get(factory=world.factory_b)
    assert (figures.open_findings, figures.at_stake) == (1, 500)
    assert (other.open_findings, other.at_stake) == (1, 500)
    finding.status = "resolved"
    finding.save()
    figures.refresh_from_db()
    assert (figures.open_findings, figures.at_stake) == (0, 0)
    adoption.delete()
    figures.refresh_from_db()
    assert figures.annual_spend == 0


def test_a_big_import_refreshes_once_for_all_its_factories(world):
    runs = []

    def count(sender=None, task=None, args=None, **kwargs):
        if task.name == "kpis.tasks.refresh_rollups":
            runs.append(args)

    task_prerun.connect(count)
    try:
        rows = [
            f"{slug},L{i},2026-03-0{1 + i % 9}T06:00:00Z,2026-03-0{1 + i % 9}T14:00:00Z,"
            "28800,25200,2.0,11000,10500"
            for slug in ("alpha-plant", "beta-app")
            for i in range(40)
        ]
        header = _counter_file("x", 1).decode().splitlines()[0]
        data = "\n".join([header, *rows]).encode()
        facts_import_file(kind="counters", data=data, name="big.csv")
    finally:
        task_prerun.disconnect(count)
    assert runs == [[sorted([world.factory_a.pk, world.factory_b.pk]), ["2026-03-01"]]]


def test_the_rebuild_command_is_idempotent_and_restores_lost_rows(world):
    facts_import_file(kind="counters", data=_counter_file("alpha-plant", 10500), name="a.csv")
    FinanceEntry.objects.create(
        factory=world.factory_b, date=date(2026, 2, 1), kind="investment", amount=10, currency=""
    )

    def snapshot():
        fields = ["factory_id", "month", "oee", "lines", "finance", "band"]
        return list(FactoryMonth.objects.order_by("factory_id", "month").values(*fields))

    first = snapshot()
    FactoryMonth.objects.all().delete()
    FactoryFigures.objects.all().delete()
    out = io.StringIO()
    call_command("kpis_rollup", stdout=out)
    assert "2 factory months written" in out.getvalue()
    assert snapshot() == first
    call_command("kpis_rollup", "--factory", "alpha-plant", stdout=io.StringIO())
    assert snapshot() == first
    assert FactoryFigures.objects.count() == 2
    with pytest.raises(CommandError, match="no factory"):
        call_command("kpis_rollup", "--factory", "nowhere", stdout=io.StringIO())


def test_a_deleted_factory_takes_its_rollups_with_it(world):
    factory = world.factory_a
    FinanceEntry.objects.create(
        factory=factory, date=date(2026, 1, 5), kind="investment", amount=10, currency="EUR"
    )
    Adoption.objects.create(factory=factory, declared_name="Sheets", annual_cost=5)
    DuplicateFinding.objects.create(key="manual:y", kind="overlap", scope=factory)
    assert FactoryMonth.objects.filter(factory=factory).exists()
    factory.delete()
    assert not FactoryMonth.objects.filter(factory_id=factory.pk).exists()
    assert not FactoryFigures.objects.filter(factory_id=factory.pk).exists()


def _portfolio(count: int, owner) -> None:
    month = last_full_month()
    for i in range(count):
        factory = FactoryFactory(
            slug=f"plant-{count}-{i}",
            kind=FactoryKind.MANUFACTURING if i % 2 else FactoryKind.SOFTWARE,
            business_unit=f"Unit {i % 3}",
        )
        MembershipFactory(user=owner, factory=factory, role=Role.BUSINESS_OWNER)
        FinanceEntry.objects.create(
            factory=factory, date=month, kind="investment", amount=100, currency="USD"
        )
        FinanceEntry.objects.create(
            factory=factory, date=month, kind="benefit", amount=50 + i, currency="EUR"
        )
        OTCounter.objects.create(
            factory=factory, line="L1", period_start=_at(month), period_end=_at(month),
            planned_time_s=100, run_time_s=90, ideal_cycle_time_s=1, total_count=80,
            good_count=70,
        )  # fmt: skip


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)


# Measured at 3 and at 15 factories (the same counts): pinned so that a page reading raw
# facts per factory, or a query per factory, fails here. The cockpit reads the registry's
# and maturity data generations once each for their memoised figures (coe.generations).
QUERIES = {
    "staff": {"/": 22, "/portfolio/": 17, "/factories/": 12, "/api/portfolio/roi/": 8},
    "owner_a": {"/": 15, "/portfolio/": 17, "/factories/": 12, "/api/portfolio/roi/": 9},
}


@pytest.mark.parametrize("size", [3, 15])
def test_portfolio_pages_take_the_same_queries_for_3_and_15_factories(
    world, size, django_assert_max_num_queries
):
    CurrencyRate.objects.create(from_currency="USD", to_currency="EUR", rate="0.9")
    _portfolio(size, world.users["owner_a"])
    for persona, pages in QUERIES.items():
        client = world.client(persona)
        client.force_login(world.users[persona])
        for path, queries in pages.items():
            with django_assert_max_num_queries(queries):
                response = client.get(path)
            assert response.status_code == 200, path
    body = world.client("owner_a").get("/api/portfolio/roi/").json()
    assert body["factories"] == size + 1  # theirs and alpha-plant
    assert Decimal(body["invested"]) == Decimal("90.00") * size
    home = world.client("staff")
    home.force_login(world.users["owner_a"])
    assert home.get("/").content.decode().count("not yet") >= size  # no payback yet


def test_a_synced_deployment_refreshes_its_month_and_the_failure_it_restores(world):
    from connectors.fact_ingest import DeploymentRecord, FactIngestSession
    from connectors.models import Connector

    factory = world.factory_b
    connector = Connector.objects.create(name="GitLab", kind="gitlab", factory=factory)
    failed_at = datetime(2026, 3, 31, 22, tzinfo=UTC)
    session = FactIngestSession(connector=connector)
    session.add(DeploymentRecord("1", "production", "failed", failed_at))
    session.flush()
    march = FactoryMonth.objects.get(factory=factory, month=date(2026, 3, 1))
    assert (march.failed, march.time_to_restore_hours_median) == (1, None)
    # The restoring deployment lands in April, in a later sync: March's restore time moves.
    session = FactIngestSession(connector=connector)
    session.add(
        DeploymentRecord(
            "2", "production", "success", failed_at + timedelta(hours=3),
            commit_created_at=failed_at,
        )
    )  # fmt: skip
    session.flush()
    march.refresh_from_db()
    assert march.time_to_restore_hours_median == 3.0
    april = FactoryMonth.objects.get(factory=factory, month=date(2026, 4, 1))
    assert (april.deployments, april.lead_time_hours_median) == (1, 3.0)


def test_with_a_broker_one_transaction_enqueues_one_refresh_on_commit(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    # As with a broker: hand over on commit (the task itself still runs eagerly here).
    monkeypatch.setattr("coe.derived._inline", lambda: False)
    runs = []

    def count(sender=None, task=None, args=None, **kwargs):
        if task.name == "kpis.tasks.refresh_rollups":
            runs.append(args)

    task_prerun.connect(count)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for factory, day in (
                (world.factory_a, 3),
                (world.factory_b, 40),
                (world.factory_a, 70),
            ):
                FinanceEntry.objects.create(
                    factory=factory, date=date(2026, 1, 1) + timedelta(days=day),
                    kind="investment", amount=10, currency="EUR",
                )  # fmt: skip
            assert runs == [] and not FactoryMonth.objects.exists()  # nothing before commit
    finally:
        task_prerun.disconnect(count)
    ids = sorted([world.factory_a.pk, world.factory_b.pk])
    assert runs == [[ids, ["2026-01-01", "2026-02-01", "2026-03-01"]]]
    assert FactoryMonth.objects.count() == 3
