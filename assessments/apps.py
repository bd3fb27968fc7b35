from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _load_models_after_migrate(sender, app_config=None, using="default", **kwargs) -> None:
    """Keep the stored maturity models in step with the definition files on every migrate."""
    if app_config is None or app_config.label != "assessments":
        return
    from assessments.services import maturity_models_load

    maturity_models_load(using=using)


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = "Assessments"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from assessments import models, panels

        for model in (
            models.MaturityModel,
            models.Assessment,
            models.Answer,
            models.EvidenceFile,
            models.SignalReading,
        ):
            auditlog.register(model)
        panels.register()
        post_migrate.connect(_load_models_after_migrate, sender=self)
        from django.db.models.signals import post_delete, post_save

        from assessments.maturity import cadence_changed, final_deleted
        from coe.models import Factory

        post_save.connect(cadence_changed, sender=Factory, dispatch_uid="maturity.cadence")
        post_delete.connect(final_deleted, sender=models.Assessment, dispatch_uid="maturity.del")
