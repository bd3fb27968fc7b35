"""Identity over time (docs/connectors.md, "Identity over time"): one test per rule and
per case reported from plants (renumbered OPC UA node ids, a reused node id reporting a
junk serial)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.ingest import IngestSession
from connectors.models import Device, DeviceChange, DeviceSourceRecord
from connectors.records import DeviceRecord
from tests.connectors.helpers import make_connector

pytestmark = pytest.mark.django_db
T0 = timezone.now().replace(microsecond=0) - timedelta(days=10)


def sync(connector, records, *, at, full=True, batch_size=None):
    """One run of ``connector`` at time ``at``; a full one marks what it missed."""
    session = IngestSession(connector=connector, now=at, batch_size=batch_size)
    session.extend(records)
    session.flush()
    if full:
        session.mark_stale()
    return session


def machine(source_id, serial, firmware="1.0", **extra):
    return DeviceRecord(
        source_id=source_id, serial_number=serial, manufacturer="Acme", model="CNC-5",
        firmware=firmware, **extra,
    )  # fmt: skip


def device(serial):
    return Device.objects.get(serial_normalised=serial)


def active_records(dev):
    return sorted(dev.source_records.filter(missing_since=None).values_list("source_id", flat=True))


def test_renumbered_node_ids_supersede_the_old_records_and_the_new_firmware_wins(world):
    opcua = make_connector(world.factory_a, "opcua")
    sync(opcua, [machine(f"ns=2;i={i}", f"SN{i}") for i in (1, 2, 3)], at=T0)
    # The server restarted and built its address space anew: same machines, new node
    # ids; one machine's firmware was updated meanwhile.
    renumbered = [
        machine("ns=2;i=11", "SN1"), machine("ns=2;i=12", "SN2", firmware="2.0"),
        machine("ns=2;i=13", "SN3"),
    ]  # fmt: skip
    later = T0 + timedelta(hours=2)
    sync(opcua, renumbered, at=later, full=False)  # superseded in the run, full or not
    assert Device.objects.count() == 3
    assert device("SN2").firmware == "2.0"
    for i in (1, 2, 3):
        assert active_records(device(f"SN{i}")) == [f"ns=2;i=1{i}"]
        old = DeviceSourceRecord.objects.get(source_id=f"ns=2;i={i}")
        assert old.missing_since == later
    assert set(Device.objects.values_list("status", flat=True)) == {"active"}
    # A full sync later changes nothing about it.
    sync(opcua, renumbered, at=later + timedelta(hours=2))
    assert device("SN2").firmware == "2.0" and Device.objects.count() == 3


def test_node_ids_swapped_between_machines_move_each_record_to_its_machine(world):
    opcua = make_connector(world.factory_a, "opcua")
    sync(opcua, [machine("n1", "SN1", "1.0"), machine("n2", "SN2", "1.0")], at=T0)
    sync(opcua, [machine("n1", "SN2", "2.0"), machine("n2", "SN1", "3.0")],
         at=T0 + timedelta(hours=2))  # fmt: skip
    assert Device.objects.count() == 2
    assert active_records(device("SN1")) == ["n2"] and device("SN1").firmware == "3.0"
    assert active_records(device("SN2")) == ["n1"] and device("SN2").firmware == "2.0"
    assert set(Device.objects.values_list("status", flat=True)) == {"active"}


def test_a_reused_node_id_with_a_junk_serial_leaves_the_machine_which_goes_stale(world):
    opcua = make_connector(world.factory_a, "opcua")
    sync(opcua, [machine("ns=2;i=7", "SN-REAL")], at=T0)
    # The node id now carries another machine, whose serial the server reports as "N/A".
    other = DeviceRecord(source_id="ns=2;i=7", serial_number="N/A", manufacturer="Globex",
                         model="Press-9", firmware="4.1")  # fmt: skip
    sync(opcua, [other], at=T0 + timedelta(hours=2), full=False)
    left = device("SNREAL")
    assert left.serial_number == "SN-REAL"  # never overwritten with "N/A"
    assert left.status == "stale" and not left.source_records.exists()
    assert DeviceChange.objects.filter(device=left, field="status", new="stale").exists()
    new = Device.objects.exclude(pk=left.pk).get()
    assert (new.manufacturer, new.model, new.serial_number, new.status) == (
        "Globex", "Press-9", "", "active",
    )  # fmt: skip


def test_a_junk_serial_from_the_same_machine_keeps_its_device_and_real_serial(world):
    opcua = make_connector(world.factory_a, "opcua")
    sync(opcua, [machine("n1", "SN-REAL", mac="02:00:00:00:00:01")], at=T0)
    dev = device("SNREAL")
    sync(opcua, [machine("n1", "N/A", firmware="1.1", mac="00:00:00:00:00:00")],
         at=T0 + timedelta(hours=2))  # fmt: skip
    dev.refresh_from_db()
    assert Device.objects.count() == 1
    assert (dev.serial_number, dev.mac, dev.firmware) == ("SN-REAL", "02:00:00:00:00:01", "1.1")
    assert DeviceSourceRecord.objects.get().data["serial_number"] == "SN-REAL"
    assert not DeviceChange.objects.filter(field="serial_number", new="N/A").exists()


def test_a_junk_serial_of_another_source_never_wins_over_a_real_one(world):
    cmdb = make_connector(world.factory_a, "mqtt")  # ranks below OPC UA for serials
    opcua = make_connector(world.factory_a, "opcua")
    sync(cmdb, [DeviceRecord(source_id="c1", serial_number="SN9", mac="02:00:00:00:00:09")],
         at=T0)  # fmt: skip
    sync(opcua, [DeviceRecord(source_id="o1", serial_number="unknown", mac="02:00:00:00:00:09",
                              firmware="7")], at=T0 + timedelta(hours=1))  # fmt: skip
    dev = Device.objects.get()
    assert (dev.serial_number, dev.firmware) == ("SN9", "7")


def test_another_real_serial_under_the_same_source_id_is_another_machine(world):
    opcua = make_connector(world.factory_a, "opcua")
    sync(opcua, [machine("n1", "SN1")], at=T0)
    sync(opcua, [machine("n1", "SN2")], at=T0 + timedelta(hours=2), full=False)
    assert device("SN1").status == "stale" and device("SN1").serial_number == "SN1"
    assert active_records(device("SN2")) == ["n1"]


def test_another_mac_under_the_same_source_id_is_another_machine(world):
    mqtt = make_connector(world.factory_a, "mqtt")
    sync(mqtt, [DeviceRecord(source_id="e1", mac="02:00:00:00:00:01")], at=T0)
    sync(mqtt, [DeviceRecord(source_id="e1", mac="02:00:00:00:00:02")],
         at=T0 + timedelta(hours=2), full=False)  # fmt: skip
    first = Device.objects.get(mac="02:00:00:00:00:01")
    second = Device.objects.get(mac="02:00:00:00:00:02")
    assert first.status == "stale" and second.status == "active"


def test_a_mac_only_record_renumbered_supersedes_its_old_record(world):
    mqtt = make_connector(world.factory_a, "mqtt")
    sync(mqtt, [DeviceRecord(source_id="g/e/d1", mac="02:00:00:00:00:05", firmware="1")],
         at=T0)  # fmt: skip
    sync(mqtt, [DeviceRecord(source_id="g/e/d9", mac="02:00:00:00:00:05", firmware="2")],
         at=T0 + timedelta(hours=1), full=False)  # fmt: skip
    dev = Device.objects.get()
    assert dev.firmware == "2" and active_records(dev) == ["g/e/d9"]


def test_ties_in_precedence_go_to_the_most_recently_seen_record(world):
    first = make_connector(world.factory_a, "opcua", name="Line 1 server")
    second = make_connector(world.factory_a, "opcua", name="Line 2 server")
    sync(first, [machine("a", "SN1", "1.0")], at=T0)
    sync(second, [machine("b", "SN1", "2.0")], at=T0 + timedelta(hours=2))
    assert device("SN1").firmware == "2.0"
    sync(first, [machine("a", "SN1", "3.0")], at=T0 + timedelta(hours=4))
    assert device("SN1").firmware == "3.0"


def test_a_full_sync_marks_every_unreported_record_missing_not_only_per_device(world):
    cmdb = make_connector(world.factory_a, "mqtt")
    # Two entries of one machine in the same source, both reported in one run.
    sync(cmdb, [machine("x", "SN1"), machine("y", "SN1"), machine("z", "SN2")], at=T0)
    assert active_records(device("SN1")) == ["x", "y"]
    later = T0 + timedelta(hours=2)
    sync(cmdb, [machine("x", "SN1")], at=later)
    assert DeviceSourceRecord.objects.get(source_id="y").missing_since == later
    assert device("SN1").status == "active" and device("SN2").status == "stale"


def test_an_incremental_sync_marks_nothing_missing(world):
    cmdb = make_connector(world.factory_a, "mqtt")
    sync(cmdb, [machine("x", "SN1"), machine("z", "SN2")], at=T0)
    sync(cmdb, [machine("x", "SN1", "1.1")], at=T0 + timedelta(hours=2), full=False)
    assert not DeviceSourceRecord.objects.exclude(missing_since=None).exists()
    assert device("SN2").status == "active"


@pytest.mark.parametrize("order", [("new", "old"), ("old", "new")])
def test_a_record_reported_in_the_same_run_is_never_superseded(world, order):
    opcua = make_connector(world.factory_a, "opcua")
    sync(opcua, [machine("old", "SN1")], at=T0)
    # One batch per record: whichever comes first, both were reported in the run.
    sync(opcua, [machine(sid, "SN1") for sid in order], at=T0 + timedelta(hours=2),
         batch_size=1)  # fmt: skip
    assert active_records(device("SN1")) == ["new", "old"]
