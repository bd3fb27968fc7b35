"""Pages of the assessments app (the portfolio sits here: it draws on every app)."""

from django.urls import path

from assessments import home, views

urlpatterns = [
    path("", home.home, name="home"),
    path("portfolio/", views.portfolio, name="portfolio"),
    path("assessments/", views.assessment_list, name="assessment-list"),
    path("assessments/<int:pk>/", views.assessment_detail, name="assessment-detail"),
    path("assessments/<int:pk>/report/", views.assessment_report, name="assessment-report"),
    path("assessments/<int:pk>/correct/", views.assessment_correct, name="assessment-correct"),
    path("assessments/evidence/<int:pk>/", views.evidence_file, name="evidence-file"),
    path("factories/<slug:slug>/scorecard/", views.factory_scorecard, name="scorecard"),
]
