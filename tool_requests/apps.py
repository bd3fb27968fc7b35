from django.apps import AppConfig


class ToolRequestsConfig(AppConfig):
    """Tool requests: a factory asks for a tool; checks and a two-step approval decide."""

    name = "tool_requests"
    verbose_name = "Tool requests"

    def ready(self) -> None:
        from coe.pages import register_factory_panel, register_nav_count
        from coe.search import register_search_kind
        from tool_requests import search
        from tool_requests.views import request_panel_context, waiting_count

        register_factory_panel(
            "tool_requests",
            order=30,
            template="tool_requests/factory_panel.html",
            context=request_panel_context,
        )
        # The navigation shows how many requests wait for the user; search finds requests.
        register_nav_count("request-list", waiting_count)
        register_search_kind("requests", label="Tool requests", order=50, find=search.find_requests)
