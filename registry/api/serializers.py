"""Serializers of the registry API."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers

from coe.api.dates import DateField
from coe.api.fields import (
    FactoryField,
    ListedListSerializer,
    ListedSlugRelatedField,
    UserField,
)
from coe.choices import FactoryKind
from coe.prefetch import forget, rows
from registry import services
from registry.choices import AdoptionSource, Ring
from registry.models import (
    FACTORY_PREVIEW,
    Adoption,
    Capability,
    DuplicateFinding,
    Process,
    ProcessAdoption,
    ProcessVersion,
    RingChange,
    Tool,
)

User = get_user_model()


def _raise(exc: DjangoValidationError):
    raise serializers.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
    ) from exc


class CapabilitySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="slug", queryset=Capability.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Capability
        fields = ["id", "name", "slug", "parent", "applies_to", "description", "order"]


class RingChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = RingChange
        list_serializer_class = ListedListSerializer
        fields = ["factory_kind", "from_ring", "to_ring", "reason", "changed_by", "changed_at"]


class ToolSerializer(serializers.ModelSerializer):
    capabilities = ListedSlugRelatedField(
        slug_field="slug", queryset=Capability.objects.all(), many=True, required=False
    )
    aliases = serializers.ListField(
        source="alias_names",
        child=serializers.CharField(max_length=200),
        required=False,
        help_text="Other names (searchable, used by name resolution).",
    )
    owner = UserField(allow_null=True, required=False)
    ring_overrides = serializers.SerializerMethodField()
    ring_history = RingChangeSerializer(source="ring_changes", many=True, read_only=True)
    slug = serializers.SlugField(required=False)

    class Meta:
        model = Tool
        fields = [
            "id", "slug", "name", "vendor", "aliases", "capabilities", "homepage",
            "description", "licence_model", "annual_cost_per_seat", "owner", "ring",
            "ring_overrides", "ring_history", "introduced_on", "sunset_on", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["ring", "created_at", "updated_at"]

    def get_ring_overrides(self, obj: Tool) -> dict[str, str]:
        return {o.factory_kind: o.ring for o in rows(obj, "ring_overrides")}

    def validate_aliases(self, value: list[str]) -> list[str]:
        return [v.strip() for v in value if v.strip()]

    def create(self, validated_data):
        request = self.context["request"]
        ring = self.initial_data.get("ring", Ring.ASSESS)
        if ring not in Ring.values:
            raise serializers.ValidationError({"ring": f"'{ring}' is not a valid ring."})
        try:
            return services.tool_create(
                actor=request.user,
                ring=ring,
                aliases=validated_data.pop("alias_names", []),
                capabilities=validated_data.pop("capabilities", []),
                **validated_data,
            )
        except DjangoValidationError as exc:
            _raise(exc)

    @transaction.atomic
    def update(self, instance, validated_data):
        aliases = validated_data.pop("alias_names", None)
        forget(instance)  # the answer shows the relations as written, not as read
        instance = super().update(instance, validated_data)
        if aliases is not None:
            wanted = {a.lower(): a for a in aliases}
            instance.aliases.exclude(name__in=wanted.values()).delete()
            try:
                for alias in wanted.values():
                    services.tool_alias_add(tool=instance, name=alias)
            except DjangoValidationError as exc:
                _raise(exc)
        return instance


class RingInputSerializer(serializers.Serializer):
    ring = serializers.ChoiceField(choices=Ring.choices)
    reason = serializers.CharField(allow_blank=False)
    factory_kind = serializers.ChoiceField(
        choices=FactoryKind.choices, required=False, allow_blank=True, default=""
    )


class ProcessVersionSerializer(serializers.ModelSerializer):
    steps_html = serializers.CharField(read_only=True)
    adopted_by = serializers.SerializerMethodField()

    class Meta:
        model = ProcessVersion
        fields = ["id", "version", "steps", "steps_html", "links", "released_on", "adopted_by"]

    def get_adopted_by(self, obj: ProcessVersion) -> list[str]:
        return [a.factory.slug for a in obj.adoptions.all()]

    def validate_links(self, value):
        if not isinstance(value, list) or not all(
            isinstance(v, str) and v.startswith(("http://", "https://")) for v in value
        ):
            raise serializers.ValidationError("A list of http(s) URLs.")
        return value


class ProcessSerializer(serializers.ModelSerializer):
    capability = serializers.SlugRelatedField(
        slug_field="slug", queryset=Capability.objects.all(), allow_null=True, required=False
    )
    owner = UserField(allow_null=True, required=False)
    owner_factory = FactoryField(allow_null=True, required=False)
    versions = ProcessVersionSerializer(many=True, read_only=True)

    class Meta:
        model = Process
        fields = [
            "id", "slug", "name", "description", "capability", "owner", "owner_factory",
            "versions", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]


class ProcessAdoptInputSerializer(serializers.Serializer):
    factory = FactoryField()
    version = serializers.CharField()


class AdoptionSerializer(serializers.ModelSerializer):
    factory = FactoryField()
    tool = serializers.SlugRelatedField(
        slug_field="slug", queryset=Tool.objects.all(), allow_null=True, required=False
    )
    tool_name = serializers.CharField(
        source="tool.name", read_only=True, default=None, allow_null=True
    )
    effective_annual_cost = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True
    )

    class Meta:
        model = Adoption
        fields = [
            "id", "factory", "declared_name", "declared_vendor", "declared_capability", "tool",
            "tool_name", "seats", "annual_cost", "effective_annual_cost", "source", "status",
            "resolution_confidence", "first_seen", "last_seen",
        ]  # fmt: skip
        # The server sets where an adoption comes from and how sure its resolution is: the
        # API declares (source "declared"); only provisioning a tool request records "request".
        read_only_fields = ["source", "resolution_confidence", "first_seen", "last_seen"]
        validators = []  # (factory, name) repeats update the existing row (see create)

    def create(self, validated_data):
        validated_data.pop("status", None)
        return services.adoption_create(**validated_data, source=AdoptionSource.DECLARED)

    def update(self, instance, validated_data):
        if "declared_name" in validated_data or "factory" in validated_data:
            raise serializers.ValidationError(
                {"declared_name": "Create a new adoption instead of renaming this one."}
            )
        if "tool" in validated_data:
            instance.resolution_confidence = 1.0 if validated_data["tool"] else None
        return super().update(instance, validated_data)


# The adoption list renders its page from column values (no model instances): the
# shape is AdoptionSerializer's, and every plain field goes through that serializer's own
# field (tests/registry/test_api.py compares the two).
ADOPTION_VALUES = [
    "id", "factory__slug", "declared_name", "declared_vendor", "declared_capability",
    "tool_id", "tool__slug", "tool__name", "tool__annual_cost_per_seat", "seats",
    "annual_cost", "source", "status", "resolution_confidence", "first_seen", "last_seen",
]  # fmt: skip
_ADOPTION_FROM = {"factory": "factory__slug", "tool": "tool__slug", "tool_name": "tool__name"}


def _effective_cost(row: dict) -> Decimal:
    """``Adoption.effective_annual_cost`` of a row of ``ADOPTION_VALUES``."""
    if row["annual_cost"] is not None:
        return row["annual_cost"]
    per_seat = row["tool__annual_cost_per_seat"]
    if row["seats"] and row["tool_id"] and per_seat is not None:
        return per_seat * row["seats"]
    return Decimal("0")


def adoption_list_rows(page: list[dict], fields) -> list[dict]:
    """AdoptionSerializer's rendering of ``page`` (rows of ``ADOPTION_VALUES``);
    ``fields``: the serializer's bound fields."""
    plain = [
        (name, fields[name].to_representation)
        for name in AdoptionSerializer.Meta.fields
        if name not in _ADOPTION_FROM and name != "effective_annual_cost"
    ]
    cost = fields["effective_annual_cost"].to_representation
    out = []
    for row in page:
        item = {name: None if row[name] is None else render(row[name]) for name, render in plain}
        item.update({name: row[column] for name, column in _ADOPTION_FROM.items()})
        item["effective_annual_cost"] = cost(_effective_cost(row))
        out.append({name: item[name] for name in AdoptionSerializer.Meta.fields})
    return out


class MapNameInputSerializer(serializers.Serializer):
    declared_name = serializers.CharField(max_length=200)
    tool = serializers.SlugRelatedField(slug_field="slug", queryset=Tool.objects.all())


class UnresolvedNameSerializer(serializers.Serializer):
    normalized_name = serializers.CharField()
    declared_name = serializers.CharField()
    adoptions = serializers.IntegerField()
    factories = serializers.ListField(child=serializers.CharField())
    candidate = serializers.CharField(allow_null=True)
    candidate_confidence = serializers.FloatField()


class _FindingListSerializer(serializers.ListSerializer):
    """Computes realised savings and plan progress for a whole page in two queries."""

    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        _savings_context(self.child.context, items)
        return super().to_representation(items)


def _savings_context(context: dict, findings: list) -> None:
    """Realised savings added up in the database from the stake rows (memoised until the
    registry changes), as the duplicates page does; a finding without a baseline has
    saved 0. A list leaves each finding's ``baseline`` (one entry per adoption covered)
    unread."""
    from registry.consolidation import plan_progress
    from registry.selectors import realised_by_finding

    saved = realised_by_finding([f.pk for f in findings])
    context["savings"] = {f.pk: saved.get(f.pk) or Decimal("0") for f in findings}
    context["progress"] = plan_progress(findings)


class DuplicateFindingSerializer(serializers.ModelSerializer):
    """A finding; detection writes most of it. CoE staff may also record one by hand
    (its key starts with ``manual:`` and detection leaves it alone)."""

    capability = serializers.SlugRelatedField(
        slug_field="slug", queryset=Capability.objects.all(), allow_null=True, required=False
    )
    scope = FactoryField(allow_null=True, required=False)
    tools = ListedSlugRelatedField(slug_field="slug", many=True, queryset=Tool.objects.all())
    factories = FactoryField(many=True, required=False)
    suggested_standard = serializers.SlugRelatedField(
        slug_field="slug", queryset=Tool.objects.all(), allow_null=True, required=False
    )
    waiver_approver = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    realised_savings = serializers.SerializerMethodField()
    plan = serializers.SerializerMethodField()

    class Meta:
        model = DuplicateFinding
        list_serializer_class = _FindingListSerializer
        fields = [
            "id", "key", "kind", "capability", "scope", "tools", "factories", "factory_count",
            "annual_cost_at_stake", "suggested_standard", "status", "waiver_reason",
            "waiver_approver", "waiver_expires_on", "note", "first_detected", "last_detected",
            "resolved_at", "cost_at_detection", "realised_savings", "plan",
        ]  # fmt: skip
        read_only_fields = [
            "key", "status", "waiver_reason", "waiver_expires_on", "first_detected",
            "last_detected", "resolved_at", "cost_at_detection", "factory_count",
        ]  # fmt: skip

    def to_representation(self, finding):
        """In a list, ``factories`` is the first ``FACTORY_PREVIEW`` slugs stored with the
        finding (``factory_count`` says how many there are); one finding has them all."""
        if self.context.get("factory_preview"):
            self.fields.pop("factories", None)
            data = super().to_representation(finding)
            data["factories"] = list(finding.factory_preview)
            return data
        return super().to_representation(finding)

    def _store_preview(self, finding):
        ids = sorted(finding.factories.values_list("pk", "slug"))
        finding.factory_count = len(ids)
        finding.factory_preview = [slug for _pk, slug in ids[:FACTORY_PREVIEW]]
        finding.save(update_fields=["factory_count", "factory_preview"])
        return finding

    def _computed(self, finding, name: str):
        if "savings" not in self.context or finding.pk not in self.context["savings"]:
            _savings_context(self.context, [finding])
        return self.context[name].get(finding.pk)

    def get_realised_savings(self, finding) -> str:
        from registry.consolidation import money

        return money(self._computed(finding, "savings"))

    def get_plan(self, finding) -> dict | None:
        """The consolidation plan with its progress, or null."""
        if not finding.plan_standard_id:
            return None
        return {
            "standard": finding.plan_standard.slug,
            "factories": [f.slug for f in rows(finding, "plan_factories")],
            "due_on": finding.plan_due_on,
            "owner": finding.plan_owner.username if finding.plan_owner else None,
            "progress": self._computed(finding, "progress"),
        }

    def create(self, validated_data):
        validated_data["key"] = f"manual:{uuid.uuid4().hex}"
        return self._store_preview(super().create(validated_data))

    def update(self, instance, validated_data):
        forget(instance)  # the answer shows the relations as written, not as read
        return self._store_preview(super().update(instance, validated_data))


class MergeInputSerializer(serializers.Serializer):
    into = serializers.SlugRelatedField(slug_field="slug", queryset=Tool.objects.all())
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class PlanInputSerializer(serializers.Serializer):
    standard = serializers.SlugRelatedField(slug_field="slug", queryset=Tool.objects.all())
    factories = FactoryField(many=True)
    due_on = DateField()
    owner = UserField(required=False)


class FindingActionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class WaiverSerializer(serializers.Serializer):
    reason = serializers.CharField()
    approver = UserField(required=False)
    expires_on = DateField()


class ProcessAdoptionSerializer(serializers.ModelSerializer):
    factory = FactoryField()
    process = serializers.SlugRelatedField(
        source="process_version.process", slug_field="slug", read_only=True
    )
    version = serializers.CharField(source="process_version.version", read_only=True)
    process_version = serializers.PrimaryKeyRelatedField(queryset=ProcessVersion.objects.all())

    class Meta:
        model = ProcessAdoption
        fields = ["id", "factory", "process", "version", "process_version", "adopted_on"]
