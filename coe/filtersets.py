"""Filters of the core models, shared by the API and the pages, and the scoped related
filter every app's filtersets use for factories.

A related filter's choices are the objects the requesting user may see (a callable of
the request), and a value outside them — foreign or unknown alike — matches nothing: the
list comes back empty, never a 400 that would tell which slugs exist. Pages pass
``request=request`` to their filtersets for the same scoping.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from coe.choices import FactoryKind, Role
from coe.models import Factory, Membership
from coe.scoping import coe_staff_condition, visible_factories

# What an out-of-scope (or unknown) value cleans to: the filter then matches no row.
NOTHING = object()


class _LenientModelChoiceField(filter_fields.ModelChoiceField):
    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError:
            return NOTHING


class ScopedModelChoiceFilter(filters.ModelChoiceFilter):
    """A related filter over a queryset of the request; an unknown value matches nothing."""

    field_class = _LenientModelChoiceField

    def filter(self, qs, value):
        if value is NOTHING:
            return qs.none()
        return super().filter(qs, value)


@extend_schema_field(OpenApiTypes.STR)
class FactorySlugFilter(ScopedModelChoiceFilter):
    """A factory by slug (the OpenAPI type: a string)."""


@extend_schema_field(OpenApiTypes.INT)
class FactoryIdFilter(ScopedModelChoiceFilter):
    """A factory by id (the OpenAPI type: an integer)."""


def _factories_of(request):
    return visible_factories(getattr(request, "user", None))


def factory_filter(field_name: str, *, by: str = "slug", **kwargs) -> ScopedModelChoiceFilter:
    """A filter on a factory reached through ``field_name``, by slug (or ``by="pk"``),
    among the factories the requesting user may see."""
    kwargs.setdefault("help_text", f"Factory {'slug' if by == 'slug' else 'id'}")
    cls = FactorySlugFilter if by == "slug" else FactoryIdFilter
    return cls(field_name=field_name, to_field_name=by, queryset=_factories_of, **kwargs)


class FactoryFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Name, slug, site or business unit contains")
    kind = filters.ChoiceFilter(choices=FactoryKind.choices)
    business_unit = filters.CharFilter(lookup_expr="iexact")
    region = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Factory
        fields = ["kind", "business_unit", "region"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value)
            | Q(slug__icontains=value)
            | Q(site__icontains=value)
            | Q(business_unit__icontains=value)
        )


class MembershipFilterSet(filters.FilterSet):
    factory = factory_filter("factory")
    factory_id = factory_filter("factory", by="pk")
    user = filters.CharFilter(field_name="user__username")
    user_id = filters.NumberFilter()
    role = filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["role"]


class UserFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Username, name or e-mail contains")
    factory = factory_filter("memberships__factory", distinct=True)
    factory_id = factory_filter("memberships__factory", by="pk", distinct=True)
    role = filters.ChoiceFilter(choices=Role.choices, field_name="memberships__role", distinct=True)
    is_coe_staff = filters.BooleanFilter(method="filter_staff")
    is_active = filters.BooleanFilter()

    class Meta:
        model = get_user_model()
        fields = ["is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(username__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
        )

    def filter_staff(self, queryset, name, value):
        staff = coe_staff_condition()
        return (queryset.filter(staff) if value else queryset.exclude(staff)).distinct()
