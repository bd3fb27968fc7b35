"""The portfolio's use of each tool (``registry_tooluse``), kept by PostgreSQL triggers,
always equals a count of the active adoptions, whatever wrote them: the ORM, an import's
bulk ``COPY``, a queryset update, raw SQL, a cascade, a rolled-back transaction, a
sequence of random changes."""

from __future__ import annotations

import os
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import tool_use
from registry.importers import import_adoptions
from registry.models import Adoption
from tests.registry.builders import adoption, capability, tool

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): the table is kept by PostgreSQL triggers "
        "(SQLite detection counts adoptions); CI's PostgreSQL pass runs it",
    ),
]


def kept() -> set:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tool_id, declared_capability, factories, cost, seats FROM {tool_use.TABLE}"
        )
        return set(cursor.fetchall())


def counted() -> set:
    with connection.cursor() as cursor:
        cursor.execute(tool_use.recount_sql())
        return set(cursor.fetchall())


def agree() -> set:
    found = kept()
    assert found == counted()
    return found


def test_every_kind_of_write_keeps_the_counts(world):
    cap = capability("use-cap", name="Use Cap")
    one, two = tool("Use One", caps=[cap]), tool("Use Two", caps=[cap])
    a = adoption(world.factory_a, one, cost="100")
    adoption(world.factory_a, two, name="Use Two", seats=3)
    adoption(world.factory_b, one, cost="40", declared_capability="use-cap")
    assert (one.pk, "", 1, Decimal("100.00"), None) in agree()
    a.annual_cost = Decimal("150")
    a.save()
    assert (one.pk, "", 1, Decimal("150.00"), None) in agree()
    Adoption.objects.filter(pk=a.pk).update(status="retired")  # a queryset update
    assert all(row[0] != one.pk or row[1] for row in agree())
    with connection.cursor() as cursor:  # raw SQL, moving an adoption to another tool
        cursor.execute("UPDATE registry_adoption SET tool_id = %s WHERE id = %s", [two.pk, a.pk])
        cursor.execute("UPDATE registry_adoption SET status = 'active' WHERE id = %s", [a.pk])
    assert (two.pk, "", 1, Decimal("150.00"), 3) in agree()
    frame = pd.DataFrame([{"factory": world.factory_b.slug, "tool": "Use Two", "annual_cost": "7"}])
    import_adoptions(frame, detect=False)  # the import's bulk write
    assert (two.pk, "", 2, Decimal("157.00"), 3) in agree()
    with transaction.atomic():
        Adoption.objects.all().delete()
        assert agree() == set()
        transaction.set_rollback(True)
    assert (two.pk, "", 2, Decimal("157.00"), 3) in agree()
    world.factory_b.delete()  # its adoptions go by cascade
    assert (two.pk, "", 1, Decimal("150.00"), 3) in agree()


def test_an_unresolved_adoption_is_not_a_tools_use(world):
    adoption(world.factory_a, None, name="Nothing Known", cost="5")
    assert agree() == set()


# One step: (factory, what, tool, declared capability or "", cents, seats)
step = st.tuples(
    st.integers(0, 2),
    st.sampled_from(["add", "add", "delete", "retire", "cost", "declare", "move", "bulk"]),
    st.integers(0, 3),
    st.sampled_from(["", "use-a", "use-b"]),
    st.one_of(st.none(), st.integers(0, 100_000)),
    st.one_of(st.none(), st.integers(0, 9)),
)


@settings(
    max_examples=int(os.environ.get("TOOL_USE_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_random_changes_keep_the_counts(world, steps):
    with transaction.atomic():
        caps = [capability(f"use-{c}", name=f"Use {c}") for c in "ab"]
        tools = [tool(f"Random Use {c}", caps=caps[: 1 + i % 2]) for i, c in enumerate("wxyz")]
        factories = [world.factory_a, world.factory_b] + [
            type(world.factory_a).objects.create(
                slug="use-3", name="Use 3", kind="software", business_unit="X"
            )
        ]
        for n, (f, what, t, declared, cents, seats) in enumerate(steps):
            factory, used = factories[f], tools[t]
            mine = list(Adoption.objects.filter(factory=factory).order_by("pk"))
            cost = None if cents is None else Decimal(cents) / 100
            if what == "add" or not mine:
                adoption(factory, used, name=f"{used.name} n{chr(97 + n)}", cost=cost,
                         seats=seats, declared_capability=declared)  # fmt: skip
            elif what == "bulk":
                Adoption.objects.filter(factory=factory).update(annual_cost=cost, seats=seats)
            else:
                target = mine[t % len(mine)]
                if what == "delete":
                    target.delete()
                elif what == "retire":
                    target.status = "retired" if target.status == "active" else "active"
                    target.save()
                elif what == "cost":
                    target.annual_cost, target.seats = cost, seats
                    target.save()
                elif what == "declare":
                    target.declared_capability = declared
                    target.save()
                else:
                    target.tool = used
                    target.save()
            agree()
        transaction.set_rollback(True)
