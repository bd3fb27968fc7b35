"""Pages of notify."""

from django.urls import path

from notify import views

urlpatterns: list = [
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/read/", views.notifications_mark_read, name="notification-mark-read"),
]
