"""Reads of the connectors app worth naming (all scoped by the caller's user)."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery

from coe.scoping import restrict
from connectors.models import Connector, Device, DeviceSourceRecord, SyncRun


def connectors_for(user) -> QuerySet[Connector]:
    """Visible connectors with their last run's id, status and finish time annotated, and
    the MQTT host application's state joined."""
    last = SyncRun.objects.filter(connector=OuterRef("pk")).order_by("-queued_at", "-id")
    connectors = Connector.objects.select_related("factory", "host_state")
    return restrict(connectors, user).annotate(
        last_run_id=Subquery(last.values("id")[:1]),
        last_run_status=Subquery(last.values("status")[:1]),
        last_run_finished_at=Subquery(last.values("finished_at")[:1]),
    )


def sync_runs_for(user) -> QuerySet[SyncRun]:
    return restrict(
        SyncRun.objects.select_related("connector__factory"),
        user,
        factory_field="connector__factory",
    )


def devices_for(user) -> QuerySet[Device]:
    return restrict(Device.objects.select_related("factory"), user)


def device_status_counts(factory_id: int) -> dict[str, int]:
    """``{status: count}`` of a factory's devices."""
    rows = (
        Device.objects.filter(factory_id=factory_id)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["status"]: row["n"] for row in rows}


def device_source_kinds(device_ids: list[int]) -> dict[int, list[str]]:
    """``{device id: sorted source kinds}`` for a page of devices, in one query."""
    kinds: dict[int, set[str]] = {}
    for device_id, kind in (
        DeviceSourceRecord.objects.filter(device_id__in=device_ids)
        .values_list("device_id", "source_kind")
        .distinct()
    ):
        kinds.setdefault(device_id, set()).add(kind)
    return {k: sorted(v) for k, v in kinds.items()}
