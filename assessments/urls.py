"""Pages of the assessments app (the portfolio sits here: it draws on every app)."""

from django.urls import path

from assessments import home, kpi_panels, views

urlpatterns = [
    path("", home.home, name="home"),
    path("portfolio/", views.portfolio, name="portfolio"),
    path("assessments/", views.assessment_list, name="assessment-list"),
    path("assessments/<int:pk>/", views.assessment_detail, name="assessment-detail"),
    path("assessments/<int:pk>/report/", views.assessment_report, name="assessment-report"),
    path("assessments/<int:pk>/correct/", views.assessment_correct, name="assessment-correct"),
    path("assessments/evidence/<int:pk>/", views.evidence_file, name="evidence-file"),
    path("factories/<slug:slug>/scorecard/", views.factory_scorecard, name="scorecard"),
    path("factories/<slug:slug>/kpis.csv", kpi_panels.kpis_csv, name="factory-kpis-csv"),
    path("factories/<slug:slug>/roi.csv", kpi_panels.roi_csv, name="factory-roi-csv"),
]
