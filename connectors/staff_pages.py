"""CoE staff's connector pages: new connector (kind first, then that kind's settings form),
edit, delete (with confirmation)."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render

from coe import policy
from coe.staff_pages import form_page
from connectors import selectors
from connectors.choices import ConnectorKind
from connectors.forms import ConnectorForm, kind_label


def _visible_connector(request, pk: int, **_kwargs):
    return get_object_or_404(selectors.connectors_for(request.user), pk=pk)


def _save(request, form):
    try:
        with transaction.atomic():
            return form.save()
    except IntegrityError:
        form.add_error("name", "This factory already has a connector of that name.")
        return None


# What a kind switch carries over to the new kind's form (never the credentials).
_CARRIED = ("factory", "name", "schedule", "enabled", "advanced")


@policy.page_rule()
def connector_create(request):
    """A new connector: its kind first (the "Kind" select), then that kind's fields."""
    source = request.POST if request.method == "POST" else request.GET
    kind = source.get("kind", "")
    kind = kind if kind in ConnectorKind.values else ""
    form = ConnectorForm(request.POST or None, user=request.user, kind=kind)
    if request.method == "POST" and form.kind_switched():
        initial = {
            key: value
            for key, value in request.POST.items()
            if key in _CARRIED or key.startswith("setting_")
        }
        form = ConnectorForm(user=request.user, kind=kind, initial=initial)
    elif request.method == "POST" and form.is_valid():
        connector = _save(request, form)
        if connector is not None:
            messages.success(
                request, f"Created connector {connector.name} for {connector.factory.name}."
            )
            return redirect(connector)
    elif request.method == "GET":
        initial = {key: request.GET[key] for key in ("factory", "name") if key in request.GET}
        form = ConnectorForm(user=request.user, kind=kind, initial=initial)
    title = f"New {kind_label(kind)} connector" if kind else "New connector"
    intro = (
        f"Fill in the {kind_label(kind)} settings. Credentials are stored encrypted and "
        "never shown again."
        if kind
        else "Choose the kind of source first: its settings follow."
    )
    return form_page(
        request,
        form,
        title=title,
        submit="Create connector",
        cancel_url="/connectors/",
        intro=intro,
    )


@policy.page_rule(obj=_visible_connector)
def connector_edit(request, pk: int, obj):
    form = ConnectorForm(request.POST or None, user=request.user, kind=obj.kind, instance=obj)
    if request.method == "POST" and form.is_valid():
        connector = _save(request, form)
        if connector is not None:
            messages.success(request, f"Saved connector {connector.name}.")
            return redirect(connector)
    return form_page(
        request,
        form,
        title=f"Edit {obj.name} ({kind_label(obj.kind)})",
        submit="Save",
        cancel_url=obj.get_absolute_url(),
        intro=(
            "Stored credentials are never shown"
            + (" (some are stored)." if obj.credentials_encrypted else " (none stored).")
        ),
    )


@policy.page_rule(obj=_visible_connector)
def connector_delete(request, pk: int, obj):
    if request.method == "POST":
        name, factory = obj.name, obj.factory
        obj.delete()
        messages.success(request, f"Deleted connector {name} of {factory.name}.")
        return redirect("connector-list")
    return render(
        request,
        "coe/confirm_delete.html",
        {
            "title": f"Delete connector {obj.name}?",
            "consequence": (
                "Its run history and what it recorded per device go with it; the devices "
                "and metric samples stay. This cannot be undone."
            ),
            "submit": f"Delete {obj.name}",
            "cancel_url": obj.get_absolute_url(),
        },
    )
