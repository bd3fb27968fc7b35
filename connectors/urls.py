"""Pages of the connectors app."""

from django.urls import path

from connectors import views

urlpatterns = [
    path("connectors/", views.connector_list, name="connector-list"),
    path("connectors/<int:pk>/", views.connector_detail, name="connector-detail"),
    path("connectors/<int:pk>/sync/", views.connector_sync, name="connector-sync"),
    path("connectors/runs/<int:pk>/status/", views.sync_run_status, name="sync-run-status"),
    path("devices/", views.device_list, name="device-list"),
    path("devices/<int:pk>/", views.device_detail, name="device-detail"),
]

from connectors.upload_urls import urlpatterns as upload_urlpatterns  # noqa: E402

urlpatterns += upload_urlpatterns
