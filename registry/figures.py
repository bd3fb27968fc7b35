"""The registry list's per-tool figures for the whole portfolio, stored on the tool: how
many active adoptions use it and their annual spend (each adoption's effective annual
cost, as the tool page adds it up). The list reads them instead of counting and summing
every adoption per request.

One UPDATE refreshes them (:func:`refresh_tool_figures`). Saving or deleting an adoption
or a tool refreshes its tool (signals, connected in ``RegistryConfig.ready``); the bulk
writes — imports, licence reconciliation, mapping a name, merging tools — refresh the
tools they touched; the nightly detection refreshes every tool.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Count, DecimalField, F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from registry.choices import AdoptionStatus
from registry.models import Adoption, Tool

MONEY = DecimalField(max_digits=16, decimal_places=2)


def refresh_tool_figures(tool_ids: Iterable[int | None] | None = None) -> None:
    """Recompute the stored figures of ``tool_ids`` (every tool when None)."""
    tools = Tool.objects.all()
    if tool_ids is not None:
        ids = {pk for pk in tool_ids if pk is not None}
        if not ids:
            return
        tools = tools.filter(pk__in=ids)
    active = (
        Adoption.objects.filter(tool=OuterRef("pk"), status=AdoptionStatus.ACTIVE)
        .order_by()
        .values("tool")
    )
    cost = Coalesce(
        "annual_cost",
        F("seats") * F("tool__annual_cost_per_seat"),
        Value(Decimal("0")),
        output_field=MONEY,
    )
    tools.update(
        adopter_count=Coalesce(
            Subquery(active.annotate(n=Count("pk")).values("n"), output_field=IntegerField()),
            0,
        ),
        annual_spend=Coalesce(
            Subquery(active.annotate(total=Sum(cost)).values("total"), output_field=MONEY),
            Value(Decimal("0")),
            output_field=MONEY,
        ),
    )


def _adoption_before(sender, instance: Adoption, **kwargs) -> None:
    """Remember the tool a saved adoption used (it may move to another)."""
    instance._tool_before = (
        Adoption.objects.filter(pk=instance.pk).values_list("tool_id", flat=True).first()
        if instance.pk
        else None
    )


def _adoption_changed(sender, instance: Adoption, **kwargs) -> None:
    refresh_tool_figures([instance.tool_id, getattr(instance, "_tool_before", None)])


def _tool_saved(sender, instance: Tool, **kwargs) -> None:
    refresh_tool_figures([instance.pk])  # its cost per seat counts in the spend


def connect() -> None:
    from django.db.models.signals import post_delete, post_save, pre_save

    pre_save.connect(_adoption_before, sender=Adoption, dispatch_uid="figures-adoption-before")
    post_save.connect(_adoption_changed, sender=Adoption, dispatch_uid="figures-adoption-saved")
    post_delete.connect(_adoption_changed, sender=Adoption, dispatch_uid="figures-adoption-gone")
    post_save.connect(_tool_saved, sender=Tool, dispatch_uid="figures-tool-saved")
