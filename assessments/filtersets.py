"""Filters of the assessments app, shared by the API and the pages."""

from django.db.models import Q
from django_filters import rest_framework as filters

from assessments.choices import AssessmentStatus, Gating, Stage
from assessments.models import Assessment, MaturityModel
from coe.filtersets import factory_filter


class MaturityModelFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Name or key contains")
    key = filters.CharFilter()
    is_current = filters.BooleanFilter()
    gating = filters.ChoiceFilter(choices=Gating.choices)

    class Meta:
        model = MaturityModel
        fields = ["key", "version", "is_current", "gating"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(key__icontains=value))


class AssessmentFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Factory name or slug, or notes contain")
    factory = factory_filter("factory")
    factory_id = factory_filter("factory", by="pk")
    model = filters.CharFilter(field_name="model__key", help_text="Model key")
    model_id = filters.NumberFilter()
    status = filters.MultipleChoiceFilter(choices=AssessmentStatus.choices)
    stage = filters.ChoiceFilter(choices=Stage.choices)
    business_unit = filters.CharFilter(field_name="factory__business_unit", lookup_expr="iexact")
    assessed_after = filters.DateFilter(field_name="assessed_on", lookup_expr="gte")
    assessed_before = filters.DateFilter(field_name="assessed_on", lookup_expr="lte")

    class Meta:
        model = Assessment
        fields = ["status", "stage"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(factory__name__icontains=value)
            | Q(factory__slug__icontains=value)
            | Q(notes__icontains=value)
        )
