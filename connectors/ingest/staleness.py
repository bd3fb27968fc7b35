"""Staleness after a complete, full sync: per record, not per device.

Every record of the connector whose source id the sync did not report is marked
*missing*; a device none of whose records still reports it (a record of a synced source
that is not missing: an upload says a device existed, not that it is still there)
becomes *stale*, with a history entry. Devices are never deleted."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef

from coe import bulk
from connectors.choices import ConnectorKind, DeviceStatus
from connectors.models import Device, DeviceChange, DeviceSourceRecord, SyncRun

CHUNK = 1000


def mark_missing(
    connector_id: int, reported: set[str], *, now, kind: str, run: SyncRun | None
) -> int:
    """Mark this connector's unreported records missing; returns how many devices went
    stale."""
    unreported = [
        (pk, device_id)
        for pk, sid, device_id in DeviceSourceRecord.objects.filter(
            connector_id=connector_id, missing_since=None
        ).values_list("id", "source_id", "device_id")
        if sid not in reported
    ]
    stale = 0
    for start in range(0, len(unreported), CHUNK):
        chunk = unreported[start : start + CHUNK]
        with transaction.atomic():
            DeviceSourceRecord.objects.filter(id__in=[pk for pk, _ in chunk]).update(
                missing_since=now
            )
            stale += _stale_devices(sorted({d for _, d in chunk}), now=now, kind=kind, run=run)
    return stale


def _stale_devices(device_ids: list[int], *, now, kind: str, run: SyncRun | None) -> int:
    """The devices among ``device_ids`` no record still reports become stale."""
    reporting = DeviceSourceRecord.objects.filter(
        device_id=OuterRef("pk"), missing_since__isnull=True
    ).exclude(source_kind=ConnectorKind.UPLOAD)
    before = dict(
        Device.objects.filter(id__in=device_ids)
        .exclude(status=DeviceStatus.STALE)
        .exclude(Exists(reporting))
        .values_list("id", "status")
    )
    Device.objects.filter(id__in=before).update(status=DeviceStatus.STALE, updated_at=now)
    bulk.insert(
        DeviceChange,
        [
            DeviceChange(device_id=pk, field="status", old=old, new=DeviceStatus.STALE,
                         source=kind, run=run, at=now)
            for pk, old in before.items()
        ],
    )  # fmt: skip
    return len(before)
