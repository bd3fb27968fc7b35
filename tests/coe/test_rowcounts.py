"""Per-factory row counts kept by triggers (coe.rowcounts): exact after every write path,
and the device list's unfiltered ``count`` read from them."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coe import bulk, rowcounts
from coe.models import FactoryRowCount
from connectors.models import Device
from connectors.records import DeviceRecord
from tests.connectors.helpers import ingest, make_connector
from tests.factories import FactoryFactory

pytestmark = pytest.mark.django_db
TABLE = Device._meta.db_table


def stored() -> dict[int, int]:
    """Each factory's stored count: the sum of its slots' rows."""
    rows = (
        FactoryRowCount.objects.filter(table_name=TABLE)
        .order_by()
        .values("factory_id")
        .annotate(n=Sum("row_count"))
    )
    return {row["factory_id"]: row["n"] for row in rows if row["n"]}


def actual() -> dict[int, int]:
    rows = Device.objects.order_by().values("factory_id").annotate(n=Count("pk"))
    return {row["factory_id"]: row["n"] for row in rows}


def devices(factory, n: int, prefix: str = "D") -> list[Device]:
    now = timezone.now()
    return [
        Device(
            factory=factory,
            serial_number=f"{prefix}{i}",
            serial_normalised=f"{prefix.lower()}{i}",
            first_seen=now,
            last_seen=now,
            updated_at=now,
        )
        for i in range(n)
    ]


def test_the_triggers_exist_after_every_migration():
    vendor = connection.vendor
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = {row[0] for row in cursor.fetchall()}
    assert set(rowcounts.trigger_names(TABLE, vendor)) <= names


def test_counts_follow_every_write_path(world):
    a, b = world.factory_a, world.factory_b
    assert stored() == actual() == {}
    ingest(
        make_connector(a), [DeviceRecord(source_id=str(i), serial_number=f"S{i}") for i in range(5)]
    )
    assert stored() == actual() == {a.pk: 5}
    # Above the COPY threshold on PostgreSQL: the bulk path of the imports.
    bulk.insert(Device, devices(b, bulk.COPY_THRESHOLD + 3))
    devices(b, 1, "X")[0].save()
    assert stored() == actual() == {a.pk: 5, b.pk: bulk.COPY_THRESHOLD + 4}
    moved = Device.objects.filter(factory=b).order_by("pk")[:2]
    Device.objects.filter(pk__in=[d.pk for d in moved]).update(factory=a)
    one = Device.objects.filter(factory=a).order_by("pk").first()
    one.factory = b
    one.save()
    Device.objects.filter(factory=b).update(status="stale")  # no move: nothing changes
    assert stored() == actual() == {a.pk: 6, b.pk: bulk.COPY_THRESHOLD + 3}
    Device.objects.filter(factory=b, serial_number__startswith="D1").delete()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE serial_number = %s", ["X0"])
    assert stored() == actual()
    with pytest.raises(RuntimeError), transaction.atomic():
        bulk.insert(Device, devices(a, 3, "R"))
        raise RuntimeError("rolled back")
    assert stored() == actual()
    b.delete()
    assert stored() == actual() == {a.pk: 6}
    assert not FactoryRowCount.objects.filter(factory_id=b.pk).exists()


@pytest.mark.postgres
def test_truncating_the_table_forgets_its_counts(world):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL (DATABASE_URL): SQLite has no TRUNCATE; CI's PostgreSQL pass runs it"
        )
    bulk.insert(Device, devices(world.factory_a, 4))
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # (no deferred checks pending)
        cursor.execute(f"TRUNCATE {TABLE} CASCADE")
    assert stored() == actual() == {}
    bulk.insert(Device, devices(world.factory_a, 2))
    assert stored() == actual() == {world.factory_a.pk: 2}


def list_count(api, **params) -> tuple[int, int, bool]:
    """(count, queries, whether the devices were counted) of one device list."""
    with CaptureQueriesContext(connection) as queries:
        body = api.get(reverse("api:device-list"), params).json()
    counted = any(f'COUNT(*) AS "__count" FROM "{TABLE}"' in q["sql"] for q in queries)
    return body["count"], len(queries), counted


def test_an_unfiltered_device_list_reads_its_count_from_the_stored_counts(world):
    staff, member = world.client("staff"), world.client("member_a")
    bulk.insert(Device, devices(world.factory_a, 3))
    bulk.insert(Device, devices(world.factory_b, 4))
    list_count(staff)  # warm
    small = list_count(staff)
    assert small[0] == 7 and not small[2]
    count, _queries, counted = list_count(member)
    assert (count, counted) == (3, False)
    assert list_count(world.client("member_b"))[0] == 4
    bulk.insert(Device, devices(FactoryFactory(), 60))
    big = list_count(staff)
    assert big[0] == Device.objects.count() == 67 and big[1] == small[1]
    assert list_count(staff, page=2, page_size=10)[0] == 67
    assert list_count(member, ordering="-last_seen")[0] == 3
    # Any filter counts the rows themselves, and exactly.
    count, _queries, counted = list_count(staff, factory=world.factory_b.slug)
    assert (count, counted) == (4, True)
    assert (
        list_count(staff, q="D1")[0] == Device.objects.filter(serial_number__contains="D1").count()
    )
    assert list_count(member, status="stale")[0] == 0


def adoption_counts() -> tuple[dict[int, int], dict[int, int]]:
    from registry.models import Adoption

    rows = FactoryRowCount.objects.filter(table_name=Adoption._meta.db_table).order_by()
    kept = {
        row["factory_id"]: row["n"]
        for row in rows.values("factory_id").annotate(n=Sum("row_count"))
        if row["n"]
    }
    counted = Adoption.objects.order_by().values("factory_id").annotate(n=Count("pk"))
    return kept, {row["factory_id"]: row["n"] for row in counted}


def test_adoption_counts_follow_imports_upserts_and_the_api(world):
    from registry.importers import import_adoptions, read_file

    a, b = world.factory_a, world.factory_b
    header = "factory,tool,vendor,capability,seats,annual_cost\n"
    names = ("Alpha", "Bravo", "Cobalt", "Delta")
    rows = "".join(f"{f.slug},{name} Suite,,,3,\n" for f in (a, b) for name in names)
    import_adoptions(read_file((header + rows).encode(), "a.csv"), detect=False)
    assert adoption_counts() == ({a.pk: 4, b.pk: 4},) * 2
    # The same file again updates the rows (an upsert): no count moves.
    import_adoptions(read_file((header + rows).encode(), "a.csv"), detect=False)
    assert adoption_counts() == ({a.pk: 4, b.pk: 4},) * 2
    api = world.client("staff")
    created = api.post(
        reverse("api:adoption-list"), {"factory": a.slug, "declared_name": "Extra"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert api.delete(reverse("api:adoption-detail", args=[created.json()["id"] - 1])).status_code
    kept, counted = adoption_counts()
    assert kept == counted and sum(counted.values()) == 8
    for persona, expected in (
        ("staff", 8),
        ("member_a", counted[a.pk]),
        ("member_b", counted[b.pk]),
    ):
        body = world.client(persona).get(reverse("api:adoption-list")).json()
        assert body["count"] == expected
    # The unresolved queue pages its own rows (names, not adoptions): counted as such.
    queue = api.get(reverse("api:adoption-unresolved")).json()
    assert queue["count"] == len(queue["results"])
    b.delete()
    assert adoption_counts() == ({a.pk: counted[a.pk]},) * 2


def _insert_devices(conn, factory_id: int, prefix: str, n: int) -> None:
    conn.execute(
        f"INSERT INTO {TABLE} (factory_id, name, serial_number, serial_normalised, mac,"
        " manufacturer, model, firmware, hardware_revision, status, first_seen, last_seen,"
        " updated_at) SELECT %s, '', %s || i, %s || i, '', '', '', '', '', 'active', now(),"
        " now(), now() FROM generate_series(1, %s) AS i",
        [factory_id, prefix, prefix.lower(), n],
    )


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite has one writer at a time; CI's "
    "PostgreSQL pass runs it",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_factory_do_not_wait_for_each_other():
    """Two transactions adding devices to one factory at once (the ingest's background
    writers): the second is not held until the first commits, and the count is exact
    after either commits or rolls back."""
    import psycopg

    from tests.worker import test_database_url

    factory = FactoryFactory()
    conns = [psycopg.connect(test_database_url())]
    try:
        # Writers whose server processes count in different slots (as most do).
        while True:
            conns.append(psycopg.connect(test_database_url()))
            slots = {c.info.backend_pid % rowcounts.SLOTS for c in (conns[0], conns[-1])}
            if len(slots) == 2:
                break
        first, second = conns[0], conns[-1]
        second.execute("SET lock_timeout = '2s'")
        _insert_devices(first, factory.pk, "A", 30)
        _insert_devices(second, factory.pk, "B", 20)  # would time out waiting for `first`
        _insert_devices(first, factory.pk, "C", 5)
        second.commit()
        assert stored() == actual() == {factory.pk: 20}
        first.commit()
        assert stored() == actual() == {factory.pk: 55}
        _insert_devices(second, factory.pk, "D", 7)
        with first.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE serial_number LIKE 'A%%'")
        first.commit()
        second.rollback()
        assert stored() == actual() == {factory.pk: 25}
    finally:
        for conn in conns:
            conn.close()
        Device.objects.filter(factory=factory).delete()
        factory.delete()
