"""``/api/factories/{slug}/kpis/``, ``…/roi/`` and ``…/flow/``: KPI answers of one factory.

Anonymous users get 401; a factory outside the user's factories is 404 (as everywhere).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from coe.scoping import visible_factories
from kpis import reads
from kpis import selectors as kpi_selectors
from kpis.formulas import KPIInputError


class OEERowSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    line = serializers.CharField(allow_null=True, help_text="null = the whole factory")
    availability = serializers.FloatField(allow_null=True)
    performance = serializers.FloatField(allow_null=True)
    quality = serializers.FloatField(allow_null=True)
    oee = serializers.FloatField(allow_null=True, help_text="null = no data")
    planned_time_s = serializers.FloatField()
    run_time_s = serializers.FloatField()
    total_count = serializers.IntegerField()
    good_count = serializers.IntegerField()


class DORARowSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    deployments = serializers.IntegerField()
    deployment_frequency_per_day = serializers.FloatField()
    lead_time_hours_median = serializers.FloatField(allow_null=True)
    change_failure_rate = serializers.FloatField(allow_null=True)
    time_to_restore_hours_median = serializers.FloatField(allow_null=True)
    band = serializers.ChoiceField(["elite", "high", "medium", "low"], allow_null=True)


class KPIsSerializer(serializers.Serializer):
    """Documents the ``kpis`` answer."""

    factory = serializers.SlugField()
    period = serializers.ChoiceField(["day", "week", "month"])
    oee = OEERowSerializer(many=True)
    dora = DORARowSerializer(many=True)


class ROIMonthSerializer(serializers.Serializer):
    month = serializers.DateField()
    invested = serializers.DecimalField(max_digits=18, decimal_places=2)
    benefits = serializers.DecimalField(max_digits=18, decimal_places=2)


class ROISerializer(serializers.Serializer):
    """Documents the ``roi`` answer (money as strings with two decimals)."""

    currency = serializers.CharField()
    invested = serializers.DecimalField(max_digits=18, decimal_places=2)
    benefits = serializers.DecimalField(max_digits=18, decimal_places=2)
    net = serializers.DecimalField(max_digits=18, decimal_places=2)
    roi_pct = serializers.FloatField(allow_null=True)
    payback_date = serializers.DateField(allow_null=True)
    payback_months = serializers.IntegerField(allow_null=True)
    roi_within_6_months = serializers.BooleanField()
    series = ROIMonthSerializer(many=True)


class FlowRowSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    team = serializers.CharField()
    throughput = serializers.IntegerField()
    cycle_time_hours_median = serializers.FloatField()


class FlowSerializer(serializers.Serializer):
    factory = serializers.SlugField()
    period = serializers.CharField()
    flow = FlowRowSerializer(many=True)


ERROR = inline_serializer("KPIError", {"detail": serializers.CharField()})

RANGE_PARAMETERS = [
    OpenApiParameter("period", str, enum=["day", "week", "month"], description="default month"),
    OpenApiParameter("from", str, description="first day (YYYY-MM-DD), inclusive"),
    OpenApiParameter("to", str, description="last day (YYYY-MM-DD), inclusive; default today"),
]


class FactoryKPIBase(APIView):
    """A factory's figures: the factory among those the caller sees (else 404), then the
    route's rule on it."""

    def factory(self, request, slug: str):
        factory = get_object_or_404(visible_factories(request.user), slug=slug)
        self.check_object_permissions(request, factory)
        return factory

    def range(self, request) -> kpi_selectors.KPIRange:
        params = request.query_params
        return kpi_selectors.kpi_range(params.get("period"), params.get("from"), params.get("to"))


def _bad(message: str) -> Response:
    return Response({"detail": message}, status=status.HTTP_400_BAD_REQUEST)


class FactoryKPIView(FactoryKPIBase):
    """OEE (from OT counters) and DORA (from deployments) series with their inputs."""

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            OpenApiParameter("environment", str, description="DORA environment (production)"),
        ],
        responses={
            200: inline_serializer(
                "FactoryKPIs",
                {
                    "factory": serializers.CharField(),
                    "period": serializers.CharField(),
                    "oee": serializers.ListField(),
                    "dora": serializers.ListField(),
                },
            )
        },
    )
    def get(self, request, slug: str):
        factory = self.factory(request, slug)
        try:
            rng = self.range(request)
        except ValueError as exc:
            return _bad(str(exc))
        environment = request.query_params.get("environment") or kpi_selectors.DEFAULT_ENVIRONMENT
        return Response(kpi_selectors.kpis_for_factory(factory, rng, environment))


class FactoryROIView(FactoryKPIBase):
    """Cumulative invested and benefits by month, net, ROI %, payback, in the factory's
    currency (from the factory's rollup months)."""

    @extend_schema(responses={200: ROISerializer, 422: ERROR})
    def get(self, request, slug: str):
        factory = self.factory(request, slug)
        try:
            result = reads.factory_roi(factory)
        except KPIInputError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(result.as_dict())


class FactoryFlowView(FactoryKPIBase):
    """Throughput and median cycle time of resolved issues per period and team."""

    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: FlowSerializer, 400: ERROR})
    def get(self, request, slug: str):
        factory = self.factory(request, slug)
        try:
            rng = self.range(request)
        except ValueError as exc:
            return _bad(str(exc))
        return Response(
            {
                "factory": factory.slug,
                "period": rng.period,
                "flow": kpi_selectors.flow_for_factory(factory, rng),
            }
        )
