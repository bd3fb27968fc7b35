"""Report downloads of the API: an audit's PDF and XLSX, and the portfolio's scorecards."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from assessments import reports
from assessments.selectors import assessments_for

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _filename(assessment, extension: str) -> str:
    day = assessment.assessed_on or timezone.localdate()
    return f"assessment-{assessment.pk}-{slugify(assessment.factory.slug)}-{day}.{extension}"


class AssessmentReportPDFView(APIView):
    """``GET /api/assessments/{id}/report.pdf``: summary, stage and index, radar against the
    portfolio, dimension table, roadmap and evidence (an open audit: a marked preview)."""

    @extend_schema(
        responses={(200, PDF): OpenApiTypes.BINARY, 404: OpenApiResponse(description="Not found")}
    )
    def get(self, request, pk: int):
        assessment = get_object_or_404(assessments_for(request.user), pk=pk)
        return _download(reports.report_pdf(assessment), PDF, _filename(assessment, "pdf"))


class AssessmentReportXLSXView(APIView):
    """``GET /api/assessments/{id}/report.xlsx``: sheets Answers, Evidence, Signals, Scores,
    Roadmap and Review."""

    @extend_schema(
        responses={(200, XLSX): OpenApiTypes.BINARY, 404: OpenApiResponse(description="Not found")}
    )
    def get(self, request, pk: int):
        assessment = get_object_or_404(assessments_for(request.user), pk=pk)
        return _download(reports.report_xlsx(assessment), XLSX, _filename(assessment, "xlsx"))


class PortfolioScorecardsXLSXView(APIView):
    """``GET /api/portfolio/scorecards.xlsx``: the latest scorecard of every factory the user
    sees, with the previous audit's index and the change."""

    @extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY})
    def get(self, request):
        body = reports.portfolio_xlsx(request.user)
        return _download(body, XLSX, f"scorecards-{timezone.localdate()}.xlsx")
