"""Who may do what: every permission decision of the service, as named ``rules``.

One rule per action, ``<app>.<verb>_<thing>`` (``registry.change_tool``,
``tool_requests.approve_owner_step``), composed from a few predicates over
``coe.scoping`` (which stays the one place that knows memberships and staff):

- ``is_coe_staff``: members of the ``coe_staff`` group and superusers;
- ``is_member_of``: any role in the object's factory;
- ``is_owner_of``: business owner of the object's factory.

A rule is checked with ``allowed(user, name, obj)`` (below), ``user.has_perm(name, obj)``
(the ``rules`` authentication backend; Django says yes to superusers before asking it), or
``{% has_perm name user obj as var %}`` in templates.
``obj`` is the object acted on, or the factory an object is being created in, or ``None``
for a check that comes before any object (may this user create one *somewhere*?): then
``is_member_of`` / ``is_owner_of`` ask whether the user holds that role in *any* factory.

The API (``coe.api.permissions.PolicyPermission``), the pages (``page_rule`` below), the
admin and the templates all ask these rules; which rule guards which route is the table
in ``coe/policy_matrix.py``. Reads are also scoped by ``coe.scoping`` in every queryset,
so an object outside the user's factories is a 404 before any rule is asked.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import rules
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.shortcuts import get_object_or_404

from coe import scoping
from coe.choices import Role
from coe.models import Factory, Membership
from coe.policy_matrix import PAGES, rule_for, who_may

# Attributes through which an object reaches the factory it belongs to.
_PARENTS = ("connector", "assessment", "answer")


def factory_ids_of(obj) -> set[int]:
    """The ids of the factories ``obj`` belongs to (empty when it belongs to none).

    ``obj`` may be a ``Factory``, a factory id, a model with a ``factory`` (adoptions,
    memberships, assessments, requests…), a duplicate finding (its scope and the
    factories it involves), or a model reaching one through a connector (runs), an
    assessment or an answer (evidence files).
    """
    if obj is None:
        return set()
    if isinstance(obj, Factory):
        return {obj.pk}
    if isinstance(obj, int):
        return {obj}
    if hasattr(obj, "factory_id"):
        return {obj.factory_id}
    if hasattr(obj, "scope_id") and hasattr(obj, "factories"):
        ids = {f.pk for f in obj.factories.all()}
        return ids | {obj.scope_id} if obj.scope_id else ids
    for parent in _PARENTS:
        value = getattr(obj, parent, None)
        if isinstance(value, Model):
            return factory_ids_of(value)
    return set()


# --- predicates ---------------------------------------------------------------------------


@rules.predicate
def is_signed_in(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


@rules.predicate
def is_coe_staff(user) -> bool:
    return scoping.is_coe_staff(user)


@rules.predicate
def is_member_of(user, obj) -> bool:
    """Any role in the object's factory; with no object, in any factory."""
    if obj is None:
        return bool(scoping.factory_ids(user))
    return bool(factory_ids_of(obj) & scoping.factory_ids(user))


@rules.predicate
def is_owner_of(user, obj) -> bool:
    """Business owner of the object's factory; with no object, of any factory."""
    if obj is None:
        return bool(scoping.owned_factory_ids(user))
    return bool(factory_ids_of(obj) & scoping.owned_factory_ids(user))


@rules.predicate
def no_object(user, obj) -> bool:
    """Asked before any object (a list): what the list holds is decided by the scoping."""
    return obj is None


@rules.predicate
def is_self(user, obj) -> bool:
    """The object is the user (their own account)."""
    return obj is None or getattr(obj, "pk", None) == user.pk


@rules.predicate
def is_requester(user, obj) -> bool:
    """The user raised the request (with no object: anyone may be a requester)."""
    return obj is None or obj.requester_id == user.pk


@rules.predicate
def is_owner_approver(user, obj) -> bool:
    """The user took the request's owner step."""
    return obj is not None and obj.owner_approver_id == user.pk


@rules.predicate
def is_draft(user, obj) -> bool:
    return obj is None or obj.status == "draft"


@rules.predicate
def has_no_other_owner(user, obj) -> bool:
    """The request's factory has no business owner other than its requester, so nobody
    but CoE staff could take the owner step (a factory without owners, or a request
    raised by the factory's only owner)."""
    if obj is None:
        return True
    return not (
        Membership.objects.filter(factory_id=obj.factory_id, role=Role.BUSINESS_OWNER)
        .exclude(user_id=obj.requester_id)
        .exists()
    )


signed_in = is_signed_in
staff = is_signed_in & is_coe_staff
member = is_signed_in & (is_coe_staff | is_member_of)
owner = is_signed_in & (is_coe_staff | is_owner_of)
# Reading: any list (its rows are scoped), and an object of one's own factories.
viewer = is_signed_in & (is_coe_staff | no_object | is_member_of)


# --- rules, per app and action -----------------------------------------------------------

RULES: dict[str, rules.Predicate] = {
    # core: factories, memberships, users, the change log
    "coe.view_factory": viewer,
    "coe.add_factory": staff,
    "coe.change_factory": staff,
    "coe.delete_factory": staff,
    "coe.view_membership": viewer,
    "coe.manage_membership": staff,
    "coe.view_user": is_signed_in & (is_coe_staff | is_self),
    # The landing page's cockpit (the whole portfolio at a glance): CoE staff.
    "coe.view_cockpit": staff,
    "coe.manage_user": staff,
    "coe.view_audit_log": staff,
    "coe.view_api_root": signed_in,
    "coe.use_admin": staff,
    "coe.view_actor_address": staff,
    "coe.view_health_details": staff,
    "coe.unlock_sign_in": staff,
    # registry: the shared catalogue is read by everyone signed in, curated by CoE staff
    "registry.view_capability": signed_in,
    "registry.change_capability": staff,
    "registry.delete_capability": staff,
    "registry.view_tool": signed_in,
    "registry.change_tool": staff,
    "registry.delete_tool": staff,
    "registry.merge_tool": staff,
    "registry.view_process": signed_in,
    "registry.change_process": staff,
    "registry.delete_process": staff,
    "registry.view_processadoption": viewer,
    "registry.change_processadoption": staff,
    # adoptions: a factory's business owners keep their own factory's list
    "registry.view_adoption": viewer,
    "registry.add_adoption": owner,
    "registry.change_adoption": owner,
    "registry.map_name": staff,
    "registry.import_registry": staff,
    "registry.import_adoptions": owner,
    # duplicate findings: seen by the factories involved, acted on by CoE staff
    "registry.view_finding": viewer,
    "registry.change_finding": staff,
    "registry.act_on_finding": staff,
    "registry.detect_duplicates": staff,
    # The registry's figures over the whole portfolio (adopters, spend stored per tool);
    # everyone else sees figures over their own factories.
    "registry.view_portfolio_figures": staff,
    # tool requests (the workflow service asks the step rules)
    "tool_requests.view_request": viewer,
    "tool_requests.add_request": member,
    "tool_requests.change_request": is_signed_in
    & (is_requester | ((is_coe_staff | is_owner_of) & is_draft)),
    "tool_requests.submit_request": is_signed_in & is_requester,
    "tool_requests.withdraw_request": is_signed_in & is_requester,
    "tool_requests.approve_owner_step": is_signed_in
    & ~is_requester
    & (is_owner_of | (is_coe_staff & has_no_other_owner)),
    "tool_requests.approve_coe_step": staff & ~is_requester & ~is_owner_approver,
    "tool_requests.provision_request": staff,
    # connectors: CoE staff configure and sync; members push their factory's data
    "connectors.view_connector": viewer,
    "connectors.change_connector": staff,
    "connectors.sync_connector": staff,
    "connectors.view_syncrun": viewer,
    "connectors.view_device": viewer,
    "connectors.view_metric": viewer,
    "connectors.upload_data": member,
    # currency rates: the conversions of ROI, kept by CoE staff
    "connectors.view_currencyrate": staff,
    "connectors.change_currencyrate": staff,
    # assessments: CoE staff audit; the factory reads its results
    "assessments.view_maturitymodel": signed_in,
    "assessments.view_assessment": viewer,
    "assessments.change_assessment": staff,
    "assessments.finalize_assessment": staff,
    "assessments.view_scorecard": viewer,
    "assessments.view_kpis": viewer,
    "assessments.view_portfolio": signed_in,
    # notify: webhooks are CoE staff's; everyone signed in keeps their own inbox
    "notify.manage_webhook": staff,
    "notify.view_notifications": signed_in,
    "coe.view_home": signed_in,
    "coe.search": signed_in,
}


def _register() -> None:
    for name, predicate in RULES.items():
        rules.add_perm(name, predicate)


def admin_permissions_for(app_label: str, model_name: str) -> None:
    """The admin asks ``<app>.<add|change|delete|view>_<model>`` of every model it shows:
    those not named in ``RULES`` are CoE staff's (called as each model is registered)."""
    for verb in ("add", "change", "delete", "view"):
        name = f"{app_label}.{verb}_{model_name}"
        if not rules.perm_exists(name):
            rules.add_perm(name, staff)


_register()


def allowed(user, name: str, obj=None) -> bool:
    """Whether ``user`` may take action ``name`` on ``obj`` (see the module docstring).

    Asks the rule itself, not ``user.has_perm``: Django answers ``has_perm`` with yes for
    every superuser before any backend, which would skip rules such as "nobody approves
    their own request". An unknown rule name is an error, not a quiet no."""
    if not rules.perm_exists(name):
        raise KeyError(f"no policy rule named {name!r}")
    return rules.has_perm(name, user, obj)


def page_rule(obj: Callable[..., object] | None = None):
    """Guard a page with the rule ``coe/policy_matrix.PAGES`` names for its URL and method.

    Anonymous visitors go to the login page. With ``obj`` (``obj(request, **url_kwargs)``,
    a lookup among the objects the user may see, so 404 outside them), the object is
    found first, the rule is asked on it, and the view receives it as ``obj=``. A refused
    rule is a 403 naming who may.
    """

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            rule = page_rule_name(request)
            target = None
            if obj is not None:
                target = obj(request, *args, **kwargs)
                kwargs["obj"] = target
            if not allowed(request.user, rule, target):
                raise PermissionDenied(f"Only {who_may(rule)} may do this.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def page_rule_name(request) -> str:
    """The rule of this page and method (a method without its own row uses the page's
    GET rule); a page without a row is CoE staff's."""
    match = getattr(request, "resolver_match", None)
    name = match.url_name if match is not None else ""
    method = request.method.lower()
    return (
        rule_for(PAGES, name, None, method)
        or rule_for(PAGES, name, None, "get")
        or "coe.view_audit_log"
    )


def visible_factory(request, slug: str, **_kwargs) -> Factory:
    """A page's factory by slug, among those the user may see (404 otherwise)."""
    return get_object_or_404(scoping.visible_factories(request.user), slug=slug)
