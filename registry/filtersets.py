"""Filters of the registry, shared by the API and the pages."""

from django.db.models import Q
from django_filters import rest_framework as filters

from coe.choices import FactoryKind
from coe.filtersets import factory_filter
from registry.choices import (
    AdoptionSource,
    AdoptionStatus,
    Applicability,
    FindingKind,
    FindingStatus,
    Ring,
)
from registry.models import (
    Adoption,
    Capability,
    DuplicateFinding,
    Process,
    ProcessAdoption,
    Tool,
)


class CapabilityFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Name or slug contains")
    parent = filters.CharFilter(field_name="parent__slug")
    parent_id = filters.NumberFilter()
    applies_to = filters.ChoiceFilter(choices=Applicability.choices)
    root = filters.BooleanFilter(field_name="parent", lookup_expr="isnull")

    class Meta:
        model = Capability
        fields = ["applies_to"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))


class ToolFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Name, vendor or alias contains")
    ring = filters.ChoiceFilter(choices=Ring.choices)
    vendor = filters.CharFilter(lookup_expr="iexact")
    capability = filters.CharFilter(field_name="capabilities__slug", distinct=True)
    capability_id = filters.NumberFilter(field_name="capabilities__id", distinct=True)
    factory = factory_filter("adoptions__factory", distinct=True)
    factory_id = factory_filter("adoptions__factory", by="pk", distinct=True)
    owner = filters.CharFilter(field_name="owner__username")
    owner_id = filters.NumberFilter()

    class Meta:
        model = Tool
        fields = ["ring", "licence_model"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value)
            | Q(vendor__icontains=value)
            | Q(aliases__name__icontains=value)
        ).distinct()


class ProcessFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Name or description contains")
    capability = filters.CharFilter(field_name="capability__slug")
    capability_id = filters.NumberFilter()
    owner_factory = factory_filter("owner_factory")
    owner_factory_id = factory_filter("owner_factory", by="pk")
    factory = factory_filter("versions__adoptions__factory", distinct=True)
    factory_id = factory_filter("versions__adoptions__factory", by="pk", distinct=True)

    class Meta:
        model = Process
        fields = []

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


class AdoptionFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Declared or tool name contains")
    factory = factory_filter("factory")
    factory_id = factory_filter("factory", by="pk")
    tool = filters.CharFilter(field_name="tool__slug")
    tool_id = filters.NumberFilter()
    capability = filters.CharFilter(field_name="tool__capabilities__slug", distinct=True)
    factory_kind = filters.ChoiceFilter(field_name="factory__kind", choices=FactoryKind.choices)
    status = filters.ChoiceFilter(choices=AdoptionStatus.choices)
    source = filters.ChoiceFilter(choices=AdoptionSource.choices)
    unresolved = filters.BooleanFilter(field_name="tool", lookup_expr="isnull")

    class Meta:
        model = Adoption
        fields = ["status", "source"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(declared_name__icontains=value) | Q(tool__name__icontains=value))


class DuplicateFindingFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Tool or capability name contains")
    kind = filters.ChoiceFilter(choices=FindingKind.choices)
    # A column of the finding itself: no DISTINCT (it would compare every row's JSON).
    status = filters.MultipleChoiceFilter(choices=FindingStatus.choices, distinct=False)
    capability = filters.CharFilter(field_name="capability__slug")
    capability_id = filters.NumberFilter()
    scope = factory_filter("scope")
    scope_id = factory_filter("scope", by="pk")
    factory = factory_filter("factories", distinct=True)
    factory_id = factory_filter("factories", by="pk", distinct=True)
    tool = filters.CharFilter(field_name="tools__slug", distinct=True)
    tool_id = filters.NumberFilter(field_name="tools__id", distinct=True)
    min_cost = filters.NumberFilter(field_name="annual_cost_at_stake", lookup_expr="gte")

    class Meta:
        model = DuplicateFinding
        fields = ["kind"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(tools__name__icontains=value) | Q(capability__name__icontains=value)
        ).distinct()


class ProcessAdoptionFilterSet(filters.FilterSet):
    factory = factory_filter("factory")
    factory_id = factory_filter("factory", by="pk")
    process = filters.CharFilter(field_name="process_version__process__slug")
    process_id = filters.NumberFilter(field_name="process_version__process_id")
    version = filters.CharFilter(field_name="process_version__version")

    class Meta:
        model = ProcessAdoption
        fields = []
