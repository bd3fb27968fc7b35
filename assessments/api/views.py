"""API of the assessments app: maturity models, assessments (audits) and the scorecard."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from assessments import answers, services
from assessments.api.serializers import (
    AnswerInputSerializer,
    AnswerSerializer,
    AssessmentSerializer,
    EvidenceFileSerializer,
    EvidenceUploadSerializer,
    MaturityModelSerializer,
    ReviewCommentSerializer,
    ScorecardSerializer,
    SignalReadingSerializer,
)
from assessments.choices import AssessmentStatus
from assessments.filtersets import AssessmentFilterSet, MaturityModelFilterSet
from assessments.models import MaturityModel
from assessments.selectors import answers_of, assessments_for, latest_final, scorecard_trend
from coe.api.history import HistoryMixin
from coe.api.parsers import JSONParser
from coe.scoping import visible_factories

LOCKED = OpenApiResponse(description="The assessment's status does not allow this (409).")


class MaturityModelViewSet(viewsets.ReadOnlyModelViewSet):
    """Maturity model versions (read-only: they come from the definition files)."""

    serializer_class = MaturityModelSerializer
    filterset_class = MaturityModelFilterSet
    ordering_fields = ["key", "version", "created_at"]

    def get_queryset(self):
        return MaturityModel.objects.order_by("key", "-version")


def _locked(exc: services.AssessmentLocked) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


def _invalid(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class AssessmentViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Maturity audits. CoE staff run them; factory members and owners read their own."""

    serializer_class = AssessmentSerializer
    filterset_class = AssessmentFilterSet
    ordering_fields = ["created_at", "assessed_on", "index", "stage"]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self):
        return assessments_for(self.request.user).prefetch_related("corrections")

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = services.assessment_create(
                factory=data["factory"],
                model=data.get("model"),
                assessor=data.get("assessor") or self.request.user,
                assessed_on=data.get("assessed_on"),
                notes=data.get("notes", ""),
                corrects=data.get("corrects"),
            )
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc

    def update(self, request, *args, **kwargs):
        if self.get_object().is_final:
            return _locked(services.AssessmentLocked("A final assessment is locked."))
        return super().update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        if self.get_object().is_final:
            return _locked(
                services.AssessmentLocked("A final assessment is kept; open a correction instead.")
            )
        return super().destroy(request, *args, **kwargs)

    @extend_schema(
        request=AnswerInputSerializer(many=True),
        responses={200: AnswerSerializer(many=True), 409: LOCKED},
    )
    # The lists are answered whole (no pagination); saying so keeps the schema in step.
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def answers(self, request, pk=None):
        """GET: the answers. POST: save a list of ``{criterion, rating (1–5 or null = N/A),
        evidence, links, evidence_date, comment}``; all rows valid or none saved (400 with
        ``{"rows": [{field: [message]} per row]}``)."""
        assessment = self.get_object()
        if request.method == "POST":
            rows = request.data
            if isinstance(rows, dict) and isinstance(rows.get("answers"), list):
                rows = rows["answers"]
            if not isinstance(rows, list):
                raise ValidationError({"detail": "Send a JSON list of answer rows."})
            try:
                answers.answers_save(assessment=assessment, rows=rows, user=request.user)
            except services.RowsInvalid as exc:
                return Response({"rows": exc.rows}, status=status.HTTP_400_BAD_REQUEST)
            except services.AssessmentLocked as exc:
                return _locked(exc)
        return Response(AnswerSerializer(answers_of(assessment), many=True).data)

    @extend_schema(
        request=ReviewCommentSerializer,
        responses={200: ReviewCommentSerializer(many=True), 409: LOCKED},
    )
    @action(detail=True, methods=["get", "post"])
    def comments(self, request, pk=None):
        """GET: the reviewers' comments. POST ``{criterion ("" = whole audit), body}`` (CoE
        staff, while the audit is open): a comment on one criterion; returns the comments."""
        assessment = self.get_object()
        if request.method == "POST":
            form = ReviewCommentSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            try:
                services.review_comment_add(
                    assessment=assessment,
                    criterion=form.validated_data.get("criterion", ""),
                    body=form.validated_data["body"],
                    user=request.user,
                )
            except services.AssessmentLocked as exc:
                return _locked(exc)
            except DjangoValidationError as exc:
                raise _invalid(exc) from exc
        return Response(
            ReviewCommentSerializer(
                assessment.review_comments.select_related("author"), many=True
            ).data
        )

    @extend_schema(request=None, responses={200: ScorecardSerializer, 409: LOCKED})
    @action(detail=True, methods=["post"])
    def finalize(self, request, pk=None):
        """Score the answers, store the result and lock the assessment; returns the result.
        Four-eyes: the finaliser is a CoE staff member who answered none of the criteria
        (``AUDIT_FOUR_EYES``); ``warnings`` flags a result with under half its rated
        criteria evidenced."""
        assessment = self.get_object()
        try:
            result = services.assessment_finalize(assessment=assessment, user=request.user)
        except services.AssessmentLocked as exc:
            return _locked(exc)
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(result)

    def _move(self, request, to: str) -> Response:
        assessment = self.get_object()
        try:
            assessment = services.assessment_transition(
                assessment=assessment, to=to, user=request.user
            )
        except services.AssessmentLocked as exc:
            return _locked(exc)
        return Response(self.get_serializer(self.get_queryset().get(pk=assessment.pk)).data)

    @extend_schema(request=None, responses={200: AssessmentSerializer, 409: LOCKED})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Draft → in progress."""
        return self._move(request, AssessmentStatus.IN_PROGRESS)

    @extend_schema(request=None, responses={200: AssessmentSerializer, 409: LOCKED})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """In progress → in review."""
        return self._move(request, AssessmentStatus.IN_REVIEW)

    @extend_schema(request=None, responses={200: AssessmentSerializer, 409: LOCKED})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """In review → in progress (the reviewer sends it back)."""
        return self._move(request, AssessmentStatus.IN_PROGRESS)

    @extend_schema(responses={200: SignalReadingSerializer(many=True), 409: LOCKED})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def signals(self, request, pk=None):
        """GET: the evidence signals' readings and suggested ratings. POST: measure again."""
        assessment = self.get_object()
        if request.method == "POST":
            try:
                services.assessment_refresh_signals(assessment=assessment)
            except services.AssessmentLocked as exc:
                return _locked(exc)
        return Response(
            SignalReadingSerializer(
                assessment.signal_readings.order_by("criterion"), many=True
            ).data
        )

    @extend_schema(responses=ScorecardSerializer)
    @action(detail=True, methods=["get"])
    def score(self, request, pk=None):
        """The result: stored when final, else a preview of the current answers."""
        assessment = self.get_object()
        if assessment.is_final:
            return Response(assessment.result)
        result = services.assessment_score(assessment)
        return Response(
            services.result_document(
                assessment, result, assessment.assessed_on or timezone.localdate()
            )
        )

    @extend_schema(
        request={"multipart/form-data": EvidenceUploadSerializer},
        responses={201: EvidenceFileSerializer, 409: LOCKED},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def evidence(self, request, pk=None):
        """Upload a file backing one criterion's answer (size and type limited)."""
        assessment = self.get_object()
        form = EvidenceUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            stored = answers.evidence_file_add(
                assessment=assessment,
                criterion=form.validated_data["criterion"],
                upload=form.validated_data["file"],
                user=request.user,
            )
        except services.AssessmentLocked as exc:
            return _locked(exc)
        except DjangoValidationError as exc:
            raise _invalid(exc) from exc
        return Response(EvidenceFileSerializer(stored).data, status=status.HTTP_201_CREATED)


class FactoryScorecardView(APIView):
    """``/api/factories/{slug}/scorecard/``: the latest final assessment's stored result."""

    @extend_schema(
        responses={200: ScorecardSerializer, 404: OpenApiResponse(description="Not found")}
    )
    def get(self, request, slug: str):
        """The latest final result, with ``previous`` (the audit before it: stage and
        index) and ``change`` (index and stage since then; null without a previous one)."""
        factory = get_object_or_404(visible_factories(request.user), slug=slug)
        self.check_object_permissions(request, factory)
        latest = latest_final(factory)
        if latest is None or not latest.result:
            return Response(
                {"detail": f"{factory.name} has no final assessment yet."},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response({**latest.result, **scorecard_trend(latest)})
