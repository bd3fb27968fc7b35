"""Pages of the assessments app (the portfolio sits here: it draws on every app)."""

from django.urls import path

from assessments import views

urlpatterns = [
    path("", views.portfolio, name="portfolio"),
]
