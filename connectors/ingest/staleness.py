"""Staleness after a complete, full sync: per record, not per device.

Every record of the connector whose source id the sync did not report is marked
*missing*; a device none of whose records still reports it (a record of a synced source
that is not missing: an upload says a device existed, not that it is still there)
becomes *stale*, with a history entry. Devices are never deleted."""

from __future__ import annotations

from django.db import connection, transaction

from connectors.ingest import lookups, rows
from connectors.ingest.planner import Context
from connectors.ingest.rules import STALE
from connectors.ingest.writers import write_batch
from connectors.models import DeviceSourceRecord

CHUNK = 1000


def mark_missing(ctx: Context, reported: set[str], candidates: list[int] | None = None) -> int:
    """Mark the connector's unreported records missing; the devices they belong to are
    recomputed from the records that still report them (or go stale). Returns how many
    devices went stale. ``candidates``: the ids of every record that may be unreported
    (the session's snapshot knows them; every record created since was reported), so
    only those are read, not every record of the connector."""
    if candidates is not None:
        # By primary key alone (the candidates are the connector's): a condition on the
        # connector would let the planner, its statistics lagging a bulk load, walk the
        # connector's whole (connector, source id) index for each id instead.
        found = lookups.by_keys(
            "source_id, id, device_id", lookups.RECORD_TABLE, "missing_since IS NULL", "id",
            candidates, [],
        )  # fmt: skip
    else:
        with connection.cursor() as cursor:  # plain columns: one fetch, no ORM per row
            cursor.execute(
                f"SELECT source_id, id, device_id FROM {lookups.RECORD_TABLE}"
                " WHERE connector_id = %s AND missing_since IS NULL",
                [ctx.connector_id],
            )
            found = cursor.fetchall()
    unreported = [(pk, device_id) for sid, pk, device_id in found if sid not in reported]
    stale = 0
    for start in range(0, len(unreported), CHUNK):
        chunk = unreported[start : start + CHUNK]
        with transaction.atomic():
            DeviceSourceRecord.objects.filter(id__in=[pk for pk, _ in chunk]).update(
                missing_since=ctx.now
            )
            ids = {device_id for _, device_id in chunk}
            devices = lookups.device_rows(ids)
            before = {pk for pk, row in devices.items() if row["status"] != STALE}
            plan = rows.recompute_devices(ctx, devices, lookups.source_rows(ids))
            write_batch(plan)
            stale += sum(1 for pk in before if devices[pk]["status"] == STALE)
    return stale
