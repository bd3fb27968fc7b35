"""Pages of the assessments app (the portfolio sits here: it draws on every app)."""

from django.urls import path

from assessments import kpi_panels, views

urlpatterns = [
    path("", views.portfolio, name="portfolio"),
    path("factories/<slug:slug>/kpis.csv", kpi_panels.kpis_csv, name="factory-kpis-csv"),
    path("factories/<slug:slug>/roi.csv", kpi_panels.roi_csv, name="factory-roi-csv"),
]
