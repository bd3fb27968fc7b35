from django.apps import AppConfig


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
