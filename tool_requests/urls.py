"""Pages of tool requests."""

from django.urls import path

from tool_requests import views

urlpatterns: list = [
    path("requests/", views.request_list, name="request-list"),
    path("requests/new/", views.request_create, name="request-create"),
    path("requests/<int:pk>/", views.request_detail, name="request-detail"),
    path("requests/<int:pk>/comment/", views.request_comment, name="request-comment"),
    path("requests/<int:pk>/<str:action>/", views.request_action, name="request-action"),
]
