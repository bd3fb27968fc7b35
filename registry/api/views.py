"""The registry API: capabilities, tools, processes, adoptions, duplicate findings, uploads."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, ProtectedError
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from coe.api.history import HistoryMixin
from coe.choices import Role
from coe.models import Factory
from coe.prefetch import listed
from coe.scoping import restrict, writable_factory_ids
from coe.tables import TableTooLarge
from registry import consolidation, services
from registry.api.serializers import (
    ADOPTION_VALUES,
    AdoptionSerializer,
    CapabilitySerializer,
    DuplicateFindingSerializer,
    FindingActionSerializer,
    MapNameInputSerializer,
    MergeInputSerializer,
    PlanInputSerializer,
    ProcessAdoptionSerializer,
    ProcessSerializer,
    ProcessVersionSerializer,
    RingInputSerializer,
    ToolSerializer,
    UnresolvedNameSerializer,
    WaiverSerializer,
    _raise,
    adoption_list_rows,
)
from registry.filtersets import (
    AdoptionFilterSet,
    CapabilityFilterSet,
    DuplicateFindingFilterSet,
    ProcessAdoptionFilterSet,
    ProcessFilterSet,
    ToolFilterSet,
)
from registry.importers import ImportRejected, import_adoptions, import_registry, read_file
from registry.models import (
    Adoption,
    Capability,
    DetectionRun,
    Process,
    ProcessAdoption,
    ProcessVersion,
    RingChange,
    Tool,
)
from registry.selectors import findings_visible, unresolved_names
from registry.tasks import queue_detection


class ProtectedDestroyMixin:
    """A delete that other rows still point at is a 409 with the reason, not a 500."""

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as exc:
            raise Conflict(
                f"{instance} is still in use ({len(exc.protected_objects)} rows refer to it)."
            ) from exc


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "Still in use."
    default_code = "conflict"


class CapabilityViewSet(HistoryMixin, ProtectedDestroyMixin, viewsets.ModelViewSet):
    """The capability taxonomy; every signed-in user reads it, CoE staff edit it."""

    serializer_class = CapabilitySerializer
    filterset_class = CapabilityFilterSet
    lookup_field = "slug"
    ordering_fields = ["name", "order"]

    def get_queryset(self):
        return Capability.objects.select_related("parent")


class ToolViewSet(HistoryMixin, ProtectedDestroyMixin, viewsets.ModelViewSet):
    """Registry tools with rings and aliases; every signed-in user reads, CoE staff edit."""

    serializer_class = ToolSerializer
    filterset_class = ToolFilterSet
    lookup_field = "slug"
    ordering_fields = ["name", "vendor", "ring", "annual_cost_per_seat"]

    def get_queryset(self):
        return Tool.objects.select_related("owner").prefetch_related(
            listed("capabilities"),
            listed("aliases"),
            listed("ring_overrides"),
            listed("ring_changes", RingChange.objects.select_related("changed_by")),
        )

    @extend_schema(request=RingInputSerializer, responses=ToolSerializer)
    @action(detail=True, methods=["post"], url_path="set-ring")
    def set_ring(self, request, slug=None):
        """Move the tool to another ring (globally or for one factory kind), with a reason."""
        tool = self.get_object()
        data = RingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.tool_set_ring(tool=tool, actor=request.user, **data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=tool.pk)).data)

    @extend_schema(request=MergeInputSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def merge(self, request, slug=None):
        """Merge this tool into ``into`` (CoE staff): adoptions, requests, ring history,
        aliases move; this tool's name becomes an alias; the same_tool finding resolves."""
        tool = self.get_object()
        data = MergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = consolidation.tool_merge(
                source=tool,
                target=data.validated_data["into"],
                comment=data.validated_data["comment"],
                actor=request.user,
            )
        except DjangoValidationError as exc:
            _raise(exc)
        return Response(result)


class ProcessViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Reusable processes and their versions; every signed-in user reads, CoE staff edit."""

    serializer_class = ProcessSerializer
    filterset_class = ProcessFilterSet
    lookup_field = "slug"
    ordering_fields = ["name"]

    def get_queryset(self):
        # Adopters are shown among the factories the user may see.
        adoptions = restrict(ProcessAdoption.objects.select_related("factory"), self.request.user)
        versions = ProcessVersion.objects.prefetch_related(
            Prefetch("adoptions", queryset=adoptions)
        )
        return Process.objects.select_related(
            "capability", "owner", "owner_factory"
        ).prefetch_related(Prefetch("versions", queryset=versions))

    @extend_schema(request=ProcessVersionSerializer, responses=ProcessSerializer)
    @action(detail=True, methods=["post"])
    def versions(self, request, slug=None):
        """Publish a new version of the process (steps in Markdown, links)."""
        process = self.get_object()
        data = ProcessVersionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if process.versions.filter(version=data.validated_data["version"]).exists():
            raise serializers.ValidationError({"version": "This version exists already."})
        data.save(process=process)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=process.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class ProcessAdoptionViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Which factory follows which process version (rows of the user's factories)."""

    serializer_class = ProcessAdoptionSerializer
    filterset_class = ProcessAdoptionFilterSet
    ordering_fields = ["adopted_on"]

    def get_queryset(self):
        return restrict(
            ProcessAdoption.objects.select_related("factory", "process_version__process"),
            self.request.user,
        )


class AdoptionViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Which factory uses which tool: the declared name and the resolved tool (null while
    unresolved). Rows of the user's factories; CoE staff and the factory's business owners
    write."""

    serializer_class = AdoptionSerializer
    filterset_class = AdoptionFilterSet
    ordering_fields = ["declared_name", "annual_cost", "seats", "last_seen"]
    # An unfiltered list's count: the stored per-factory adoption counts (coe.rowcounts).
    row_count_table = Adoption._meta.db_table

    def get_queryset(self):
        return restrict(
            Adoption.objects.select_related("factory", "tool"), self.request.user
        ).order_by("factory__name", "declared_name", "pk")

    def list(self, request, *args, **kwargs):
        """A page of adoptions rendered from column values (see ``adoption_list_rows``)."""
        page = self.paginate_queryset(
            self.filter_queryset(self.get_queryset()).values(*ADOPTION_VALUES)
        )
        return self.get_paginated_response(adoption_list_rows(page, self.get_serializer().fields))

    def perform_create(self, serializer):
        # The factory is one the caller sees (else 400); may they add adoptions to it?
        self.check_object_permissions(self.request, serializer.validated_data["factory"])
        services.adoptions_changed({serializer.save().factory_id})

    def perform_update(self, serializer):
        before = serializer.instance.factory_id
        services.adoptions_changed({before, serializer.save().factory_id})

    def perform_destroy(self, instance):
        factory_id = instance.factory_id
        super().perform_destroy(instance)
        services.adoptions_changed({factory_id})

    @extend_schema(responses=UnresolvedNameSerializer(many=True))
    @action(detail=False, methods=["get"])
    def unresolved(self, request):
        """The unresolved-names queue: declared names no registry tool matched, grouped."""
        rows = unresolved_names(self.get_queryset())
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(UnresolvedNameSerializer(page, many=True).data)

    @extend_schema(request=MapNameInputSerializer, responses={200: dict})
    @action(detail=False, methods=["post"], url_path="map")
    def map_name(self, request):
        """CoE staff map a declared name to a tool: it becomes an alias, and every
        unresolved adoption of that name resolves."""
        data = MapNameInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            count = services.adoption_map_name(actor=request.user, **data.validated_data)
        except DjangoValidationError as exc:
            _raise(exc)
        return Response({"resolved": count, "tool": data.validated_data["tool"].slug})


class DuplicateFindingViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Duplicate-toolset findings (computed by detection). Visible when scoped to one of
    the user's factories or involving one; CoE staff move them through their lifecycle."""

    serializer_class = DuplicateFindingSerializer
    filterset_class = DuplicateFindingFilterSet
    ordering_fields = ["annual_cost_at_stake", "last_detected", "kind", "status"]

    def get_queryset(self):
        if self.action == "list":
            return self._list_queryset()
        return (
            findings_visible(self.request.user)
            .select_related(
                "capability",
                "scope",
                "suggested_standard",
                "waiver_approver",
                "plan_standard",
                "plan_owner",
            )
            .prefetch_related("tools", "plan_factories", "factories")
            .order_by("-annual_cost_at_stake", "key")
        )

    def _list_queryset(self):
        """A page of findings as the list shows them: the stored preview of factories
        (one finding shows them all), no detail (for a portfolio-wide finding it names
        every factory involved), and only the slugs of tools and planned factories. The
        references most findings leave empty (waiver approver, plan standard and owner)
        are prefetched — no query while none is set — not joined: each join multiplies
        the join orders the database plans for every page."""
        slugs = ("id", "slug")
        return (
            findings_visible(self.request.user)
            .select_related("capability", "scope", "suggested_standard")
            .prefetch_related(
                listed("tools", Tool.objects.only(*slugs)),
                listed("plan_factories", Factory.objects.only(*slugs)),
                "waiver_approver",
                "plan_standard",
                "plan_owner",
            )
            .defer("detail", "baseline")
            .order_by("-annual_cost_at_stake", "key")
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "factory_preview": self.action == "list"}

    def _act(self, request, action_name: str):
        finding = self.get_object()  # 404 outside the caller's findings, then the rule
        try:
            if action_name == "waive":
                data = WaiverSerializer(data=request.data, context=self.get_serializer_context())
                data.is_valid(raise_exception=True)
                services.finding_waive(
                    finding=finding,
                    reason=data.validated_data["reason"],
                    approver=data.validated_data.get("approver") or request.user,
                    expires_on=data.validated_data["expires_on"],
                )
            else:
                data = FindingActionSerializer(data=request.data)
                data.is_valid(raise_exception=True)
                services.finding_transition(
                    finding=finding, action=action_name, note=data.validated_data["comment"]
                )
        except DjangoValidationError as exc:
            _raise(exc)
        return Response(self.get_serializer(self.get_queryset().get(pk=finding.pk)).data)

    @extend_schema(request=FindingActionSerializer, responses=DuplicateFindingSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._act(request, "acknowledge")

    @extend_schema(request=FindingActionSerializer, responses=DuplicateFindingSerializer)
    @action(detail=True, methods=["post"])
    def consolidate(self, request, pk=None):
        return self._act(request, "consolidate")

    @extend_schema(request=FindingActionSerializer, responses=DuplicateFindingSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._act(request, "resolve")

    @extend_schema(request=FindingActionSerializer, responses=DuplicateFindingSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._act(request, "reopen")

    @extend_schema(request=PlanInputSerializer, responses=DuplicateFindingSerializer)
    @action(detail=True, methods=["post"])
    def plan(self, request, pk=None):
        """Record a consolidation plan: ``{standard, factories, due_on, owner?}`` (the owner
        defaults to the caller); its progress is read from adoptions."""
        finding = self.get_object()
        data = PlanInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            consolidation.finding_plan(
                finding=finding,
                standard=values["standard"],
                factories=values["factories"],
                due_on=values["due_on"],
                owner=values.get("owner") or request.user,
            )
        except DjangoValidationError as exc:
            _raise(exc)
        return Response(self.get_serializer(self.get_queryset().get(pk=finding.pk)).data)

    @extend_schema(request=WaiverSerializer, responses=DuplicateFindingSerializer)
    @action(detail=True, methods=["post"])
    def waive(self, request, pk=None):
        """Waive: ``{reason, expires_on, approver?}`` (approver defaults to the caller)."""
        return self._act(request, "waive")

    @extend_schema(request=None, responses={202: dict, 200: dict})
    @action(detail=False, methods=["get", "post"])
    def detect(self, request):
        """POST: queue a full detection on the cpu queue (CoE staff) and answer 202 with the
        job; GET ``?job=<id>``: that job (``status`` ∈ queued, running, done, failed, and
        its summary once done); GET alone: the latest 20 jobs."""
        if request.method == "POST":
            run = queue_detection(requested_by=request.user)
            return Response(detection_run_dict(run, request), status=status.HTTP_202_ACCEPTED)
        job = request.query_params.get("job")
        if job is not None:
            run = DetectionRun.objects.filter(pk=int(job) if job.isdigit() else None).first()
            if run is None:
                raise exceptions.NotFound("No such detection job.")
            return Response(detection_run_dict(run, request))
        return Response(
            {"results": [detection_run_dict(r, request) for r in DetectionRun.objects.all()[:20]]}
        )


def detection_run_dict(run: DetectionRun, request) -> dict:
    return {
        "id": run.pk,
        "status": run.status,
        "url": request.build_absolute_uri(f"{reverse('api:duplicate-detect')}?job={run.pk}"),
        "factories": run.factories,
        "capabilities": run.capabilities,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "summary": run.summary,
        "error": run.error,
    }


class SavingsView(APIView):
    """Realised savings of the findings the caller sees: per finding, factory, business
    unit and the portfolio, with the cumulative monthly trend."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        findings = list(findings_visible(request.user).order_by("first_detected", "pk"))
        return Response(
            consolidation.savings_summary(findings, factory_ids=writable_factory_ids(request.user))
        )


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV or XLSX in the CONTRACT.md format.")


def handle_upload(request, kind: str) -> Response:
    """Shared by the two upload endpoints: 200 with a summary, or 400 with one line per row."""
    data = UploadSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    upload = data.validated_data["file"]
    try:
        table = read_file(upload, upload.name)
        if kind == "registry":
            summary = import_registry(table, actor=request.user)
        else:
            own = writable_factory_ids(request.user, [Role.BUSINESS_OWNER])
            summary = import_adoptions(table, factories=own)
    except TableTooLarge as exc:
        return Response({"detail": f"File rejected, nothing imported: {exc}."}, 413)
    except ImportRejected as exc:
        return Response({"detail": "File rejected, nothing imported.", "errors": exc.errors}, 400)
    return Response(
        {
            "created": summary.created,
            "updated": summary.updated,
            "unresolved": summary.unresolved,
            "capabilities_created": summary.capabilities_created,
            "matched": summary.matched,
        }
    )


class _UploadView(APIView):
    """Upload a CSV/XLSX file; the file is rejected whole on any bad row."""

    parser_classes = [MultiPartParser, FormParser]
    kind = ""

    @extend_schema(request=UploadSerializer, responses={200: dict})
    def post(self, request):
        return handle_upload(request, self.kind)


class RegistryUploadView(_UploadView):
    """``POST /api/imports/registry/``: tools in the CONTRACT.md format."""

    kind = "registry"


class AdoptionsUploadView(_UploadView):
    """``POST /api/imports/adoptions/``: adoptions in the CONTRACT.md format. CoE staff
    import for any factory; a business owner for the factories they own (any other
    factory in the file is an error row)."""

    kind = "adoptions"
