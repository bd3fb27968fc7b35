"""CoE staff's pages to create, edit and delete factories and manage their members.

Every form validates on the server, shows field errors next to the field, and a success
message names the object. Deletion asks for confirmation first.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import ProtectedError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from coe import policy
from coe.forms import FactoryForm, MembershipForm
from coe.models import Membership


def form_page(request, form, *, title: str, submit: str, cancel_url: str, intro: str = ""):
    """The one template every page form uses."""
    return render(
        request,
        "coe/form.html",
        {"form": form, "title": title, "submit": submit, "cancel_url": cancel_url, "intro": intro},
    )


@policy.page_rule()
def factory_create(request):
    """CoE staff: a new factory."""
    form = FactoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        factory = form.save()
        messages.success(request, f"Created factory {factory.name}.")
        return redirect(factory)
    return form_page(
        request, form, title="New factory", submit="Create factory", cancel_url="/factories/"
    )


@policy.page_rule(obj=policy.visible_factory)
def factory_edit(request, slug: str, obj):
    """CoE staff: change a factory's profile."""
    form = FactoryForm(request.POST or None, instance=obj)
    if request.method == "POST" and form.is_valid():
        factory = form.save()
        messages.success(request, f"Saved factory {factory.name}.")
        return redirect(factory)
    return form_page(
        request,
        form,
        title=f"Edit {obj.name}",
        submit="Save",
        cancel_url=obj.get_absolute_url(),
    )


@policy.page_rule(obj=policy.visible_factory)
def factory_delete(request, slug: str, obj):
    """CoE staff: delete a factory after confirming (its data goes with it)."""
    if request.method == "POST":
        name = obj.name
        try:
            obj.delete()
        except ProtectedError:
            messages.error(request, f"Factory {name} is still referenced and cannot be deleted.")
            return redirect(obj)
        messages.success(request, f"Deleted factory {name}.")
        return redirect("factory-list")
    return render(
        request,
        "coe/confirm_delete.html",
        {
            "title": f"Delete factory {obj.name}?",
            "consequence": (
                "Its memberships, connectors, adoptions, assessments and uploaded data are "
                "deleted with it. This cannot be undone."
            ),
            "submit": f"Delete {obj.name}",
            "cancel_url": obj.get_absolute_url(),
        },
    )


@policy.page_rule(obj=policy.visible_factory)
def membership_add(request, slug: str, obj):
    """CoE staff: add a member or a business owner to a factory."""
    form = MembershipForm(request.POST or None, factory=obj)
    if request.method == "POST" and form.is_valid():
        membership = form.save()
        messages.success(
            request,
            f"Added {membership.user.username} to {obj.name} as "
            f"{membership.get_role_display().lower()}.",
        )
        return redirect(obj)
    return form_page(
        request,
        form,
        title=f"Add member to {obj.name}",
        submit="Add member",
        cancel_url=obj.get_absolute_url(),
    )


@require_POST
@policy.page_rule(obj=policy.visible_factory)
def membership_remove(request, slug: str, pk: int, obj):
    """CoE staff: remove one membership of a factory."""
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=pk, factory=obj)
    membership.delete()
    messages.success(request, f"Removed {membership.user.username} from {obj.name}.")
    return redirect(obj)
