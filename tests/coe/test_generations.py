"""Portfolio figures memoised under the registry's data generation (coe.generations): read
once per change, never stale after any write path, never served from a rolled-back
transaction."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from coe import bulk, generations
from registry.detection import duplicates_detect
from registry.models import Adoption, DuplicateFinding
from registry.selectors import at_stake_total, savings_overview
from tests.registry.builders import adoption, capability, tool

GROUP = "registry"


@pytest.fixture
def overlap(world):
    """Factory A pays for two CI/CD tools: Bamboo's 3,000 is at stake (GitLab is the
    standard)."""
    cap = capability("ci-cd")
    gitlab = tool("GitLab", caps=[cap], ring="adopt")
    bamboo = tool("Bamboo", caps=[cap], ring="hold")
    kept = adoption(world.factory_a, gitlab, cost="2000")
    dropped = adoption(world.factory_a, bamboo, cost="3000")
    duplicates_detect()
    return kept, dropped


def total() -> Decimal:
    return at_stake_total(DuplicateFinding.objects.all())


def page_total(client) -> str:
    html = client.get(reverse("duplicate-list")).content.decode()
    return html.split('id="total-at-stake">', 1)[1].split("<", 1)[0]


def test_a_second_read_takes_no_aggregate_and_a_write_makes_it_read_again(overlap):
    _, dropped = overlap
    assert total() == Decimal("3000")
    with CaptureQueriesContext(connection) as read:
        assert total() == Decimal("3000")
    assert len(read) == 1 and "coe_datageneration" in read[0]["sql"]  # the generation only
    Adoption.objects.filter(pk=dropped.pk).update(annual_cost=Decimal("3500"))  # no signals
    assert total() == Decimal("3500")


@pytest.mark.parametrize(
    "write",
    ["orm save", "queryset update", "raw SQL", "bulk COPY", "cascade from a factory"],
)
def test_every_write_path_changes_the_generation(world, overlap, write):
    kept, dropped = overlap
    before = generations.current(GROUP)
    if write == "orm save":
        kept.annual_cost = Decimal("1")
        kept.save()
    elif write == "queryset update":
        Adoption.objects.filter(pk=kept.pk).update(seats=3)
    elif write == "raw SQL":
        with connection.cursor() as cursor:
            cursor.execute("UPDATE registry_adoption SET annual_cost = 7 WHERE id = %s", [kept.pk])
    elif write == "bulk COPY":
        new = Adoption(factory=world.factory_b, declared_name="Jenkins", normalized_name="jenkins")
        fields = [f for f in Adoption._meta.concrete_fields if not f.primary_key]
        row = {f.column: f.get_db_prep_save(f.pre_save(new, True), connection) for f in fields}
        bulk.insert_rows(Adoption, [row], list(row))
    else:
        world.factory_a.delete()
    after = generations.current(GROUP)
    assert after is not None and after != before


def test_reads_do_not_change_the_generation(world, overlap, client):
    before = generations.current(GROUP)
    client.force_login(world.users["staff"])
    assert page_total(client) == "3,000"
    savings_overview(DuplicateFinding.objects.all())
    assert generations.current(GROUP) == before


def test_the_duplicates_page_total_follows_a_cost_change_at_once(world, overlap, client):
    _, dropped = overlap
    client.force_login(world.users["staff"])
    assert page_total(client) == "3,000"
    assert page_total(client) == "3,000"  # memoised
    Adoption.objects.filter(pk=dropped.pk).update(annual_cost=Decimal("13000"))
    assert page_total(client) == "13,000"
    Adoption.objects.filter(pk=dropped.pk).update(status="retired")
    duplicates_detect()  # the overlap is gone: nothing at stake
    assert page_total(client) == "0"


def test_scoping_is_part_of_what_is_asked(world, overlap, client):
    """A member of another factory is not served the staff's memoised total."""
    client.force_login(world.users["staff"])
    assert page_total(client) == "3,000"
    other = world.client("member_b")
    other.force_login(world.users["member_b"])
    assert page_total(other) == "0"


@pytest.mark.django_db(transaction=True)
def test_a_figure_read_in_a_rolled_back_transaction_is_never_served(world, overlap):
    _, dropped = overlap
    assert total() == Decimal("3000")
    with pytest.raises(RuntimeError), transaction.atomic():
        Adoption.objects.filter(pk=dropped.pk).update(annual_cost=Decimal("90000"))
        assert total() == Decimal("90000")  # memoised under this transaction's generation
        raise RuntimeError("rolled back")
    assert total() == Decimal("3000")
    # The next committed write gets a new number, never the rolled-back one.
    Adoption.objects.filter(pk=dropped.pk).update(annual_cost=Decimal("4000"))
    assert total() == Decimal("4000")


@pytest.mark.django_db(transaction=True)
def test_a_flushed_generation_row_comes_back_with_a_fresh_number(world, overlap):
    assert total() == Decimal("3000")
    old = generations.current(GROUP)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM coe_datageneration")
    Adoption.objects.filter(pk=overlap[1].pk).update(annual_cost=Decimal("1000"))
    assert total() == Decimal("1000")
    assert generations.current(GROUP) not in (None, old)


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite serialises its one writer; CI's "
    "PostgreSQL pass runs it",
)
@pytest.mark.django_db(transaction=True)
def test_a_write_committed_on_another_connection_is_seen_next_read(world, overlap):
    _, dropped = overlap
    assert total() == Decimal("3000")

    def elsewhere():
        try:
            Adoption.objects.filter(pk=dropped.pk).update(annual_cost=Decimal("100"))
        finally:
            connections.close_all()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert total() == Decimal("100")


def test_the_portfolio_stage_chart_follows_a_final_audit_and_a_stage_change(world):
    """The maturity charts are memoised under the maturity generation: a new final audit,
    and a maturity row changed past the ORM's signals, show at once."""
    from assessments.models import FactoryMaturity
    from assessments.portfolio_reads import portfolio_charts
    from coe.models import Factory
    from tests.assessments.test_pages import final_audit

    def stages() -> dict[int, int]:
        charts = portfolio_charts(Factory.objects.all(), per_factory=False)
        return {row["stage"]: row["count"] for row in charts["stages"] if row["count"]}

    assert stages() == {}
    final_audit(world.factory_a)
    first = stages()
    assert sum(first.values()) == 1
    with CaptureQueriesContext(connection) as read:
        assert stages() == first
    assert len(read) == 1  # the generation only
    FactoryMaturity.objects.filter(factory=world.factory_a).update(stage=1)
    assert stages() == {1: 1}
