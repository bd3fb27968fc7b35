"""API routes of tool requests (joined into the one API root by coe/urls.py)."""

from rest_framework.routers import SimpleRouter

from tool_requests.api import views

router = SimpleRouter()
router.register("tool-requests", views.ToolRequestViewSet, basename="tool-request")
