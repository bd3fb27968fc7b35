"""What touches the rollups when rows are saved one by one (the admin, services, forms).

Bulk writers (imports, syncs, the demo) call ``coe.derived.touch`` themselves: they bypass
model signals. Duplicate detection moves the finding figures by difference in its own
transaction (``coe.derived.shift_findings``, applied by :func:`_findings_shifted`). No
delete receiver is connected to the large fact tables (OT counters, deployments, work
items) so that their deletes stay fast; their admin touches the factory on delete
instead, and a deleted factory takes its rollups with it.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from coe import derived
from coe.models import Factory
from connectors.facts import CurrencyRate, Deployment, FinanceEntry, OTCounter, WorkItem
from registry.models import Adoption, DuplicateFinding, Tool

FIGURES_ONLY: tuple = ()


def _factory_going(origin) -> bool:
    """The delete cascades from a factory's (its rollups go with it: nothing to refresh)."""
    if isinstance(origin, Factory):
        return True
    return isinstance(origin, QuerySet) and origin.model is Factory


def _fact_saved(sender, instance, created=False, **kwargs) -> None:
    if not created:  # its month may have moved: refresh the factory's months in full
        derived.touch([instance.factory_id])
        return
    from kpis.rollups import months_touched_by_deployment

    if sender is OTCounter:
        months = {instance.period_start}
    elif sender is Deployment:
        months = months_touched_by_deployment(instance.finished_at)
    elif sender is WorkItem:
        months = {instance.created}
    else:
        months = {instance.date}
    derived.touch([instance.factory_id], months)


def _finance_deleted(sender, instance, origin=None, **kwargs) -> None:
    if not _factory_going(origin):
        derived.touch([instance.factory_id], [instance.date])


def _adoption_changed(sender, instance, origin=None, **kwargs) -> None:
    if not _factory_going(origin):
        derived.touch([instance.factory_id], FIGURES_ONLY)


def _finding_factories(finding) -> set[int]:
    ids = set(finding.factories.values_list("pk", flat=True)) if finding.pk else set()
    if finding.scope_id:
        ids.add(finding.scope_id)
    return ids


def _finding_saved(sender, instance, **kwargs) -> None:
    derived.touch(_finding_factories(instance), FIGURES_ONLY)


def _finding_deleting(sender, instance, origin=None, **kwargs) -> None:
    instance._kpi_factories = set() if _factory_going(origin) else _finding_factories(instance)


def _finding_deleted(sender, instance, **kwargs) -> None:
    derived.touch(getattr(instance, "_kpi_factories", ()), FIGURES_ONLY)


def _finding_relinked(sender, instance, action, pk_set=None, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "pre_clear", "post_clear"):
        return
    if isinstance(instance, DuplicateFinding):
        if action == "pre_clear":
            instance._kpi_factories = _finding_factories(instance)
            return
        ids = set(pk_set or ()) | getattr(instance, "_kpi_factories", set())
        derived.touch(ids | _finding_factories(instance), FIGURES_ONLY)
    elif action != "pre_clear":  # a factory's findings changed from the factory's side
        derived.touch([instance.pk], FIGURES_ONLY)


def _tool_saved(sender, instance, created=False, **kwargs) -> None:
    if not created:  # its cost per seat prices the adoptions that declare seats only
        ids = Adoption.objects.filter(tool=instance).values_list("factory_id", flat=True)
        derived.touch(set(ids), FIGURES_ONLY)


def _rate_changed(sender, instance, origin=None, **kwargs) -> None:
    ids = Factory.objects.filter(currency=instance.to_currency).values_list("pk", flat=True)
    derived.touch(list(ids), FIGURES_ONLY)


def _factory_saved(sender, instance, **kwargs) -> None:
    derived.touch([instance.pk], FIGURES_ONLY)


def _findings_shifted(sender=None, shifts=None, moved=None, **kwargs) -> None:
    """A detection run's changes to finding figures, applied in its transaction; a factory
    with no figures yet gets them built."""
    from kpis.finding_figures import shift_finding_figures

    missing = shift_finding_figures(shifts or {}, moved or {})
    if missing:
        derived.touch(missing, FIGURES_ONLY)


def connect() -> None:
    from kpis.refresh import enqueue

    derived.refresh_due.connect(enqueue, dispatch_uid="kpis.refresh")
    derived.findings_shifted.connect(_findings_shifted, dispatch_uid="kpis.findings_shifted")
    for model in (OTCounter, Deployment, WorkItem, FinanceEntry):
        post_save.connect(_fact_saved, sender=model, dispatch_uid=f"kpis.saved.{model.__name__}")
    post_delete.connect(_finance_deleted, sender=FinanceEntry, dispatch_uid="kpis.finance_del")
    post_save.connect(_adoption_changed, sender=Adoption, dispatch_uid="kpis.adoption")
    post_delete.connect(_adoption_changed, sender=Adoption, dispatch_uid="kpis.adoption_del")
    post_save.connect(_finding_saved, sender=DuplicateFinding, dispatch_uid="kpis.finding")
    pre_delete.connect(_finding_deleting, sender=DuplicateFinding, dispatch_uid="kpis.finding_pre")
    post_delete.connect(_finding_deleted, sender=DuplicateFinding, dispatch_uid="kpis.finding_del")
    m2m_changed.connect(
        _finding_relinked, sender=DuplicateFinding.factories.through, dispatch_uid="kpis.links"
    )
    post_save.connect(_tool_saved, sender=Tool, dispatch_uid="kpis.tool")
    post_save.connect(_rate_changed, sender=CurrencyRate, dispatch_uid="kpis.rate")
    post_delete.connect(_rate_changed, sender=CurrencyRate, dispatch_uid="kpis.rate_del")
    post_save.connect(_factory_saved, sender=Factory, dispatch_uid="kpis.factory")
