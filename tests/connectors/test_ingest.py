"""The shared ingest step: identity, precedence, history, idempotence, staleness, order."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connectors.ingest import IngestSession
from connectors.models import Device, DeviceChange, DeviceSourceRecord
from connectors.normalise import normalise_mac, normalise_serial
from connectors.records import DeviceRecord, RecordError
from tests.connectors.helpers import ingest, make_connector
from tests.factories import FactoryFactory

pytestmark = pytest.mark.django_db

DEVICE_TABLES = ("connectors_device", "connectors_devicesourcerecord", "connectors_devicechange")


def writes_to_device_tables(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "COPY"))
        and any(t in q["sql"] for t in DEVICE_TABLES)
    ]


@pytest.mark.parametrize(
    "junk",
    ["", "N/A", "0", "0000-0000", "To be filled by O.E.M.", "None", "unknown", "Default string"],
)
def test_junk_serial_numbers_never_identify_a_device(junk):
    assert normalise_serial(junk) == ""


def test_serials_and_macs_normalise_to_one_comparable_form():
    assert normalise_serial(" sn-0042 ") == normalise_serial("SN0042") == "SN0042"
    assert (
        normalise_mac("AA-BB-CC-00-11-22") == normalise_mac("aabb.cc00.1122") == "aa:bb:cc:00:11:22"
    )
    assert normalise_mac("00:00:00:00:00:00") == ""


def test_devices_with_junk_serials_stay_apart_and_match_by_mac_then_source_id(world):
    connector = make_connector(world.factory_a)
    run = ingest(
        connector,
        [
            DeviceRecord(source_id="a", serial_number="N/A", mac="aa:bb:cc:00:00:01"),
            DeviceRecord(source_id="b", serial_number="N/A", mac="aa:bb:cc:00:00:02"),
            DeviceRecord(source_id="c", serial_number="To be filled by O.E.M."),
            DeviceRecord(source_id="d", serial_number="0"),
        ],
    )
    assert run.created == 4 and Device.objects.count() == 4
    other = make_connector(world.factory_a, "mqtt")
    ingest(other, [DeviceRecord(source_id="x", mac="AA-BB-CC-00-00-02", model="M2")])
    assert Device.objects.count() == 4
    assert Device.objects.get(mac="aa:bb:cc:00:00:02").model == "M2"
    again = ingest(
        connector, [DeviceRecord(source_id="c", serial_number="", model="Z")], complete=False
    )
    assert again.updated == 1 and Device.objects.filter(model="Z").count() == 1


def test_identity_is_per_factory(world):
    ingest(make_connector(world.factory_a), [DeviceRecord(source_id="1", serial_number="S1")])
    ingest(make_connector(world.factory_b), [DeviceRecord(source_id="1", serial_number="S1")])
    assert Device.objects.filter(serial_normalised="S1").count() == 2


def test_reingesting_the_same_data_writes_nothing(world):
    connector = make_connector(world.factory_a)
    records = [
        DeviceRecord(
            source_id=f"n{i}", serial_number=f"SN-{i}", manufacturer="ACME", firmware="1.0"
        )
        for i in range(50)
    ]
    first = ingest(connector, records)
    assert (first.created, first.unchanged) == (50, 0)
    before = list(Device.objects.values_list("id", "updated_at", "last_seen").order_by("id"))
    with CaptureQueriesContext(connection) as ctx:
        second = ingest(connector, records)
    assert (second.created, second.updated, second.unchanged, second.stale) == (0, 0, 50, 0)
    assert writes_to_device_tables(ctx.captured_queries) == []
    assert (
        list(Device.objects.values_list("id", "updated_at", "last_seen").order_by("id")) == before
    )
    assert DeviceChange.objects.count() == 0


def test_a_changed_field_is_recorded_in_the_history_with_its_source_and_run(world):
    connector = make_connector(world.factory_a)
    ingest(connector, [DeviceRecord(source_id="n1", serial_number="S1", firmware="1.0")])
    run = ingest(connector, [DeviceRecord(source_id="n1", serial_number="S1", firmware="1.1")])
    assert run.updated == 1
    change = DeviceChange.objects.get()
    assert (change.field, change.old, change.new, change.source, change.run_id) == (
        "firmware",
        "1.0",
        "1.1",
        "opcua",
        run.pk,
    )


def test_firmware_follows_source_precedence_opcua_over_mqtt(world):
    opcua = make_connector(world.factory_a, "opcua")
    mqtt = make_connector(world.factory_a, "mqtt")
    ingest(mqtt, [DeviceRecord(source_id="edge/n/d", serial_number="S9", firmware="mqtt-fw")])
    assert Device.objects.get().firmware == "mqtt-fw"
    ingest(opcua, [DeviceRecord(source_id="ns=2;i=9", serial_number="S9", firmware="opc-fw")])
    ingest(mqtt, [DeviceRecord(source_id="edge/n/d", serial_number="S9", firmware="mqtt-fw2")])
    device = Device.objects.get()
    assert device.firmware == "opc-fw"
    assert device.source_records.count() == 2


def test_precedence_table_is_configurable(world, settings):
    settings.CONNECTOR_FIELD_PRECEDENCE = {"firmware": ["mqtt", "opcua"]}
    ingest(
        make_connector(world.factory_a, "opcua"),
        [DeviceRecord(source_id="o", serial_number="S", firmware="o")],
    )
    ingest(
        make_connector(world.factory_a, "mqtt"),
        [DeviceRecord(source_id="m", serial_number="S", firmware="m")],
    )
    assert Device.objects.get().firmware == "m"


THREE_SOURCES = [
    (
        "opcua",
        DeviceRecord(
            source_id="ns=2;i=7", serial_number="SN-0042", firmware="4.2", model="Press 7"
        ),
    ),
    (
        "mqtt",
        DeviceRecord(
            source_id="plant/edge1/press7",
            serial_number="sn 0042",
            mac="aa:bb:cc:dd:ee:07",
            firmware="4.1",
            manufacturer="Schuler",
        ),
    ),
    (
        "modbus",
        DeviceRecord(
            source_id="10.0.0.7:502/1",
            serial_number="SN0042",
            firmware="4.0",
            hardware_revision="B",
        ),
    ),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_three_sources_in_any_order_end_as_one_device_with_three_records(order):
    factory = FactoryFactory(slug="order-plant")
    connectors = {kind: make_connector(factory, kind) for kind, _ in THREE_SOURCES}
    for i in order:
        kind, record = THREE_SOURCES[i]
        ingest(
            connectors[kind],
            [DeviceRecord(**{s: getattr(record, s) for s in record.__slots__})],
            complete=False,
        )
    device = Device.objects.get(factory=factory)
    assert device.source_records.count() == 3
    state = (
        device.serial_number,
        device.mac,
        device.manufacturer,
        device.model,
        device.firmware,
        device.hardware_revision,
        device.status,
    )
    assert state == ("SN-0042", "aa:bb:cc:dd:ee:07", "Schuler", "Press 7", "4.2", "B", "active")


def test_a_device_missing_from_a_complete_full_sync_becomes_stale_never_deleted(world):
    connector = make_connector(world.factory_a)
    ingest(connector, [DeviceRecord(source_id=str(i), serial_number=f"S{i}") for i in range(5)])
    partial = ingest(connector, [DeviceRecord(source_id="0", serial_number="S0")], complete=False)
    assert partial.stale == 0 and not Device.objects.filter(status="stale").exists()
    run = ingest(
        connector, [DeviceRecord(source_id=str(i), serial_number=f"S{i}") for i in range(3)]
    )
    assert run.stale == 2 and run.unchanged == 3
    assert Device.objects.count() == 5
    assert set(Device.objects.filter(status="stale").values_list("serial_number", flat=True)) == {
        "S3",
        "S4",
    }
    back = ingest(
        connector, [DeviceRecord(source_id=str(i), serial_number=f"S{i}") for i in range(5)]
    )
    assert back.updated == 2 and not Device.objects.filter(status="stale").exists()
    assert DeviceChange.objects.filter(field="status", new="stale").count() == 2


def test_an_offline_report_marks_the_device_offline(world):
    connector = make_connector(world.factory_a, "mqtt")
    ingest(connector, [DeviceRecord(source_id="g/n/d", serial_number="S1")])
    ingest(
        connector,
        [DeviceRecord(source_id="g/n/d", serial_number="S1", online=False)],
        complete=False,
    )
    assert Device.objects.get().status == "offline"


def test_rejected_records_are_counted_with_row_level_errors(world):
    connector = make_connector(world.factory_a)
    run = ingest(
        connector,
        [DeviceRecord(source_id="", serial_number="S"), RecordError("ns=2;i=1", "bad value")],
    )
    assert run.rejected == 2
    assert Device.objects.count() == 0


def test_batches_give_the_same_result_as_one_batch(world):
    connector = make_connector(world.factory_a)
    records = [DeviceRecord(source_id=str(i), serial_number=f"S{i % 40}") for i in range(100)]
    ingest(connector, records, batch_size=7)
    assert Device.objects.count() == 40
    assert DeviceSourceRecord.objects.count() == 100


def test_a_large_resync_writes_records_whose_stored_hash_is_not_the_ingests(world):
    """A sync large enough to read all the connector's records at once (full batches)
    treats a record whose stored hash is of another form (not hex, another length, upper
    case) or that is marked missing as changed: written once, then unchanged."""
    connector = make_connector(world.factory_a)
    records = [DeviceRecord(source_id=str(i), serial_number=f"S{i}") for i in range(12)]
    ingest(connector, records, batch_size=4)
    stored = DeviceSourceRecord.objects.filter(connector=connector)
    stored.filter(source_id="1").update(data_hash="x" * 32)
    stored.filter(source_id="2").update(data_hash="ab" * 10)
    upper = stored.get(source_id="3").data_hash.upper()
    stored.filter(source_id="3").update(data_hash=upper)
    stored.filter(source_id="4").update(missing_since=timezone.now())
    run = ingest(connector, records, batch_size=4)
    assert (run.updated, run.unchanged) == (4, 8)
    assert not stored.filter(missing_since__isnull=False).exists()
    assert stored.get(source_id="3").data_hash == upper.lower()
    again = ingest(connector, records, batch_size=4)
    assert (again.updated, again.unchanged) == (0, 12)


def test_a_first_full_sync_of_a_new_connector_reads_no_records_to_mark_missing(world):
    """Every record of a connector that had none before the sync is one the sync reported:
    marking the unreported ones missing reads nothing."""
    connector = make_connector(world.factory_a)
    session = IngestSession(connector=connector, batch_size=3)
    session.extend([DeviceRecord(source_id=str(i), serial_number=f"S{i}") for i in range(5)])
    session.flush()
    with CaptureQueriesContext(connection) as queries:
        assert session.mark_stale() == 0
    assert not [q for q in queries if DeviceSourceRecord._meta.db_table in q["sql"]]
    assert not DeviceSourceRecord.objects.filter(missing_since__isnull=False).exists()


def test_a_first_load_meeting_its_own_serials_and_source_ids_again_identifies_them(world):
    """A first load plans batches optimistically; data that meets itself in a later batch
    (a serial again under another source id, a source id again) still lands on one device."""
    connector = make_connector(world.factory_a)
    run = ingest(
        connector,
        [
            DeviceRecord(source_id="a", serial_number="SN-1", name="Press 1"),
            DeviceRecord(source_id="b", serial_number="sn1", firmware="2.0"),
            DeviceRecord(source_id="c", serial_number="SN-3", mac="aa:bb:cc:00:00:03"),
            DeviceRecord(source_id="c", serial_number="SN-3", mac="aa:bb:cc:00:00:03", model="X"),
            DeviceRecord(source_id="d", mac="AA-BB-CC-00-00-03", name="Cell 3"),
        ],
        batch_size=1,
    )
    assert Device.objects.count() == 2
    first = Device.objects.get(serial_normalised="SN1")
    assert (first.name, first.firmware) == ("Press 1", "2.0")
    assert set(first.source_records.values_list("source_id", flat=True)) == {"a", "b"}
    third = Device.objects.get(serial_normalised="SN3")
    assert (third.model, third.name) == ("X", "Cell 3")
    assert set(third.source_records.values_list("source_id", flat=True)) == {"c", "d"}
    assert (run.created, run.updated) == (2, 3)
    assert DeviceSourceRecord.objects.count() == 4


def test_nul_padding_is_dropped_and_unstorable_source_ids_are_rejected(world):
    """Fixed-width device strings come NUL-padded, and databases refuse NUL characters:
    fields lose them; a source id that cannot be stored is a row error, not a failed batch."""
    from connectors.ingest import IngestSession

    session = IngestSession(connector=make_connector(world.factory_a, "modbus"))
    session.extend(
        [
            DeviceRecord(source_id="10.0.0.7:502/1", serial_number="DMG-7\0\0", model="DMU 50\0"),
            DeviceRecord(source_id="x" * 301, serial_number="S-2"),
            DeviceRecord(source_id="unit\x001", serial_number="S-3"),
        ]
    )
    session.flush()
    device = Device.objects.get()
    assert (device.serial_number, device.model) == ("DMG-7", "DMU 50")
    assert (session.counts["created"], session.counts["rejected"]) == (1, 2)
    assert [e["message"] for e in session.errors] == [
        "source id longer than 300 characters or holding a NUL"
    ] * 2


# One press seen by three sources that each know part of its identity: OPC UA its serial,
# MQTT only its MAC, the CMDB-like Modbus gateway both.
PARTIAL_IDENTITIES = [
    ("opcua", DeviceRecord(source_id="ns=2;i=9", serial_number="SN-0099", firmware="5.1")),
    ("mqtt", DeviceRecord(source_id="edge/press9", mac="aa:bb:cc:dd:ee:09", name="Press 9")),
    (
        "modbus",
        DeviceRecord(
            source_id="10.0.0.9:502/1",
            serial_number="sn 0099",
            mac="AA-BB-CC-DD-EE-09",
            manufacturer="Schuler",
        ),
    ),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_sources_knowing_parts_of_an_identity_end_as_one_device_in_any_order(order):
    """Serial from one source, MAC from another: the third, which reports both, shows they
    are one machine. Whichever came first, the devices found by each are merged."""
    from datetime import UTC, datetime

    from connectors.ingest import IngestSession
    from connectors.models import MetricSample
    from connectors.records import MetricRecord

    factory = FactoryFactory(slug="partial-identity")
    connectors = {kind: make_connector(factory, kind) for kind, _ in PARTIAL_IDENTITIES}
    hour = datetime(2026, 11, 2, 8, tzinfo=UTC)
    for i in order:
        kind, record = PARTIAL_IDENTITIES[i]
        session = IngestSession(connector=connectors[kind])
        session.add(DeviceRecord(**{s: getattr(record, s) for s in record.__slots__}))
        session.add(
            MetricRecord(
                metric="good_count",
                value=100 + i,
                period_start=hour,
                period_end=hour.replace(hour=9),
                device_source_id=record.source_id,
                series=kind,
            )
        )
        session.flush()
    device = Device.objects.get(factory=factory)
    assert sorted(device.source_records.values_list("source_kind", flat=True)) == [
        "modbus",
        "mqtt",
        "opcua",
    ]
    state = (device.serial_number, device.mac, device.name, device.firmware, device.manufacturer)
    assert state == ("SN-0099", "aa:bb:cc:dd:ee:09", "Press 9", "5.1", "Schuler")
    # Samples and history of a merged device stay with the machine.
    assert MetricSample.objects.filter(device=device).count() == 3
    assert not MetricSample.objects.filter(factory=factory, device__isnull=True).exists()
    merged = DeviceChange.objects.filter(device=device, field="merged")
    assert merged.count() == (1 if order[2] == 2 else 0)  # only when the link came last


def test_two_serials_sharing_a_mac_stay_two_devices(world):
    """A gateway's MAC (or a cloned image) on two machines with their own serials: the MAC
    never joins them, and a serial-less record with that MAC joins the first."""
    connector = make_connector(world.factory_a, "mqtt")
    run = ingest(
        connector,
        [
            DeviceRecord(source_id="a", serial_number="SN-1", mac="02:00:00:00:00:99"),
            DeviceRecord(source_id="b", serial_number="SN-2", mac="02:00:00:00:00:99"),
        ],
    )
    assert run.created == 2
    run = ingest(
        connector,
        [
            DeviceRecord(source_id="c", serial_number="SN-3", mac="02:00:00:00:00:99"),
            DeviceRecord(source_id="d", mac="02:00:00:00:00:99", name="behind the gateway"),
        ],
        complete=False,
    )
    assert Device.objects.count() == 3
    assert not DeviceChange.objects.filter(field="merged").exists()
    first = Device.objects.order_by("id").first()
    assert first.serial_normalised == "SN1" and first.name == "behind the gateway"


def test_a_device_another_source_still_reports_is_not_stale_and_never_flips(world):
    """OPC UA no longer sees a machine the MQTT edge still reports (it is switched off the
    OPC UA network for maintenance): its OPC UA record is missing, the device stays as it
    is, and MQTT's unchanged re-syncs write nothing. When MQTT loses it too, it is stale;
    when OPC UA sees it again, it is active and the record no longer missing."""
    opcua = make_connector(world.factory_a, "opcua")
    mqtt = make_connector(world.factory_a, "mqtt")
    press = DeviceRecord(source_id="ns=2;i=7", serial_number="SN-7", firmware="4.2")
    edge = DeviceRecord(source_id="edge/7", serial_number="sn 7", name="Press 7")
    ingest(opcua, [press, DeviceRecord(source_id="ns=2;i=8", serial_number="SN-8")])
    ingest(mqtt, [edge])

    run = ingest(opcua, [DeviceRecord(source_id="ns=2;i=8", serial_number="SN-8")])
    device = Device.objects.get(serial_normalised="SN7")
    assert run.stale == 0 and device.status == "active"
    assert device.source_records.get(connector=opcua).missing_since is not None
    with CaptureQueriesContext(connection) as queries:
        again = ingest(mqtt, [edge])
    assert again.unchanged == 1 and writes_to_device_tables(queries) == []
    assert not DeviceChange.objects.filter(device=device, field="status").exists()

    assert ingest(mqtt, []).stale == 1
    device.refresh_from_db()
    assert device.status == "stale"

    back = ingest(opcua, [press, DeviceRecord(source_id="ns=2;i=8", serial_number="SN-8")])
    device.refresh_from_db()
    assert (back.updated, back.unchanged, device.status) == (1, 1, "active")
    assert device.source_records.get(connector=opcua).missing_since is None
    assert list(
        DeviceChange.objects.filter(device=device, field="status")
        .order_by("id")
        .values_list("old", "new")
    ) == [("active", "stale"), ("stale", "active")]


def test_an_uploaded_record_does_not_keep_a_device_from_going_stale(world):
    from connectors.imports import upload_connector

    opcua = make_connector(world.factory_a, "opcua")
    ingest(opcua, [DeviceRecord(source_id="ns=2;i=7", serial_number="SN-7")])
    ingest(
        upload_connector(world.factory_a),
        [DeviceRecord(source_id="row 2", serial_number="SN-7")],
        complete=False,
    )
    assert ingest(opcua, []).stale == 1
    assert Device.objects.get().status == "stale"


def test_a_device_a_record_leaves_is_recomputed_from_what_it_keeps_or_goes_stale(world):
    """The controller at OPC UA node n1 now reports the serial of another known machine
    (it was swapped): the record moves there. The machine it leaves keeps what other
    sources say of it; one that no source reports any more goes stale."""
    opcua = make_connector(world.factory_a, "opcua")
    mqtt = make_connector(world.factory_a, "mqtt")
    ingest(
        opcua,
        [
            DeviceRecord(source_id="n1", serial_number="SN-1", firmware="4.2"),
            DeviceRecord(source_id="n3", serial_number="SN-3", firmware="1.0"),
        ],
    )
    ingest(
        mqtt,
        [
            DeviceRecord(source_id="edge/1", serial_number="SN-1", firmware="4.0"),
            DeviceRecord(source_id="edge/2", serial_number="SN-2"),
            DeviceRecord(source_id="edge/4", serial_number="SN-4"),
        ],
    )
    first = Device.objects.get(serial_normalised="SN1")
    assert first.firmware == "4.2"  # OPC UA ranks first for firmware

    ingest(
        opcua,
        [
            DeviceRecord(source_id="n1", serial_number="SN-2", firmware="5.0"),
            DeviceRecord(source_id="n3", serial_number="SN-4", firmware="1.0"),
        ],
    )
    first.refresh_from_db()
    assert (first.firmware, first.status) == ("4.0", "active")  # what MQTT says of it
    assert list(first.changes.filter(field="firmware").values_list("old", "new", "source")) == [
        ("4.2", "4.0", "mqtt")
    ]
    second = Device.objects.get(serial_normalised="SN2")
    assert second.firmware == "5.0"
    assert sorted(second.source_records.values_list("source_id", flat=True)) == ["edge/2", "n1"]
    third = Device.objects.get(serial_normalised="SN3")
    assert third.status == "stale" and not third.source_records.exists()
    assert list(third.changes.values_list("field", "old", "new")) == [("status", "active", "stale")]
    assert Device.objects.get(serial_normalised="SN4").source_records.count() == 2


def test_parts_of_an_identity_in_one_batch_end_as_one_device(world):
    """A CMDB export lists a machine three times: by serial, by MAC, by both. In one
    batch the rows fold into one device; with a serial-less device already known by the
    MAC, a new serial folds into it."""
    connector = make_connector(world.factory_a, "mqtt")
    run = ingest(
        connector,
        [
            DeviceRecord(source_id="row 1", serial_number="SN-5", firmware="2.0"),
            DeviceRecord(source_id="row 2", mac="02:00:00:00:00:05", name="Press 5"),
            DeviceRecord(source_id="row 3", serial_number="sn5", mac="02-00-00-00-00-05"),
            DeviceRecord(source_id="row 4", mac="02:00:00:00:00:05", model="P5"),
        ],
    )
    device = Device.objects.get()
    assert (device.serial_number, device.mac, device.name, device.firmware, device.model) == (
        "SN-5",
        "02:00:00:00:00:05",
        "Press 5",
        "2.0",
        "P5",
    )
    assert device.source_records.count() == 4 and run.created == 1 and run.updated == 3

    known = ingest(connector, [DeviceRecord(source_id="edge", mac="02:00:00:00:00:06")])
    assert known.created == 1
    edge = Device.objects.get(mac="02:00:00:00:00:06")
    ingest(
        make_connector(world.factory_a, "opcua"),
        [
            DeviceRecord(source_id="n6", serial_number="SN-6", firmware="7.1"),
            DeviceRecord(source_id="n6b", serial_number="SN-6", mac="02:00:00:00:00:06"),
        ],
        complete=False,
    )
    edge.refresh_from_db()
    assert (edge.serial_number, edge.firmware) == ("SN-6", "7.1")
    assert Device.objects.count() == 2 and edge.source_records.count() == 3
