"""Filters of connectors, sync runs, devices and metric samples (API and pages)."""

from django.db.models import Q
from django_filters import rest_framework as filters

from coe.filtersets import factory_filter
from connectors.choices import ConnectorKind, DeviceStatus, SyncStatus, SyncTrigger
from connectors.models import Connector, Device, MetricSample, SyncRun


class ConnectorFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Name contains")
    factory = factory_filter("factory")
    factory_id = factory_filter("factory", by="pk")
    kind = filters.ChoiceFilter(choices=ConnectorKind.choices)
    enabled = filters.BooleanFilter()

    class Meta:
        model = Connector
        fields = ["kind", "enabled"]

    def search(self, queryset, name, value):
        return queryset.filter(name__icontains=value)


class SyncRunFilterSet(filters.FilterSet):
    connector = filters.NumberFilter(field_name="connector_id")
    connector_id = filters.NumberFilter()
    factory = factory_filter("connector__factory")
    factory_id = factory_filter("connector__factory", by="pk")
    status = filters.ChoiceFilter(choices=SyncStatus.choices)
    trigger = filters.ChoiceFilter(choices=SyncTrigger.choices)
    q = filters.CharFilter(field_name="connector__name", lookup_expr="icontains")

    class Meta:
        model = SyncRun
        fields = ["status", "trigger"]


class DeviceFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Serial, name, MAC, vendor or model contains")
    factory = factory_filter("factory")
    factory_id = factory_filter("factory", by="pk")
    vendor = filters.CharFilter(field_name="manufacturer", lookup_expr="iexact")
    manufacturer = filters.CharFilter(lookup_expr="iexact")
    model = filters.CharFilter(lookup_expr="iexact")
    firmware = filters.CharFilter(lookup_expr="iexact")
    status = filters.ChoiceFilter(choices=DeviceStatus.choices)
    last_seen_after = filters.IsoDateTimeFilter(field_name="last_seen", lookup_expr="gte")
    last_seen_before = filters.IsoDateTimeFilter(field_name="last_seen", lookup_expr="lt")
    source = filters.CharFilter(
        field_name="source_records__source_kind", distinct=True, help_text="source kind"
    )

    class Meta:
        model = Device
        fields = ["status"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(serial_number__icontains=value)
            | Q(name__icontains=value)
            | Q(mac__icontains=value)
            | Q(manufacturer__icontains=value)
            | Q(model__icontains=value)
        )


class MetricSampleFilterSet(filters.FilterSet):
    factory = factory_filter("factory")
    factory_id = factory_filter("factory", by="pk")
    metric = filters.CharFilter()
    source = filters.CharFilter()
    line = filters.CharFilter()
    series = filters.CharFilter()
    device_id = filters.NumberFilter()
    since = filters.IsoDateTimeFilter(field_name="period_start", lookup_expr="gte")
    until = filters.IsoDateTimeFilter(field_name="period_start", lookup_expr="lt")
    q = filters.CharFilter(field_name="metric", lookup_expr="icontains")

    class Meta:
        model = MetricSample
        fields = ["metric", "source"]
