"""API routes of the registry app (joined into the one API root by coe/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from registry.api import views

router = SimpleRouter()
router.register("capabilities", views.CapabilityViewSet, basename="capability")
router.register("tools", views.ToolViewSet, basename="tool")
router.register("processes", views.ProcessViewSet, basename="process")
router.register("process-adoptions", views.ProcessAdoptionViewSet, basename="process-adoption")
router.register("adoptions", views.AdoptionViewSet, basename="adoption")
router.register("duplicates", views.DuplicateFindingViewSet, basename="duplicate")

# Routes that are not viewsets (e.g. actions on another app's objects).
urlpatterns: list = [
    path("imports/registry/", views.RegistryUploadView.as_view(), name="import-registry"),
    path("imports/adoptions/", views.AdoptionsUploadView.as_view(), name="import-adoptions"),
    path("savings/", views.SavingsView.as_view(), name="savings"),
]
