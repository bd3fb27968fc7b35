"""Pages: connectors with their runs, device inventory, device detail; the factory panel."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from coe.scoping import can_see_factory, is_coe_staff, visible_factories
from connectors import selectors
from connectors.choices import DeviceStatus, SyncTrigger
from connectors.filtersets import ConnectorFilterSet, DeviceFilterSet
from connectors.models import DeviceChange
from connectors.mqtt_host.selectors import host_summary
from connectors.services import sync_run_start


@login_required
def connector_list(request):
    """Visible connectors with their last run's status."""
    filterset = ConnectorFilterSet(request.GET, queryset=selectors.connectors_for(request.user))
    page = Paginator(filterset.qs.order_by("factory__name", "name"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "connectors/connector_list.html",
        {"page": page, "filterset": filterset, "can_sync": is_coe_staff(request.user)},
    )


@login_required
def connector_detail(request, pk: int):
    """One connector: settings (never credentials) and its run history with errors."""
    connector = get_object_or_404(selectors.connectors_for(request.user), pk=pk)
    runs = Paginator(connector.runs.all(), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "connectors/connector_detail.html",
        {
            "connector": connector,
            "page": runs,
            "can_sync": is_coe_staff(request.user),
            "host": host_summary(getattr(connector, "host_state", None)),
        },
    )


@login_required
@require_POST
def connector_sync(request, pk: int):
    """CoE staff queue a sync from the connector page."""
    connector = get_object_or_404(selectors.connectors_for(request.user), pk=pk)
    if not is_coe_staff(request.user):
        raise PermissionDenied
    run = sync_run_start(connector=connector, trigger=SyncTrigger.USER, user=request.user)
    messages.success(request, f"Sync #{run.pk} is {run.status}.")
    return redirect(connector)


@login_required
def device_list(request):
    """The device inventory, per factory, with filters."""
    filterset = DeviceFilterSet(request.GET, queryset=selectors.devices_for(request.user))
    page = Paginator(filterset.qs.order_by("factory__name", "name", "id"), 50).get_page(
        request.GET.get("page")
    )
    kinds = selectors.device_source_kinds([d.pk for d in page])
    for device in page:
        device.source_kinds = kinds.get(device.pk, [])
    return render(
        request,
        "connectors/device_list.html",
        {
            "page": page,
            "filterset": filterset,
            "factories": visible_factories(request.user).order_by("name"),
            "statuses": DeviceStatus.choices,
        },
    )


@login_required
def device_detail(request, pk: int):
    """One device: reconciled fields, what each source said, and its change history."""
    device = get_object_or_404(selectors.devices_for(request.user), pk=pk)
    records = device.source_records.select_related("connector").order_by("source_kind")
    changes = DeviceChange.objects.filter(device=device).select_related("run")[:200]
    return render(
        request,
        "connectors/device_detail.html",
        {"device": device, "records": records, "changes": changes},
    )


def factory_panel_context(request, factory) -> dict | None:
    """Device counts by status and connector health for the factory page."""
    if not can_see_factory(request.user, factory):
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
