from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CoEAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the CoE site (coe.admin_site.CoEAdminSite: the policy's rules)."""

    default = False  # named in INSTALLED_APPS; CoeConfig stays this module's default
    default_site = "coe.admin_site.CoEAdminSite"


class CoeConfig(AppConfig):
    name = "coe"
    verbose_name = "CoE core"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.contrib.auth import get_user_model

        import coe.policy  # noqa: F401  (registers the permission rules)
        from coe.models import Factory, Membership

        auditlog.register(Factory)
        auditlog.register(Membership)
        auditlog.register(
            get_user_model(), exclude_fields=["password", "last_login"], m2m_fields={"groups"}
        )
