"""``GET /api/portfolio/roi/``: ROI of the factories the caller may see, by business unit,
against the survey benchmark."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from coe.scoping import visible_factories
from kpis.portfolio_roi import portfolio_roi


class PortfolioROIView(APIView):
    """Invested, benefits and ROI % pooled in ``PORTFOLIO_CURRENCY``; payback months
    (median, mean, min, max) and the share paid back within six months against the
    survey's 27 %; the same by business unit. Scoped to the caller's factories."""

    @extend_schema(
        parameters=[
            OpenApiParameter("business_unit", str, description="only this business unit"),
        ],
        responses={200: OpenApiResponse(description="the portfolio ROI (docs/kpis.md)")},
    )
    def get(self, request):
        factories = visible_factories(request.user).order_by("business_unit", "name")
        unit = request.query_params.get("business_unit")
        if unit:
            factories = factories.filter(business_unit=unit)
        return Response(portfolio_roi(factories))
