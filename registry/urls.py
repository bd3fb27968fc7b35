"""Pages of the registry app."""

from django.urls import path

from registry import consolidation_views, delete_pages, duplicate_pages, staff_pages, views

urlpatterns: list = [
    path("registry/", views.tool_list, name="tool-list"),
    path("registry/capabilities/", delete_pages.capability_list, name="capability-list"),
    path(
        "registry/capabilities/<slug:slug>/delete/",
        delete_pages.capability_delete,
        name="capability-delete",
    ),
    path("registry/tools/<slug:slug>/delete/", delete_pages.tool_delete, name="tool-delete"),
    path(
        "registry/processes/<slug:slug>/delete/",
        delete_pages.process_delete,
        name="process-delete",
    ),
    path(
        "registry/processes/<slug:slug>/versions/<str:version>/edit/",
        delete_pages.process_version_edit,
        name="process-version-edit",
    ),
    path(
        "registry/processes/<slug:slug>/versions/<str:version>/delete/",
        delete_pages.process_version_delete,
        name="process-version-delete",
    ),
    path("registry/add/tool/", staff_pages.tool_create, name="tool-create"),
    path("registry/tools/<slug:slug>/edit/", staff_pages.tool_edit, name="tool-edit"),
    path("registry/add/capability/", staff_pages.capability_create, name="capability-create"),
    path(
        "registry/capabilities/<slug:slug>/edit/",
        staff_pages.capability_edit,
        name="capability-edit",
    ),
    path("registry/add/process/", staff_pages.process_create, name="process-create"),
    path("registry/processes/<slug:slug>/edit/", staff_pages.process_edit, name="process-edit"),
    path(
        "registry/processes/<slug:slug>/versions/new/",
        staff_pages.process_version_create,
        name="process-version-create",
    ),
    path("registry/tools/<slug:slug>/", views.tool_detail, name="tool-detail"),
    path("registry/tools/<slug:slug>/ring/", views.tool_set_ring, name="tool-set-ring"),
    path("registry/radar/", views.tech_radar, name="tech-radar"),
    path("registry/processes/", views.process_list, name="process-list"),
    path("registry/duplicates/", duplicate_pages.duplicates, name="duplicate-list"),
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
]
