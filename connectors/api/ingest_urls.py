"""Routes of the push ingestion API (joined into ``connectors.api.urls.urlpatterns``)."""

from django.urls import path

from connectors.api.ingest_views import IngestView

urlpatterns = [
    path(
        f"ingest/{kind}/",
        IngestView.as_view(kind=kind),
        name=f"ingest-{kind}",
    )
    for kind in ("metrics", "counters", "finance", "devices")
]
