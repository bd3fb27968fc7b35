"""Pages: connectors with their runs, device inventory, device detail; the factory panel."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from coe import listing, policy
from coe.api.pagination import CountedPaginator
from coe.rowcounts import visible_rows
from coe.scoping import visible_factories
from connectors import selectors
from connectors.choices import (
    ACTIVE_SYNC_STATUSES,
    FINISHED_SYNC_STATUSES,
    DeviceStatus,
    SyncTrigger,
)
from connectors.filtersets import ConnectorFilterSet, DeviceFilterSet
from connectors.models import Device, DeviceChange
from connectors.mqtt_host.selectors import host_summary
from connectors.services import sync_run_start


def _visible_connector(request, pk: int, **_kwargs):
    return get_object_or_404(selectors.connectors_for(request.user), pk=pk)


CONNECTOR_SORTS = {
    "name": "name",
    "factory": ("factory__name", "name"),
    "kind": ("kind", "name"),
    "schedule": "schedule",
    "enabled": "enabled",
    "last_run": "last_run_status",
    "finished": "last_run_finished_at",
}
CONNECTOR_COLUMNS = [
    ("Connector", "name"),
    ("Factory", "factory"),
    ("Kind", "kind"),
    ("Schedule", "schedule"),
    ("Enabled", "enabled"),
    ("Last run", "last_run"),
    ("Finished", "finished"),
]


@policy.page_rule()
def connector_list(request):
    """Visible connectors with their last run's status."""
    filterset = ConnectorFilterSet(
        request.GET, queryset=selectors.connectors_for(request.user), request=request
    )
    rows, current = listing.apply_sort(
        request, filterset.qs, CONNECTOR_SORTS, default=("factory__name", "name")
    )
    if listing.wants_export(request):
        return listing.export_csv(
            "connectors.csv",
            ["id", "name", "factory", "kind", "schedule", "enabled", "last_run", "finished"],
            rows,
            lambda c: [
                c.pk,
                c.name,
                c.factory.slug,
                c.kind,
                c.schedule,
                c.enabled,
                c.last_run_status,
                c.last_run_finished_at,
            ],
        )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "connectors/connector_list.html",
        {
            "page": page,
            "filterset": filterset,
            "factories": visible_factories(request.user).order_by("name"),
            "headers": listing.sort_headers(request, CONNECTOR_COLUMNS, current),
            "export_url": listing.export_url(request),
        },
    )


@policy.page_rule(obj=_visible_connector)
def connector_detail(request, pk: int, obj):
    """One connector: settings (never credentials) and its run history with errors."""
    connector = obj
    runs = Paginator(connector.runs.all(), 25).get_page(request.GET.get("page"))
    # The run started from this page (?run=), else the one still queued or running: its
    # status is shown on top and follows the run until it ends.
    live = connector.runs.filter(status__in=ACTIVE_SYNC_STATUSES).first()
    asked = request.GET.get("run", "")
    if asked.isdigit():
        live = connector.runs.filter(pk=int(asked)).first() or live
    return render(
        request,
        "connectors/connector_detail.html",
        {
            "connector": connector,
            "page": runs,
            "host": host_summary(getattr(connector, "host_state", None)),
            "live_run": live,
            "live_run_final": live is not None and live.status in FINISHED_SYNC_STATUSES,
        },
    )


@require_POST
@policy.page_rule(obj=_visible_connector)
def connector_sync(request, pk: int, obj):
    """CoE staff queue a sync from the connector page."""
    connector = obj
    run = sync_run_start(connector=connector, trigger=SyncTrigger.USER, user=request.user)
    messages.info(
        request,
        f"Sync #{run.pk} of {connector.name} ({connector.factory.name}) requested; "
        "its status follows below.",
    )
    return redirect(f"{connector.get_absolute_url()}?run={run.pk}#run-status")


def _visible_run(request, pk: int, **_kwargs):
    return get_object_or_404(selectors.sync_runs_for(request.user), pk=pk)


@policy.page_rule(obj=_visible_run)
def sync_run_status(request, pk: int, obj):
    """A run's status as an HTML fragment: the connector page polls it (htmx) until the
    run is final, then shows the real outcome."""
    return render(
        request,
        "connectors/_run_status.html",
        {"run": obj, "run_final": obj.status in FINISHED_SYNC_STATUSES},
    )


DEVICE_SORTS = {
    "name": ("name", "id"),
    "factory": ("factory__name", "name"),
    "serial": "serial_number",
    "vendor": ("manufacturer", "name"),
    "model": ("model", "name"),
    "firmware": ("firmware", "name"),
    "status": ("status", "name"),
    "last_seen": "last_seen",
}
DEVICE_COLUMNS = [
    ("Device", "name"),
    ("Factory", "factory"),
    ("Serial", "serial"),
    ("Vendor", "vendor"),
    ("Model", "model"),
    ("Firmware", "firmware"),
    ("Status", "status"),
    ("Last seen", "last_seen"),
    ("Sources", None),
]


CHOOSABLE = 50


def choosable_factories(user) -> list:
    """The user's factories for a filter's list, or none when they are more than
    ``CHOOSABLE`` (the filter then takes a typed slug): bounded by one query's LIMIT."""
    factories = list(visible_factories(user).order_by("name")[: CHOOSABLE + 1])
    return factories if len(factories) <= CHOOSABLE else []


@policy.page_rule()
def device_list(request):
    """The device inventory, per factory, with filters."""
    filterset = DeviceFilterSet(
        request.GET, queryset=selectors.devices_for(request.user), request=request
    )
    rows, current = listing.apply_sort(request, filterset.qs, DEVICE_SORTS, default=("name", "id"))
    if listing.wants_export(request):
        return listing.export_csv(
            "devices.csv",
            [
                "id",
                "name",
                "factory",
                "serial_number",
                "manufacturer",
                "model",
                "firmware",
                "status",
                "last_seen",
            ],
            rows,
            lambda d: [
                d.pk,
                d.name,
                d.factory.slug,
                d.serial_number,
                d.manufacturer,
                d.model,
                d.firmware,
                d.status,
                d.last_seen,
            ],
        )
    if {"page", "sort"}.issuperset(request.GET):  # unfiltered: the stored counts answer
        paginator = CountedPaginator(
            rows, 50, count=visible_rows(Device._meta.db_table, request.user)
        )
    else:
        paginator = Paginator(rows, 50)
    page = paginator.get_page(request.GET.get("page"))
    kinds = selectors.device_source_kinds([d.pk for d in page])
    for device in page:
        device.source_kinds = kinds.get(device.pk, [])
    return render(
        request,
        "connectors/device_list.html",
        {
            "page": page,
            "filterset": filterset,
            # A list to choose from while the portfolio is small, a slug to type beyond.
            "factories": choosable_factories(request.user),
            "statuses": DeviceStatus.choices,
            "headers": listing.sort_headers(request, DEVICE_COLUMNS, current),
            "export_url": listing.export_url(request),
        },
    )


def _visible_device(request, pk: int, **_kwargs):
    return get_object_or_404(selectors.devices_for(request.user), pk=pk)


@policy.page_rule(obj=_visible_device)
def device_detail(request, pk: int, obj):
    """One device: reconciled fields, what each source said, and its change history."""
    device = obj
    records = device.source_records.select_related("connector").order_by("source_kind")
    changes = DeviceChange.objects.filter(device=device).select_related("run")[:200]
    return render(
        request,
        "connectors/device_detail.html",
        {"device": device, "records": records, "changes": changes},
    )


def factory_panel_context(request, factory) -> dict | None:
    """Device counts by status and connector health for the factory page."""
    if not policy.allowed(request.user, "connectors.view_connector", factory):
        return None
    connectors = list(
        selectors.connectors_for(request.user).filter(factory=factory).order_by("name")
    )
    counts = selectors.device_status_counts(factory.pk)
    if not connectors and not counts:
        return None
    return {
        "factory": factory,
        "counts": [(value, label, counts.get(value, 0)) for value, label in DeviceStatus.choices],
        "total": sum(counts.values()),
        "connectors": connectors,
    }
