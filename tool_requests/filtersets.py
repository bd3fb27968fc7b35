"""Filters of tool requests, shared by the API and the pages."""

from django.db.models import Q
from django_filters import rest_framework as filters

from tool_requests.choices import RequestStatus
from tool_requests.models import ToolRequest, overdue_condition


class ToolRequestFilterSet(filters.FilterSet):
    q = filters.CharFilter(
        method="search", help_text="Tool, proposed name or justification contains"
    )
    factory = filters.CharFilter(field_name="factory__slug")
    factory_id = filters.NumberFilter()
    status = filters.MultipleChoiceFilter(choices=RequestStatus.choices)
    requester = filters.CharFilter(field_name="requester__username")
    requester_id = filters.NumberFilter()
    tool = filters.CharFilter(field_name="tool__slug")
    tool_id = filters.NumberFilter()
    capability = filters.CharFilter(field_name="capability__slug")
    capability_id = filters.NumberFilter()
    overdue = filters.BooleanFilter(method="filter_overdue", help_text="Past the step's due date")
    exception = filters.BooleanFilter(
        field_name="exception_expires_on",
        lookup_expr="isnull",
        exclude=True,
        help_text="Approved as an exception (hold or retired ring)",
    )
    exception_expired = filters.BooleanFilter(
        method="filter_exception_expired", help_text="An exception past its expiry date"
    )

    class Meta:
        model = ToolRequest
        fields = ["status"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(tool__name__icontains=value)
            | Q(proposed_name__icontains=value)
            | Q(justification__icontains=value)
        )

    def filter_exception_expired(self, queryset, name, value):
        from django.utils import timezone

        expired = Q(exception_expires_on__lt=timezone.localdate())
        return queryset.filter(expired) if value else queryset.exclude(expired)

    def filter_overdue(self, queryset, name, value):
        from django.utils import timezone

        condition = overdue_condition(timezone.localdate())
        return queryset.filter(condition) if value else queryset.exclude(condition)
