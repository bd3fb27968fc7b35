"""``field__any``: the same rows as ``field__in``, with one array parameter on PostgreSQL
whatever the number of values."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import Adoption, DuplicateFinding
from tests.registry.builders import adoption, capability, tool


@pytest.fixture
def rows(world):
    cap = capability("any-cap", name="Any Cap")
    one, two = tool("Any One", caps=[cap]), tool("Any Two", caps=[cap])
    return [
        adoption(world.factory_a, one, cost="1"),
        adoption(world.factory_a, two, cost="2"),
        adoption(world.factory_b, two, cost="3"),
    ]


def test_any_selects_what_in_selects_on_fields_and_relations(world, rows):
    ids = [a.pk for a in rows[:2]] + [10**9]
    assert set(Adoption.objects.filter(pk__any=ids)) == set(Adoption.objects.filter(pk__in=ids))
    factories = {world.factory_b.pk}  # a set, as callers pass them
    assert list(Adoption.objects.filter(factory_id__any=factories)) == [rows[2]]
    assert list(Adoption.objects.filter(factory__any=factories)) == [rows[2]]
    assert Adoption.objects.exclude(pk__any=ids).count() == Adoption.objects.count() - 2
    names = ["any one", "nothing"]
    assert Adoption.objects.filter(normalized_name__any=names).count() == 1


def test_an_empty_list_selects_nothing_and_an_or_keeps_the_other_side(world, rows):
    from django.db.models import Q

    assert not Adoption.objects.filter(pk__any=[]).exists()
    assert Adoption.objects.filter(Q(pk__any=[]) | Q(pk=rows[0].pk)).count() == 1
    assert not DuplicateFinding.objects.filter(key__any=set()).exists()


def test_thousands_of_values_are_one_parameter_on_postgresql(world, rows):
    ids = list(range(1, 5001))
    with CaptureQueriesContext(connection) as queries:
        found = Adoption.objects.filter(pk__any=ids).count()
    assert found == Adoption.objects.filter(pk__lte=5000).count()
    sql = queries.captured_queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql and " IN (" not in sql
    else:
        assert " IN (" in sql


def test_objects_are_refused(world, rows):
    with pytest.raises(TypeError, match="plain values"):
        list(Adoption.objects.filter(factory__any=[world.factory_a]))
