"""CoE staff's pages to create, edit and delete factories and manage their members.

Every form validates on the server, shows field errors next to the field, and a success
message names the object. Deletion asks for confirmation first.
"""

from __future__ import annotations

from collections.abc import Callable

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


def save_page(
    request,
    form,
    *,
    said: Callable[[object], str],
    done: Callable[[object], object] | str | None = None,
    title: str,
    submit: str,
    cancel_url: str,
    intro: str = "",
):
    """A create or edit page: a valid POST saves the form, says ``said(obj)`` and
    redirects to ``done`` (a URL name, a callable of the saved object, or the object's own
    page when None); otherwise the form, with its errors, on the one form template."""
    if request.method == "POST" and form.is_valid():
        obj = form.save()
        messages.success(request, said(obj))
        if done is None:
            return redirect(obj)
        return redirect(done(obj) if callable(done) else done)
    return form_page(request, form, title=title, submit=submit, cancel_url=cancel_url, intro=intro)


def delete_page(
    request,
    obj,
    *,
    what: str,
    consequence: str,
    back: str,
    done: str,
    blocker: str = "",
    title: str = "",
    submit: str = "",
):
    """The confirmation page (GET) or the deletion (POST) of ``obj``, refused while
    ``blocker`` says what still depends on it (409 to a POST that tries anyway) or when the
    database protects it."""
    if request.method == "POST" and not blocker:
        try:
            obj.delete()
        except ProtectedError:
            blocker = "it is still referenced."
        else:
            messages.success(request, f"Deleted {what}.")
            return redirect(done)
    if request.method == "POST":
        messages.error(request, f"{what[0].upper()}{what[1:]} cannot be deleted: {blocker}")
    return render(
        request,
        "coe/confirm_delete.html",
        {
            "title": title or f"Delete {what}?",
            "consequence": consequence,
            "blocker": blocker,
            "submit": submit or f"Delete {what}",
            "cancel_url": back,
        },
        status=409 if blocker and request.method == "POST" else 200,
    )


@policy.page_rule()
def factory_create(request):
    """CoE staff: a new factory."""
    return save_page(
        request,
        FactoryForm(request.POST or None),
        said=lambda factory: f"Created factory {factory.name}.",
        title="New factory",
        submit="Create factory",
        cancel_url="/factories/",
    )


@policy.page_rule(obj=policy.visible_factory)
def factory_edit(request, slug: str, obj):
    """CoE staff: change a factory's profile."""
    return save_page(
        request,
        FactoryForm(request.POST or None, instance=obj),
        said=lambda factory: f"Saved factory {factory.name}.",
        title=f"Edit {obj.name}",
        submit="Save",
        cancel_url=obj.get_absolute_url(),
    )


@policy.page_rule(obj=policy.visible_factory)
def factory_delete(request, slug: str, obj):
    """CoE staff: delete a factory after confirming (its data goes with it)."""
    return delete_page(
        request,
        obj,
        what=f"factory {obj.name}",
        submit=f"Delete {obj.name}",
        consequence=(
            "Its memberships, connectors, adoptions, assessments and uploaded data are "
            "deleted with it. This cannot be undone."
        ),
        back=obj.get_absolute_url(),
        done="factory-list",
    )


@policy.page_rule(obj=policy.visible_factory)
def membership_add(request, slug: str, obj):
    """CoE staff: add a member or a business owner to a factory."""
    return save_page(
        request,
        MembershipForm(request.POST or None, factory=obj),
        said=lambda membership: (
            f"Added {membership.user.username} to {obj.name} as "
            f"{membership.get_role_display().lower()}."
        ),
        done=lambda _membership: obj,
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
