from django.apps import AppConfig


class ToolRequestsConfig(AppConfig):
    """Tool requests: a factory asks for a tool; checks and a two-step approval decide."""

    name = "tool_requests"
    verbose_name = "Tool requests"

    def ready(self) -> None:
        from coe.pages import register_factory_panel
        from tool_requests.views import request_panel_context

        register_factory_panel(
            "tool_requests",
            order=30,
            template="tool_requests/factory_panel.html",
            context=request_panel_context,
        )
