"""Pages of the KPI app: the factory page's KPI and ROI panel downloads."""

from django.urls import path

from kpis import panels

urlpatterns = [
    path("factories/<slug:slug>/kpis.csv", panels.kpis_csv, name="factory-kpis-csv"),
    path("factories/<slug:slug>/roi.csv", panels.roi_csv, name="factory-roi-csv"),
]
