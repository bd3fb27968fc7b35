"""The sync runs list: every visible connector's runs, filterable, sortable, exportable."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render

from coe import listing, policy
from coe.scoping import visible_factories
from connectors import selectors
from connectors.choices import SyncStatus, SyncTrigger
from connectors.filtersets import SyncRunFilterSet

RUN_SORTS = {
    "id": "id",
    "connector": ("connector__name", "-id"),
    "factory": ("connector__factory__name", "-id"),
    "status": ("status", "-id"),
    "trigger": ("trigger", "-id"),
    "queued": "queued_at",
    "finished": "finished_at",
}
RUN_COLUMNS = [
    ("Run", "id"),
    ("Connector", "connector"),
    ("Factory", "factory"),
    ("Status", "status"),
    ("Trigger", "trigger"),
    ("Queued", "queued"),
    ("Finished", "finished"),
    ("Message", None),
]


@policy.page_rule()
def sync_run_list(request):
    filterset = SyncRunFilterSet(
        request.GET, queryset=selectors.sync_runs_for(request.user), request=request
    )
    rows, current = listing.apply_sort(request, filterset.qs, RUN_SORTS, default=("-id",))
    if listing.wants_export(request):
        return listing.export_csv(
            "sync-runs.csv",
            [
                "id",
                "connector",
                "factory",
                "status",
                "trigger",
                "queued_at",
                "finished_at",
                "message",
            ],
            rows,
            lambda r: [
                r.pk,
                r.connector.name,
                r.connector.factory.slug,
                r.status,
                r.trigger,
                r.queued_at,
                r.finished_at,
                r.message,
            ],
        )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "connectors/sync_run_list.html",
        {
            "page": page,
            "filterset": filterset,
            "factories": visible_factories(request.user).order_by("name"),
            "statuses": SyncStatus.choices,
            "triggers": SyncTrigger.choices,
            "headers": listing.sort_headers(request, RUN_COLUMNS, current),
            "export_url": listing.export_url(request),
        },
    )
