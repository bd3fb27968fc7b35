"""API routes of notify (joined into the one API root by coe/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from notify.api import views

router = SimpleRouter()
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns: list = [
    path(
        "notifications/preferences/",
        views.NotificationPreferencesView.as_view(),
        name="notification-preferences",
    ),
]
