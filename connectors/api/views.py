"""API of the connectors app: connectors (+ ``sync/``), sync runs, devices, metric samples."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from coe.api.history import HistoryMixin
from coe.api.permissions import ScopedMethodNotAllowed
from coe.scoping import restrict
from connectors import selectors
from connectors.api.serializers import (
    DEVICE_VALUES,
    ConnectorSerializer,
    DeviceSerializer,
    MetricSampleSerializer,
    SyncRunSerializer,
    SyncStartSerializer,
    device_list_rows,
)
from connectors.choices import SyncTrigger
from connectors.filtersets import (
    ConnectorFilterSet,
    DeviceFilterSet,
    MetricSampleFilterSet,
    SyncRunFilterSet,
)
from connectors.models import Device, DeviceSourceRecord, MetricSample
from connectors.services import sync_run_start


class ConnectorViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Connector configurations. CoE staff configure them and start syncs; factory members
    and owners see their factories' connectors (never credentials)."""

    serializer_class = ConnectorSerializer
    filterset_class = ConnectorFilterSet
    ordering_fields = ["name", "kind", "created_at"]

    def get_queryset(self):
        return selectors.connectors_for(self.request.user).order_by("factory__name", "name", "id")

    @extend_schema(request=SyncStartSerializer, responses={202: SyncRunSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Queue a sync (or return the one already queued or running): the SyncRun."""
        connector = self.get_object()
        params = SyncStartSerializer(data=request.data or {})
        params.is_valid(raise_exception=True)
        run = sync_run_start(
            connector=connector,
            trigger=SyncTrigger.API,
            user=request.user,
            full_sync=params.validated_data["full_sync"],
        )
        run.refresh_from_db()
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SyncRunViewSet(ScopedMethodNotAllowed, viewsets.ReadOnlyModelViewSet):
    """Every sync: status, counts, row-level errors, timings."""

    serializer_class = SyncRunSerializer
    filterset_class = SyncRunFilterSet
    ordering_fields = ["queued_at", "finished_at", "status"]

    def get_queryset(self):
        return selectors.sync_runs_for(self.request.user).order_by("-queued_at", "-id")


class DeviceViewSet(ScopedMethodNotAllowed, viewsets.ReadOnlyModelViewSet):
    """The reconciled device inventory with what each source said."""

    serializer_class = DeviceSerializer
    filterset_class = DeviceFilterSet
    ordering_fields = ["last_seen", "serial_number", "manufacturer", "status"]
    # An unfiltered list's count: the stored per-factory device counts (coe.rowcounts),
    # scoped as devices_for scopes the rows.
    row_count_table = Device._meta.db_table

    def get_queryset(self):
        return (
            selectors.devices_for(self.request.user)
            .prefetch_related(
                Prefetch(
                    "source_records",
                    queryset=DeviceSourceRecord.objects.order_by("source_kind", "source_id"),
                )
            )
            .order_by("factory_id", "id")
        )

    def list(self, request, *args, **kwargs):
        """A page of devices rendered from column values (see ``device_list_rows``)."""
        queryset = self.filter_queryset(self.get_queryset()).prefetch_related(None)
        page = self.paginate_queryset(queryset.values(*DEVICE_VALUES))
        return self.get_paginated_response(device_list_rows(page))


class MetricSampleViewSet(
    ScopedMethodNotAllowed,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Landed metric samples (read-only here; imports and connectors write them)."""

    serializer_class = MetricSampleSerializer
    filterset_class = MetricSampleFilterSet
    ordering_fields = ["period_start", "metric"]

    def get_queryset(self):
        return restrict(MetricSample.objects.select_related("factory"), self.request.user).order_by(
            "factory_id", "metric", "-period_start", "id"
        )
