"""API routes of the connectors app (joined into the one API root by coe/urls.py)."""

from rest_framework.routers import SimpleRouter

from connectors.api import views

router = SimpleRouter()
router.register("connectors", views.ConnectorViewSet, basename="connector")
router.register("sync-runs", views.SyncRunViewSet, basename="sync-run")
router.register("devices", views.DeviceViewSet, basename="device")
router.register("metrics", views.MetricSampleViewSet, basename="metric")

# Routes that are not viewsets (e.g. actions on another app's objects).
urlpatterns: list = []

from connectors.api.ingest_urls import urlpatterns as ingest_urlpatterns  # noqa: E402

urlpatterns += ingest_urlpatterns
