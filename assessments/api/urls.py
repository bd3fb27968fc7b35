"""API routes of the assessments app (joined into the one API root by coe/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from assessments.api import report_views, views

router = SimpleRouter()
router.register("maturity-models", views.MaturityModelViewSet, basename="maturitymodel")
router.register("assessments", views.AssessmentViewSet, basename="assessment")

# Routes that are not viewsets (they come before the router's factory detail).
urlpatterns: list = [
    path(
        "assessments/<int:pk>/report.pdf",
        report_views.AssessmentReportPDFView.as_view(),
        name="assessment-report-pdf",
    ),
    path(
        "assessments/<int:pk>/report.xlsx",
        report_views.AssessmentReportXLSXView.as_view(),
        name="assessment-report-xlsx",
    ),
    path(
        "portfolio/scorecards.xlsx",
        report_views.PortfolioScorecardsXLSXView.as_view(),
        name="portfolio-scorecards-xlsx",
    ),
    path(
        "factories/<slug:slug>/scorecard/",
        views.FactoryScorecardView.as_view(),
        name="factory-scorecard",
    ),
]
