"""Filters of the core models, shared by the API and the pages."""

from django.contrib.auth import get_user_model
from django.db.models import Q
from django_filters import rest_framework as filters

from coe.choices import COE_STAFF_GROUP, FactoryKind, Role
from coe.models import Factory, Membership


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
    factory = filters.CharFilter(field_name="factory__slug")
    factory_id = filters.NumberFilter()
    user = filters.CharFilter(field_name="user__username")
    user_id = filters.NumberFilter()
    role = filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["role"]


class UserFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Username, name or e-mail contains")
    factory = filters.CharFilter(field_name="memberships__factory__slug", distinct=True)
    factory_id = filters.NumberFilter(field_name="memberships__factory_id", distinct=True)
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
        staff = Q(groups__name=COE_STAFF_GROUP) | Q(is_superuser=True)
        return (queryset.filter(staff) if value else queryset.exclude(staff)).distinct()
