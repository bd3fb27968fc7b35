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
        from auditlog.models import LogEntry
        from auditlog.registry import auditlog
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_save

        import coe.policy  # noqa: F401  (registers the permission rules)
        from coe import lookups, signin
        from coe.api.dates import install
        from coe.changelog import stamp_log_entry
        from coe.models import Factory, Membership

        # Model dates in every API serializer refuse years outside 1900–2100.
        install()
        lookups.register()  # field__any: long id lists as one array parameter
        # Every change-log entry gets the actor, address and origin of its context.
        pre_save.connect(stamp_log_entry, sender=LogEntry, dispatch_uid="coe.changelog.stamp")
        signin.connect_signals()

        auditlog.register(Factory)
        auditlog.register(Membership)
        auditlog.register(
            get_user_model(), exclude_fields=["password", "last_login"], m2m_fields={"groups"}
        )
