"""Background batch writers (PostgreSQL): the same outcome as writing batch after batch.

While a batch is written on a writer's own connection, the session plans the next one. A
batch that shares a source id, serial, MAC or device with one in flight is planned again
once that one is committed; an optimistic write that meets a unique constraint is planned
again in full. These tests run outside a transaction (the writers commit on their own
connections) and compare the pipelined outcome with the outcome of writing in turn.
"""

from __future__ import annotations

import random
import threading
import time
from contextlib import contextmanager

import psycopg
import pytest
from django.db import OperationalError, connection

from connectors.ingest import IngestSession
from connectors.models import Device, DeviceChange, DeviceSourceRecord
from connectors.records import DeviceRecord
from tests.connectors.helpers import make_connector
from tests.factories import FactoryFactory
from tests.worker import test_database_url as database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("background batch writers run on PostgreSQL only (DATABASE_URL); CI sets it")


def scenario(seed: int) -> list[tuple[str, list[DeviceRecord]]]:
    """Syncs of three sources over 80 machines, meeting each other across batches: the
    same serial under other source ids and spellings, MAC-only records, junk serials,
    firmware moving on, devices going offline, a source id repeated later in a sync."""
    rng = random.Random(seed)
    machines = []
    for i in range(80):
        serial = "N/A" if i % 11 == 0 else f"SN-{i % 70:04d}"  # 10 serials shared by two
        machines.append(
            {
                "serial": serial,
                "mac": f"02:00:00:00:{i // 256:02x}:{i % 256:02x}" if i % 3 else "",
                "model": f"Model {i % 5}",
            }
        )
    syncs = []
    for round_ in range(3):
        for kind in ("opcua", "mqtt", "modbus"):
            records = []
            for i in rng.sample(range(80), 60):
                m = machines[i]
                serial = m["serial"]
                if kind == "mqtt":
                    serial = serial.lower().replace("-", " ")
                if kind == "modbus" and rng.random() < 0.3:
                    serial = ""  # identified by MAC, else by source id
                records.append(
                    DeviceRecord(
                        source_id=f"{kind}-{i}",
                        serial_number=serial,
                        mac=m["mac"] if kind != "opcua" or rng.random() < 0.5 else "",
                        manufacturer="Schuler" if kind == "mqtt" else "",
                        model=m["model"],
                        firmware=f"{round_}.{rng.randint(0, 2)}",
                        name=f"{kind} {i}",
                        online=rng.random() > 0.1,
                    )
                )
            # A source that says something again later in the same sync.
            records.extend(rng.sample(records, 5))
            syncs.append((kind, records))
    return syncs


def run_scenario(factory, syncs, settings, writers: int) -> list[IngestSession]:
    settings.CONNECTOR_INGEST_WRITERS = writers
    connectors = {kind: make_connector(factory, kind) for kind in ("opcua", "mqtt", "modbus")}
    sessions = []
    for kind, records in syncs:
        session = IngestSession(connector=connectors[kind], batch_size=9)
        session.extend(records)
        session.mark_stale()
        sessions.append(session)
    return sessions


def snapshot(factory):
    """The factory's devices, their source records and history, without database ids."""
    devices = {}
    for d in Device.objects.filter(factory=factory):
        devices[d.pk] = (
            d.serial_number,
            d.serial_normalised,
            d.mac,
            d.manufacturer,
            d.model,
            d.firmware,
            d.name,
            d.status,
        )
    records: dict[int, list] = {}
    for device_id, kind, source_id, data in DeviceSourceRecord.objects.filter(
        device__factory=factory
    ).values_list("device_id", "source_kind", "source_id", "data"):
        records.setdefault(device_id, []).append((kind, source_id, sorted(data.items())))
    history: dict[int, list] = {}
    for device_id, field, old, new, source in DeviceChange.objects.filter(
        device__factory=factory
    ).values_list("device_id", "field", "old", "new", "source"):
        history.setdefault(device_id, []).append((field, old, new, source))
    return sorted(
        (devices[pk], sorted(records.get(pk, [])), sorted(history.get(pk, []))) for pk in devices
    )


@pytest.mark.parametrize(("writers", "seed"), [(1, 7), (3, 7), (2, 11)])
def test_pipelined_batches_end_exactly_as_batches_written_in_turn(settings, writers, seed):
    syncs = scenario(seed)
    in_turn = FactoryFactory(slug="in-turn")
    pipelined = FactoryFactory(slug="pipelined")
    expected = run_scenario(in_turn, syncs, settings, writers=0)
    sessions = run_scenario(pipelined, syncs, settings, writers=writers)

    assert sum(s.background_batches for s in sessions) > 20  # the writers did the work
    assert all(s.background_batches == 0 for s in expected)
    assert [s.counts for s in sessions] == [s.counts for s in expected]
    assert [s.processed for s in sessions] == [s.processed for s in expected]
    state = snapshot(pipelined)
    assert state == snapshot(in_turn)
    # The scenario is not trivial: sources meet on shared devices, some go offline or stale.
    assert len(state) < 3 * 80
    assert sum(1 for _, records, _ in state if len(records) == 3) > 20
    assert {device[-1] for device, _, _ in state} >= {"active", "offline"}


def test_a_serial_created_meanwhile_by_another_connector_lands_on_that_device(settings):
    """A first load plans optimistically (its factory was empty). Another connector
    creates a device with one of its serials after the load started: the background
    write meets the unique index, and the batch is planned again onto that device."""
    settings.CONNECTOR_INGEST_WRITERS = 2
    factory = FactoryFactory(slug="meanwhile")
    opcua = make_connector(factory, "opcua")
    mqtt = make_connector(factory, "mqtt")

    def records():
        for i in range(10):
            yield DeviceRecord(source_id=f"n{i}", serial_number=f"SN-{i}", firmware="1.0")
        other = IngestSession(connector=mqtt)
        other.extend([DeviceRecord(source_id="edge/12", serial_number="sn 12", name="Press 12")])
        other.flush()
        for i in range(10, 30):
            yield DeviceRecord(source_id=f"n{i}", serial_number=f"SN-{i}", firmware="1.0")

    session = IngestSession(connector=opcua, batch_size=5)
    session.extend(records())
    session.mark_stale()

    assert session.background_batches >= 5
    assert session.replanned_batches == 1  # the batch holding SN-12, and only it
    assert Device.objects.filter(factory=factory).count() == 30
    press = Device.objects.get(factory=factory, serial_normalised="SN12")
    assert (press.name, press.firmware, press.serial_number) == ("Press 12", "1.0", "SN-12")
    assert sorted(press.source_records.values_list("source_kind", flat=True)) == ["mqtt", "opcua"]
    assert session.counts["created"] == 29 and session.counts["updated"] == 1
    assert DeviceSourceRecord.objects.filter(connector=opcua).count() == 30


@contextmanager
def commits_held(connector, seconds: float = 0.5):
    """Hold the connector's row ``FOR UPDATE`` on another connection for ``seconds``: a
    background write's commit (the foreign-key check of its source records) waits, so
    the next batch is certainly planned while the one before is still in flight."""
    holder = psycopg.connect(database_url())
    holder.execute("SELECT id FROM connectors_connector WHERE id = %s FOR UPDATE", [connector.pk])
    timer = threading.Timer(seconds, holder.rollback)
    timer.start()
    try:
        yield
    finally:
        timer.join()
        holder.close()


def one_record_per_batch(connector, records) -> IngestSession:
    session = IngestSession(connector=connector, batch_size=1)
    with commits_held(connector):
        session.extend(records)
    session.flush()
    return session


def test_a_mac_met_again_in_the_next_batch_while_the_first_is_in_flight_is_one_device(settings):
    settings.CONNECTOR_INGEST_WRITERS = 2
    connector = make_connector(FactoryFactory(slug="mac-again"), "mqtt")
    session = one_record_per_batch(
        connector,
        [
            DeviceRecord(source_id="edge/a", mac="02:00:00:00:00:0a", name="Cell A"),
            DeviceRecord(source_id="edge/b", mac="02-00-00-00-00-0A", firmware="2.1"),
        ],
    )
    device = Device.objects.get(factory=connector.factory)
    assert (device.name, device.firmware) == ("Cell A", "2.1")
    assert device.source_records.count() == 2
    assert (session.counts["created"], session.counts["updated"]) == (1, 1)


@pytest.mark.parametrize("second_source_id", ["n2", "n1"])
def test_a_serial_or_source_id_met_again_while_in_flight_is_looked_up_not_retried(
    settings, second_source_id
):
    """The unique indexes would catch these, at the price of a failed write: the session
    sees the overlap with the batch in flight, waits, and plans with every lookup."""
    settings.CONNECTOR_INGEST_WRITERS = 2
    connector = make_connector(FactoryFactory(slug="met-again"), "opcua")
    session = one_record_per_batch(
        connector,
        [
            DeviceRecord(source_id="n1", serial_number="SN-1", firmware="1.0"),
            DeviceRecord(
                source_id=second_source_id, serial_number="sn1", firmware="1.0", name="P1"
            ),
        ],
    )
    device = Device.objects.get(factory=connector.factory)
    assert (device.firmware, device.name) == ("1.0", "P1")
    assert device.source_records.count() == (2 if second_source_id == "n2" else 1)
    assert session.replanned_batches == 0
    assert (session.counts["created"], session.counts["updated"]) == (1, 1)


def test_a_device_met_by_mac_then_by_serial_in_the_next_batch_ends_as_written_in_turn(settings):
    """Batch 1 reaches a device by its MAC and leaves its fields as they are; batch 2
    reaches it by serial with another MAC. The keys differ, the device is the same:
    batch 2 is planned once batch 1 is committed, so the MAC of the record that ranks
    first (same source, lower source id) stays."""
    outcomes = []
    for writers in (0, 2):
        settings.CONNECTOR_INGEST_WRITERS = writers
        factory = FactoryFactory(slug=f"mac-then-serial-{writers}")
        mqtt = make_connector(factory, "mqtt")
        opcua = make_connector(factory, "opcua")
        first = IngestSession(connector=mqtt)
        first.extend([DeviceRecord(source_id="m", serial_number="S-1", mac="02:00:00:00:00:01")])
        first.flush()
        session = one_record_per_batch(
            opcua,
            [
                DeviceRecord(source_id="a", mac="02:00:00:00:00:01"),
                DeviceRecord(source_id="b", serial_number="S-1", mac="02:00:00:00:00:02"),
            ],
        )
        # Pipelined, batch 2 overlaps batch 1 in flight: it waits and is written in turn.
        assert session.background_batches == (1 if writers else 0)
        device = Device.objects.get(factory=factory)
        assert (device.serial_number, device.mac) == ("S-1", "02:00:00:00:00:01")
        assert device.source_records.count() == 3
        outcomes.append((snapshot(factory), session.counts))
    assert outcomes[0] == outcomes[1]


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ingest-writer")]


def backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


def test_writers_and_their_connections_end_with_the_session(settings):
    settings.CONNECTOR_INGEST_WRITERS = 2
    connector = make_connector(FactoryFactory(slug="tidy"), "opcua")
    before = backends()
    session = IngestSession(connector=connector, batch_size=10)
    session.extend(DeviceRecord(source_id=f"n{i}", serial_number=f"S{i}") for i in range(100))
    assert writer_threads()  # still writing the last batches in the background
    session.flush()
    assert session.background_batches == 10
    assert session.counts["created"] == 100 and session.processed == 100
    assert writer_threads() == []
    deadline = time.monotonic() + 10  # a closed connection's backend exits a moment later
    while backends() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backends() == before


def test_a_lost_writer_connection_fails_the_ingest_and_keeps_what_was_committed(settings):
    """The database drops a writer's connection: flush raises the database error, the
    batches committed before are kept whole, and no writer is left behind."""
    settings.CONNECTOR_INGEST_WRITERS = 2
    connector = make_connector(FactoryFactory(slug="dropped"), "opcua")
    session = IngestSession(connector=connector, batch_size=10)

    def drop_writer_connections(s):
        if s.processed == 10:  # the first batch is committed; its writer writes the third
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'"
                )

    session.on_batch = drop_writer_connections
    with pytest.raises(OperationalError):
        session.extend(DeviceRecord(source_id=f"n{i}", serial_number=f"S{i}") for i in range(50))
        session.flush()
    session.close()
    assert writer_threads() == []
    committed = Device.objects.filter(factory=connector.factory).count()
    assert committed % 10 == 0 and 10 <= committed < 50  # whole batches only
    assert DeviceSourceRecord.objects.filter(connector=connector).count() == committed
