"""``/api/factories/{slug}/kpis/``, ``…/roi/`` and ``…/flow/``: KPI answers of one factory.

Anonymous users get 401; a factory outside the user's factories is 404 (as everywhere).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from assessments import kpi_selectors
from assessments.kpis import KPIInputError
from coe.scoping import visible_factories

RANGE_PARAMETERS = [
    OpenApiParameter("period", str, enum=["day", "week", "month"], description="default month"),
    OpenApiParameter("from", str, description="first day (YYYY-MM-DD), inclusive"),
    OpenApiParameter("to", str, description="last day (YYYY-MM-DD), inclusive; default today"),
]


class FactoryKPIBase(APIView):
    permission_classes = [IsAuthenticated]

    def factory(self, request, slug: str):
        return get_object_or_404(visible_factories(request.user), slug=slug)

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
    """Cumulative invested and benefits by month, net, ROI %, payback, in the factory's currency."""

    @extend_schema(responses={200: dict, 422: dict})
    def get(self, request, slug: str):
        factory = self.factory(request, slug)
        try:
            result = kpi_selectors.roi_for_factory(factory)
        except KPIInputError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(result.as_dict())


class FactoryFlowView(FactoryKPIBase):
    """Throughput and median cycle time of resolved issues per period and team."""

    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: dict})
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
