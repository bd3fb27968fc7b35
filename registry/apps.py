from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from coe.pages import register_factory_panel
        from registry import models
        from registry.views import factory_panel_context

        auditlog.register(models.Capability)
        auditlog.register(models.Tool, m2m_fields={"capabilities"})
        auditlog.register(models.ToolAlias)
        auditlog.register(models.ToolRingOverride)
        auditlog.register(models.RingChange)
        auditlog.register(models.Process)
        auditlog.register(models.ProcessVersion)
        auditlog.register(models.ProcessAdoption)
        auditlog.register(models.Adoption)
        auditlog.register(models.DuplicateFinding, exclude_fields=["last_detected"])
        register_factory_panel(
            "registry",
            order=20,
            template="registry/factory_panel.html",
            context=factory_panel_context,
        )

        from registry import figures

        figures.connect()

        from coe.search import register_search_kind
        from registry import search

        register_search_kind("tools", label="Tools", order=20, find=search.find_tools)
        register_search_kind("processes", label="Processes", order=30, find=search.find_processes)
