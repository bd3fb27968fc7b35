"""The API's one permission class: it asks the rule ``coe/policy_matrix.py`` names for the
route and action.

Order of answers, the same on every route: 401 for an anonymous caller; on a detail
route, the object is looked up among the rows the caller may see first (404 outside
them, whether the id exists or not), then the rule is asked with that object (403); on
any other route the rule is asked without an object (may the caller do this in some
factory?). A view that creates an object in a factory asks again with that factory once
the payload is valid (``check_object_permissions(request, factory)``).
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from coe import policy
from coe.policy_matrix import API, rule_for, who_may

# Routes that no policy row covers are CoE staff's (and fail tests/coe/test_policy_matrix.py).
FALLBACK_RULE = "coe.view_audit_log"


def route_key(request, view) -> str:
    """The row of ``API`` for this view: the router basename or the URL name."""
    basename = getattr(view, "basename", None)
    if basename:
        return basename
    match = getattr(request, "resolver_match", None)
    return match.url_name if match is not None else ""


_METADATA_ACTIONS = {"post": "create", "put": "update", "patch": "update", "delete": "destroy"}


def route_rule(request, view) -> str:
    """The rule guarding this request's action on this route."""
    action = getattr(view, "action", None)
    if action == "metadata":
        # OPTIONS: describing the route is as open as reading it; DRF then asks again
        # with the method of each form it would describe (POST: create, PUT: update).
        detail = _is_object_route(view)
        action = _METADATA_ACTIONS.get(request.method.lower()) or ("retrieve" if detail else "list")
    return rule_for(API, route_key(request, view), action, request.method) or FALLBACK_RULE


def _is_object_route(view) -> bool:
    """A route naming an object in its URL (a detail route, ``factories/{slug}/kpis/``);
    such a view checks the rule on the object it finds (``get_object()`` does)."""
    return bool(set(getattr(view, "kwargs", None) or {}) - {"format"})


class PolicyPermission(BasePermission):
    """Every API view's permission: the policy rule of its route and action."""

    message = "You may not do this."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if getattr(view, "action", "") is None and getattr(view, "basename", None):
            return True  # a method the viewset does not offer: 404 or 405 follows
        if _is_object_route(view):
            return True  # decided on the object, after the scoped lookup (404 before 403)
        return self._ask(request, view, None)

    def has_object_permission(self, request, view, obj) -> bool:
        return self._ask(request, view, obj)

    def _ask(self, request, view, obj) -> bool:
        rule = route_rule(request, view)
        if policy.allowed(request.user, rule, obj):
            return True
        self.message = f"Only {who_may(rule)} may do this ({rule})."
        return False


class ScopedMethodNotAllowed:
    """A viewset mixin: a method the route does not offer answers 405 for the rows the
    caller sees and 404 outside them (as a read would), never telling an id exists."""

    def http_method_not_allowed(self, request, *args, **kwargs):
        from django.shortcuts import get_object_or_404

        key = self.lookup_url_kwarg or self.lookup_field
        if key in kwargs:
            get_object_or_404(self.get_queryset(), **{self.lookup_field: kwargs[key]})
        return super().http_method_not_allowed(request, *args, **kwargs)
