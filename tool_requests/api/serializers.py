"""Serializers of the tool-request API (``/api/tool-requests/``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from coe.api.fields import FactoryField, ScopedPrimaryKeyRelatedField
from registry.api.serializers import _raise
from registry.models import Capability, Tool
from tool_requests import services as request_services
from tool_requests.models import RequestComment, RequestTransition, ToolRequest
from tool_requests.notifications import unsafe_header_text
from tool_requests.selectors import requests_visible


class ProposedToolSerializer(serializers.Serializer):
    """A tool the registry does not have yet."""

    # Not trimmed here: a line break anywhere, trailing ones included, is refused (the name
    # reaches mail subjects); the service trims what it keeps.
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    vendor = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    homepage = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        errors = {
            field: "Line breaks and control characters are not allowed here."
            for field in ("name", "vendor")
            if unsafe_header_text(attrs.get(field) or "")
        }
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CheckSerializer(serializers.Serializer):
    check = serializers.CharField()
    result = serializers.ChoiceField(choices=["pass", "warn", "block"])
    message = serializers.CharField()


class TransitionSerializer(serializers.ModelSerializer):
    """One step of the request's history: who took it, in which capacity (requester,
    business_owner, coe_staff), from which status to which."""

    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = RequestTransition
        fields = ["action", "from_status", "to_status", "actor", "capacity", "comment", "at"]


# "ToolRequest" would clash with the request body of a Tool in the OpenAPI components.
@extend_schema_serializer(component_name="ToolRequestEntry")
class ToolRequestSerializer(serializers.ModelSerializer):
    """A request; write ``tool`` (a registry slug) or ``proposed_tool``, never both."""

    factory = FactoryField()  # a factory the caller does not see is "does not exist" (400)
    requester = serializers.SlugRelatedField(slug_field="username", read_only=True)
    tool = serializers.SlugRelatedField(
        slug_field="slug", queryset=Tool.objects.all(), allow_null=True, required=False
    )
    tool_name = serializers.CharField(read_only=True, allow_null=True)
    proposed_tool = ProposedToolSerializer(required=False, allow_null=True)
    capability = serializers.SlugRelatedField(
        slug_field="slug", queryset=Capability.objects.all(), allow_null=True, required=False
    )
    checks = CheckSerializer(many=True, read_only=True)
    history = TransitionSerializer(source="transitions", many=True, read_only=True)
    owner_approver = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    coe_approver = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    due_on = serializers.DateField(source="current_due_on", read_only=True, allow_null=True)
    overdue = serializers.BooleanField(read_only=True)
    exception_expired = serializers.BooleanField(read_only=True)

    class Meta:
        model = ToolRequest
        fields = [
            "id", "factory", "requester", "tool", "tool_name", "proposed_tool", "capability",
            "justification", "seats", "estimated_annual_cost", "needed_by", "status", "checks",
            "fast_track", "exception_expires_on", "exception_expired", "owner_due_on", "coe_due_on",
            "provision_due_on", "due_on", "overdue", "owner_approver", "coe_approver",
            "adoption", "created_at", "submitted_at", "decided_at", "history",
        ]  # fmt: skip
        read_only_fields = [
            "status", "fast_track", "exception_expires_on", "owner_due_on", "coe_due_on",
            "provision_due_on", "adoption", "created_at", "submitted_at", "decided_at",
        ]  # fmt: skip

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["proposed_tool"] = (
            {
                "name": instance.proposed_name,
                "vendor": instance.proposed_vendor,
                "homepage": instance.proposed_homepage,
            }
            if instance.proposed_name
            else None
        )
        return data

    def _fields(self, validated: dict) -> dict:
        if "proposed_tool" in validated:
            proposed = validated.pop("proposed_tool") or {}
            validated["proposed_name"] = proposed.get("name", "")
            validated["proposed_vendor"] = proposed.get("vendor", "")
            validated["proposed_homepage"] = proposed.get("homepage", "")
        return validated

    def create(self, validated_data):
        fields = self._fields(dict(validated_data))
        try:
            return request_services.tool_request_create(
                requester=self.context["request"].user, **fields
            )
        except DjangoValidationError as exc:
            _raise(exc)

    def update(self, instance, validated_data):
        fields = self._fields(dict(validated_data))
        if "factory" in fields and fields.pop("factory") != instance.factory:
            raise serializers.ValidationError({"factory": "A request stays with its factory."})
        try:
            return request_services.tool_request_update(
                tool_request=instance, actor=self.context["request"].user, **fields
            )
        except DjangoValidationError as exc:
            _raise(exc)


class PreviewSerializer(serializers.Serializer):
    """The fields of a draft, for the live policy preview (nothing is stored)."""

    factory = FactoryField()
    tool = serializers.SlugRelatedField(
        slug_field="slug", queryset=Tool.objects.all(), allow_null=True, required=False
    )
    proposed_tool = ProposedToolSerializer(required=False, allow_null=True)
    capability = serializers.SlugRelatedField(
        slug_field="slug", queryset=Capability.objects.all(), allow_null=True, required=False
    )
    seats = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    estimated_annual_cost = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )


class PreviewResultSerializer(serializers.Serializer):
    checks = CheckSerializer(many=True)
    fast_track = serializers.BooleanField()


class ActionSerializer(serializers.Serializer):
    """Input of submit / approve / reject / withdraw / provision."""

    comment = serializers.CharField(required=False, allow_blank=True, default="")
    exception_expires_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="CoE approval of a hold- or retired-ring tool: the exception's expiry date.",
    )


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    # Only comments of requests the caller sees: any other id is "does not exist".
    parent = ScopedPrimaryKeyRelatedField(
        lambda user: RequestComment.objects.filter(request__in=requests_visible(user)),
        allow_null=True,
        required=False,
    )

    class Meta:
        model = RequestComment
        fields = ["id", "parent", "author", "body", "created_at"]
        read_only_fields = ["created_at"]
