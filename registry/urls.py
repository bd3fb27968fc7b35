"""Pages of the registry app."""

from django.urls import path

from registry import consolidation_views, request_views, views

urlpatterns: list = [
    path("registry/", views.tool_list, name="tool-list"),
    path("registry/tools/<slug:slug>/", views.tool_detail, name="tool-detail"),
    path("registry/tools/<slug:slug>/ring/", views.tool_set_ring, name="tool-set-ring"),
    path("registry/radar/", views.tech_radar, name="tech-radar"),
    path("registry/processes/", views.process_list, name="process-list"),
    path("registry/duplicates/", views.duplicates, name="duplicate-list"),
    path("registry/tools/<slug:slug>/merge/", consolidation_views.tool_merge, name="tool-merge"),
    path(
        "registry/duplicates/<int:pk>/plan/",
        consolidation_views.finding_plan,
        name="duplicate-plan",
    ),
    path(
        "registry/duplicates/<int:pk>/<str:action>/",
        views.finding_action,
        name="duplicate-action",
    ),
    path("registry/unresolved/", views.unresolved, name="registry-unresolved"),
    path("registry/import/", views.import_upload, name="registry-import"),
    path("registry/export/<str:what>.<str:fmt>", views.export, name="registry-export"),
    path("requests/", request_views.request_list, name="request-list"),
    *request_views.urlpatterns,
]
