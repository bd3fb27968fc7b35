"""``/api/tool-requests/``: requests, their transitions, the live policy preview, comments."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from coe.api.history import HistoryMixin
from registry.api.serializers import _raise
from tool_requests import services as request_services
from tool_requests.api.serializers import (
    ActionSerializer,
    CommentSerializer,
    PreviewResultSerializer,
    PreviewSerializer,
    ToolRequestSerializer,
)
from tool_requests.checks import fast_track_enabled, policy_checks, qualifies_for_fast_track
from tool_requests.filtersets import ToolRequestFilterSet
from tool_requests.selectors import requests_visible, with_details


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request is not in a status that allows this."
    default_code = "conflict"


class ToolRequestViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Tool requests of the user's factories (all for CoE staff). Members of a factory
    create drafts and submit or withdraw their own; the factory's business owner gives
    the first approval, CoE staff the second and mark the request provisioned."""

    serializer_class = ToolRequestSerializer
    filterset_class = ToolRequestFilterSet
    ordering_fields = ["created_at", "submitted_at", "needed_by", "status"]

    def get_queryset(self):
        return with_details(requests_visible(self.request.user)).order_by("-created_at", "-id")

    # Who may act is the policy's (coe/policy.py): the route's rule through the API's
    # permission class, each workflow step's rule in the service.
    def perform_create(self, serializer):
        # The route rule was asked without a factory; ask again with the one named.
        self.check_object_permissions(self.request, serializer.validated_data["factory"])
        serializer.save()

    def perform_destroy(self, instance):
        self._call(
            request_services.tool_request_delete, tool_request=instance, actor=self.request.user
        )

    def _call(self, service, **kwargs):
        try:
            return service(**kwargs)
        except request_services.TransitionConflict as exc:
            raise Conflict(str(exc)) from exc
        except DjangoValidationError as exc:
            _raise(exc)

    def perform_update(self, serializer):
        try:
            serializer.save()
        except request_services.TransitionConflict as exc:
            raise Conflict(str(exc)) from exc

    # --- transitions ---------------------------------------------------------------------
    def _transition(self, request, name: str) -> Response:
        tool_request = self.get_object()
        data = ActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self._call(
            request_services.tool_request_transition,
            tool_request=tool_request,
            action=name,
            actor=request.user,
            **data.validated_data,
        )
        fresh = self.get_queryset().get(pk=tool_request.pk)
        return Response(self.get_serializer(fresh).data)

    @extend_schema(request=ActionSerializer, responses={200: ToolRequestSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """The requester submits the draft; the checks are stored; the owner is mailed."""
        return self._transition(request, "submit")

    @extend_schema(request=ActionSerializer, responses={200: ToolRequestSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Owner step (submitted → owner_approved, or approved on the fast track), then the
        CoE step (owner_approved → approved; a hold-ring tool needs ``exception_expires_on``)."""
        return self._transition(request, "approve")

    @extend_schema(request=ActionSerializer, responses={200: ToolRequestSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """The approver of the current step rejects, with a comment."""
        return self._transition(request, "reject")

    @extend_schema(request=ActionSerializer, responses={200: ToolRequestSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """The requester withdraws the request (until it is provisioned)."""
        return self._transition(request, "withdraw")

    @extend_schema(request=ActionSerializer, responses={200: ToolRequestSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def provision(self, request, pk=None):
        """CoE staff mark an approved request provisioned: the adoption is created once."""
        return self._transition(request, "provision")

    # --- preview and comments -----------------------------------------------------------
    @extend_schema(request=PreviewSerializer, responses=PreviewResultSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """The policy checks of a request being typed (nothing is stored)."""
        data = PreviewSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        factory = fields["factory"]
        self.check_object_permissions(request, factory)
        proposed = fields.get("proposed_tool") or {}
        checks = policy_checks(
            factory=factory,
            tool=fields.get("tool"),
            proposed_name="" if fields.get("tool") else proposed.get("name", ""),
            capability=fields.get("capability"),
            seats=fields.get("seats"),
            estimated_annual_cost=fields.get("estimated_annual_cost"),
        )
        fast = fast_track_enabled() and qualifies_for_fast_track(checks)
        return Response({"checks": checks, "fast_track": fast})

    @extend_schema(request=CommentSerializer, responses=CommentSerializer(many=True))
    @action(detail=True, methods=["get", "post"])
    def comments(self, request, pk=None):
        """The comment threads of the request; POST ``{body, parent?}`` adds one."""
        tool_request = self.get_object()
        if request.method == "POST":
            data = CommentSerializer(data=request.data, context=self.get_serializer_context())
            data.is_valid(raise_exception=True)
            comment = self._call(
                request_services.request_comment_add,
                tool_request=tool_request,
                author=request.user,
                body=data.validated_data["body"],
                parent=data.validated_data.get("parent"),
            )
            return Response(CommentSerializer(comment).data, status=201)
        comments = tool_request.comments.select_related("author").order_by("created_at", "id")
        page = self.paginate_queryset(comments)
        return self.get_paginated_response(CommentSerializer(page, many=True).data)
