from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from coe.pages import register_factory_panel
        from connectors import crypto, views
        from connectors.models import Connector, SyncRun

        crypto.register_checks()
        # Configuration is audited; the high-volume facts keep their own DeviceChange history.
        auditlog.register(Connector, exclude_fields=["credentials_encrypted", "cursor"])
        auditlog.register(SyncRun, include_fields=["status", "connector", "trigger"])
        from coe.search import register_search_kind
        from connectors.search import find_devices

        register_search_kind("devices", label="Devices", order=40, find=find_devices)
        register_factory_panel(
            "devices",
            order=40,
            template="connectors/factory_panel.html",
            context=views.factory_panel_context,
        )
