"""The pure planner plans from plain data, without a database (no ``django_db`` mark:
any query would fail these tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.ingest import planner, rows
from connectors.ingest.planner import BatchPlan, Context, Known
from connectors.ingest.rules import precedence_table
from connectors.records import DeviceRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CTX = Context(connector_id=1, kind="opcua", factory_id=1, now=NOW,
              cutoff=NOW - timedelta(hours=1), run_id=None, ranks=precedence_table())  # fmt: skip


def plan(batch, known=None, previous=None, found=None, devices=None, sources=None):
    known = known or {}
    dirty, counts, seen = planner.split(batch, known)
    out = BatchPlan()
    reidentified = planner.prepare(dirty, known, previous or {})
    identified = planner.identify(dirty, known, reidentified, found or planner.Found())
    _, left = planner.devices_to_read(identified, known)
    rows.build(CTX, out, identified, known, devices or {}, sources or [], left,
               {r.source_id for r in batch}, counts, seen)  # fmt: skip
    return out, counts


def test_new_records_plan_new_devices_and_a_junk_serial_stands_for_none():
    out, counts = plan([DeviceRecord("a", serial_number="N/A", model="M"),
                        DeviceRecord("b", serial_number="SN1")])  # fmt: skip
    assert counts["created"] == 2
    assert [(d["serial_number"], d["serial_normalised"]) for d in out.new_devices] == [
        ("", ""), ("SN1", "SN1"),
    ]  # fmt: skip
    assert [r["device_id"] for r in out.new_records] == ["new:0", "new:1"]


def test_a_source_id_reporting_another_serial_leaves_its_device_which_goes_stale():
    old = {"serial_number": "SN1", "mac": "", "manufacturer": "Acme", "model": "M"}
    known = {"a": Known(10, 5, "old-hash", "active", True)}
    device = {"id": 5, "status": "active", "first_seen": NOW, "last_seen": NOW,
              "serial_normalised": "SN1", "serial_number": "SN1", "mac": "",
              "manufacturer": "Acme", "model": "M", "firmware": "", "hardware_revision": "",
              "name": ""}  # fmt: skip
    out, _ = plan([DeviceRecord("a", serial_number="SN2", manufacturer="Acme", model="M")],
                  known=known, previous={10: old}, devices={5: device},
                  sources=[(10, 5, "opcua", 1, "a", old, "old-hash", NOW, None)])  # fmt: skip
    assert out.new_devices[0]["serial_number"] == "SN2"
    assert out.changed_records[0]["device_id"] == "new:0"
    assert out.changed_devices[0]["status"] == "stale"
    assert out.changed_devices[0]["serial_number"] == "SN1"


def test_a_known_unchanged_record_plans_nothing():
    record = DeviceRecord("a", serial_number="SN1")
    from connectors.ingest.rules import raw_digest

    known = {"a": Known(10, 5, raw_digest(record), "active", True)}
    out, counts = plan([record], known=known)
    assert out.is_empty() and counts["unchanged"] == 1
