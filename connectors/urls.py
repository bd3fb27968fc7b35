"""Pages of the connectors app."""

from django.urls import path

from connectors import rate_pages, run_pages, staff_pages, views

urlpatterns = [
    path("currency-rates/", rate_pages.rate_list, name="currency-rate-list"),
    path("currency-rates/new/", rate_pages.rate_create, name="currency-rate-create"),
    path("currency-rates/<int:pk>/edit/", rate_pages.rate_edit, name="currency-rate-edit"),
    path("currency-rates/<int:pk>/delete/", rate_pages.rate_delete, name="currency-rate-delete"),
    path("connectors/", views.connector_list, name="connector-list"),
    path("connectors/runs/", run_pages.sync_run_list, name="sync-run-list"),
    path("connectors/new/", staff_pages.connector_create, name="connector-create"),
    path("connectors/<int:pk>/", views.connector_detail, name="connector-detail"),
    path("connectors/<int:pk>/edit/", staff_pages.connector_edit, name="connector-edit"),
    path("connectors/<int:pk>/delete/", staff_pages.connector_delete, name="connector-delete"),
    path("connectors/<int:pk>/sync/", views.connector_sync, name="connector-sync"),
    path("connectors/runs/<int:pk>/status/", views.sync_run_status, name="sync-run-status"),
    path("devices/", views.device_list, name="device-list"),
    path("devices/<int:pk>/", views.device_detail, name="device-detail"),
]

from connectors.upload_urls import urlpatterns as upload_urlpatterns  # noqa: E402

urlpatterns += upload_urlpatterns
