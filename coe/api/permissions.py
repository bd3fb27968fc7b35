"""The API's default write rule: CoE staff change things, everyone else reads what they see.

Reads are scoped by each viewset's ``get_queryset()`` through ``coe.scoping`` (an object
outside the user's factories is a 404, never a 403). A viewset opens writes to other
roles by defining ``can_create(request)`` and/or ``can_change(request, obj)``.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from coe.scoping import is_coe_staff


class CoEStaffWritePermission(BasePermission):
    message = "Only CoE staff may make this change."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or is_coe_staff(request.user):
            return True
        if getattr(view, "detail", False):
            return True  # decided per object, after the scoped lookup (404 before 403)
        hook = getattr(view, "can_create", None)
        return bool(hook and hook(request))

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS or is_coe_staff(request.user):
            return True
        hook = getattr(view, "can_change", None)
        return bool(hook and hook(request, obj))


class IsCoEStaff(BasePermission):
    """Only CoE staff, for reading too (e.g. the whole change log)."""

    message = "Only CoE staff may see this."

    def has_permission(self, request, view) -> bool:
        return is_coe_staff(request.user)
