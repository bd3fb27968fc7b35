"""API routes of the connectors app (joined into the one API root by coe/urls.py)."""

from rest_framework.routers import SimpleRouter

router = SimpleRouter()

# Routes that are not viewsets (e.g. actions on another app's objects).
urlpatterns: list = []

from connectors.api.ingest_urls import urlpatterns as ingest_urlpatterns  # noqa: E402

urlpatterns += ingest_urlpatterns
