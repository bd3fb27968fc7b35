"""The project's URLs: pages, the admin and the API under /api/.

This is the only module of ``coe`` that imports the apps: each app contributes its API
router (joined into one API root) and its pages.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from rest_framework.routers import DefaultRouter

import assessments.api.urls
import assessments.urls
import connectors.api.urls
import connectors.urls
import kpis.api.urls
import kpis.urls
import notify.api.urls
import notify.urls
import registry.api.urls
import registry.urls
import tool_requests.api.urls
import tool_requests.urls
from coe import search as core_search
from coe import staff_pages, user_pages
from coe import views as core_pages
from coe.api.auth import AuthTokenView, DocsView, LockoutViewSet, SchemaView
from coe.api.errors import api_not_found
from coe.api.urls import router as core_router
from coe.sso import SignInView

api_router = DefaultRouter()
for app_router in (
    core_router,
    registry.api.urls.router,
    tool_requests.api.urls.router,
    connectors.api.urls.router,
    assessments.api.urls.router,
    notify.api.urls.router,
):
    api_router.registry.extend(app_router.registry)

api_patterns = [
    path("auth/token/", AuthTokenView.as_view(), name="auth-token"),
    path("auth/lockouts/", LockoutViewSet.as_view({"get": "list"}), name="lockout-list"),
    path(
        "auth/lockouts/<int:pk>/",
        LockoutViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="lockout-detail",
    ),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
    *registry.api.urls.urlpatterns,
    *connectors.api.urls.urlpatterns,
    *kpis.api.urls.urlpatterns,
    *assessments.api.urls.urlpatterns,
    *notify.api.urls.urlpatterns,
    *api_router.urls,
    path("<path:unknown>", api_not_found),
]

urlpatterns = [
    path("factories/", core_pages.factory_list, name="factory-list"),
    path("factories/new/", staff_pages.factory_create, name="factory-create"),
    path("factories/<slug:slug>/", core_pages.factory_detail, name="factory-detail"),
    path("search/", core_search.search, name="search"),
    path("factories/<slug:slug>/edit/", staff_pages.factory_edit, name="factory-edit"),
    path("factories/<slug:slug>/delete/", staff_pages.factory_delete, name="factory-delete"),
    path("factories/<slug:slug>/members/add/", staff_pages.membership_add, name="membership-add"),
    path(
        "factories/<slug:slug>/members/<int:pk>/remove/",
        staff_pages.membership_remove,
        name="membership-remove",
    ),
    path("users/", user_pages.user_list, name="user-list"),
    path("users/invite/", user_pages.user_invite, name="user-invite"),
    path("users/<int:pk>/invite-again/", user_pages.user_reinvite, name="user-reinvite"),
    path(
        "welcome/<uidb64>/<token>/",
        user_pages.InviteAcceptView.as_view(),
        name="invite-accept",
    ),
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Single sign-on: /oidc/authenticate/ starts it, /oidc/callback/ is the redirect URI.
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("health/", core_pages.health, name="health"),
    path("lockouts/", core_pages.lockout_list, name="lockout-list"),
    path("lockouts/<int:pk>/unlock/", core_pages.lockout_unlock, name="lockout-unlock"),
    path("", include(assessments.urls)),
    path("", include(registry.urls)),
    path("", include(tool_requests.urls)),
    path("", include(connectors.urls)),
    path("", include(kpis.urls)),
    path("", include(notify.urls)),
    path("admin/", admin.site.urls),
    path("api/", include((api_patterns, "api"))),
]

handler403 = "coe.error_pages.permission_denied"
handler404 = "coe.error_pages.page_not_found"
handler500 = "coe.error_pages.server_error"
