"""API routes of the KPI app (joined into the one API root by coe/urls.py)."""

from django.urls import path

from kpis.api import kpi_views, portfolio_views

urlpatterns: list = [
    path("factories/<slug:slug>/kpis/", kpi_views.FactoryKPIView.as_view(), name="factory-kpis"),
    path("factories/<slug:slug>/roi/", kpi_views.FactoryROIView.as_view(), name="factory-roi"),
    path("factories/<slug:slug>/flow/", kpi_views.FactoryFlowView.as_view(), name="factory-flow"),
    path("portfolio/roi/", portfolio_views.PortfolioROIView.as_view(), name="portfolio-roi"),
]
