"""The one bulk-write module: every write returns the ids it wrote, in order, on the
portable path (bulk_create with RETURNING) and on PostgreSQL's COPY path alike."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from coe import bulk
from connectors.facts import OTCounter
from registry.models import Tool
from tests.factories import FactoryFactory


def _counters(factory, n, *, total=10):
    start = timezone.now().replace(microsecond=0)
    return [
        OTCounter(
            factory=factory,
            line=f"L{i % 7}",
            period_start=start + timedelta(hours=i),
            period_end=start + timedelta(hours=i + 1),
            planned_time_s=3600,
            run_time_s=3000,
            ideal_cycle_time_s=1.5,
            total_count=total,
            good_count=total - 1,
        )
        for i in range(n)
    ]


def test_the_database_returns_ids_from_a_bulk_insert():
    # SQLite ≥ 3.35 and PostgreSQL return rows from INSERT … RETURNING; the module's
    # portable path rests on that (it falls back to one insert per row elsewhere).
    assert connection.features.can_return_rows_from_bulk_insert


@pytest.mark.django_db
@pytest.mark.parametrize("n", [3, bulk.COPY_THRESHOLD + 5])
def test_insert_returns_the_new_ids_in_order(n):
    factory = FactoryFactory()
    objs = _counters(factory, n)
    ids = bulk.insert(OTCounter, objs)
    assert len(ids) == n == len(set(ids))
    assert [o.pk for o in objs] == ids
    stored = dict(OTCounter.objects.values_list("pk", "period_start"))
    assert [stored[pk] for pk in ids] == [o.period_start for o in objs]
    assert OTCounter.objects.filter(updated_at__isnull=True).count() == 0  # auto_now applied


@pytest.mark.django_db
@pytest.mark.parametrize("n", [4, bulk.COPY_THRESHOLD + 5])
def test_upsert_returns_ids_of_inserted_and_updated_rows(n):
    factory = FactoryFactory()
    first = _counters(factory, n)
    first_ids = bulk.upsert(OTCounter, first[: n // 2], ["factory", "period_start", "line"],
                            ["total_count", "good_count"])  # fmt: skip
    again = _counters(factory, n, total=20)
    for obj, old in zip(again, first, strict=False):
        obj.period_start = old.period_start
    ids = bulk.upsert(OTCounter, again, ["factory", "period_start", "line"],
                      ["total_count", "good_count"])  # fmt: skip
    assert ids[: n // 2] == first_ids  # the rows that existed keep their ids
    assert len(set(ids)) == n == OTCounter.objects.count()
    assert set(OTCounter.objects.values_list("total_count", flat=True)) == {20}
    assert [o.pk for o in again] == ids


@pytest.mark.django_db
@pytest.mark.parametrize("n", [2, bulk.COPY_THRESHOLD + 1])
def test_update_writes_the_named_fields_by_id(n):
    tools = [Tool(name=f"T{i}", slug=f"t-{i}", normalized_name=f"t{i}") for i in range(n)]
    bulk.insert(Tool, tools)
    for tool in tools:
        tool.vendor = "Acme"
        tool.annual_cost_per_seat = Decimal("12.50")
        tool.name = "not written"
    assert bulk.update(Tool, tools, ["vendor", "annual_cost_per_seat"]) == n
    assert set(Tool.objects.values_list("vendor", "annual_cost_per_seat", "name")) == {
        ("Acme", Decimal("12.50"), f"T{i}") for i in range(n)
    }


@pytest.mark.django_db
def test_rows_as_dicts_get_their_ids_and_update_by_id():
    factory = FactoryFactory()
    start = timezone.now()
    rows = [
        {"factory_id": factory.pk, "line": "L1", "period_start": start + timedelta(hours=i),
         "period_end": start + timedelta(hours=i + 1), "planned_time_s": 1.0,
         "run_time_s": 1.0, "ideal_cycle_time_s": 1.0, "total_count": i, "good_count": i,
         "source": "test", "updated_at": start}
        for i in range(3)
    ]  # fmt: skip
    ids = bulk.insert_rows(OTCounter, rows, list(rows[0]))
    assert [row["id"] for row in rows] == ids
    assert dict(OTCounter.objects.values_list("pk", "total_count")) == dict(
        zip(ids, range(3), strict=True)
    )
    for row in rows:
        row["good_count"] = 0
    bulk.update_rows(OTCounter, rows, ["good_count"])
    assert dict(OTCounter.objects.values_list("pk", "good_count")) == {pk: 0 for pk in ids}


@pytest.mark.django_db
def test_insert_rows_without_ids_writes_the_rows_and_ids_come_from_the_table():
    factory = FactoryFactory()
    start = timezone.now()
    rows = [
        {"factory_id": factory.pk, "line": "L1", "period_start": start + timedelta(hours=i),
         "period_end": start + timedelta(hours=i + 1), "planned_time_s": 1.0,
         "run_time_s": 1.0, "ideal_cycle_time_s": 1.0, "total_count": i, "good_count": i,
         "source": "test", "updated_at": start}
        for i in range(3)
    ]  # fmt: skip
    columns = list(rows[0])
    first = bulk.insert_rows(OTCounter, rows[:1], columns)
    returned = bulk.insert_rows(OTCounter, rows[1:], columns, ids=False)
    stored = dict(OTCounter.objects.values_list("total_count", "pk"))
    assert sorted(stored) == [0, 1, 2]
    assert stored[1] > first[0] and stored[2] > first[0] and stored[1] != stored[2]
    if connection.vendor == "postgresql":
        assert returned == [] and "id" not in rows[1]


@pytest.mark.django_db
def test_pairs_and_deletes():
    tools = [Tool(name=f"T{i}", slug=f"p-{i}", normalized_name=f"p{i}") for i in range(3)]
    bulk.insert(Tool, tools)
    from registry.models import Capability

    caps = [Capability(name=f"C{i}", slug=f"c-{i}") for i in range(2)]
    bulk.insert(Capability, caps)
    through = Tool.capabilities.through
    table = through._meta.db_table
    bulk.insert_pairs(table, ("tool_id", "capability_id"),
                      [(t.pk, c.pk) for t in tools for c in caps])  # fmt: skip
    assert through.objects.count() == 6
    bulk.delete_where(table, "tool_id", [tools[0].pk, tools[1].pk])
    assert list(through.objects.values_list("tool_id", flat=True).distinct()) == [tools[2].pk]


def _samples(factory, n, *, value=1.0):
    from connectors.models import MetricSample

    start = timezone.now().replace(microsecond=0)
    return [
        MetricSample(factory=factory, metric="temperature", series=f"s{i % 3}",
                     period_start=start + timedelta(minutes=i),
                     period_end=start + timedelta(minutes=i + 1), value=value, source="mqtt")
        for i in range(n)
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_writes_outside_a_transaction_land_every_row():
    # A sync that lands metric samples runs in autocommit (no atomic block around it):
    # each statement of a COPY upsert or update then commits on its own, and a staging
    # table that empties at commit must not lose the rows between COPY and the INSERT.
    from connectors.models import MetricSample

    factory = FactoryFactory()
    n = bulk.COPY_THRESHOLD + 5
    samples = _samples(factory, n)
    ids = bulk.upsert(MetricSample, samples, ["factory", "metric", "period_start", "series",
                                              "source"], ["value"])  # fmt: skip
    assert len(set(ids)) == n == MetricSample.objects.count()
    again = _samples(factory, n, value=2.0)
    for obj, old in zip(again, samples, strict=True):
        obj.period_start = old.period_start
    assert bulk.upsert(MetricSample, again, ["factory", "metric", "period_start", "series",
                                             "source"], ["value"]) == ids  # fmt: skip
    assert set(MetricSample.objects.values_list("value", flat=True)) == {2.0}
    for obj in again:
        obj.value = 3.0
    assert bulk.update(MetricSample, again, ["value"]) == n
    assert set(MetricSample.objects.values_list("value", flat=True)) == {3.0}
