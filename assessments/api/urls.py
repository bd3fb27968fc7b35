"""API routes of the assessments app (joined into the one API root by coe/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from assessments.api import kpi_views

router = SimpleRouter()

# Routes that are not viewsets (e.g. actions on another app's objects).
urlpatterns: list = [
    path("factories/<slug:slug>/kpis/", kpi_views.FactoryKPIView.as_view(), name="factory-kpis"),
    path("factories/<slug:slug>/roi/", kpi_views.FactoryROIView.as_view(), name="factory-roi"),
    path("factories/<slug:slug>/flow/", kpi_views.FactoryFlowView.as_view(), name="factory-flow"),
]
