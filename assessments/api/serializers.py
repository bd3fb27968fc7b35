"""API shapes of the assessments app (CONTRACT.md: maturity models, assessments, scorecard)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from assessments.choices import STAGE_NAMES
from assessments.models import (
    Answer,
    Assessment,
    EvidenceFile,
    MaturityModel,
    ReviewComment,
    SignalReading,
)
from assessments.selectors import assessments_for, progress
from coe.api.fields import FactoryField, ScopedPrimaryKeyRelatedField, UserField

User = get_user_model()


class MaturityModelSerializer(serializers.ModelSerializer):
    description = serializers.SerializerMethodField()
    dimensions = serializers.SerializerMethodField()

    class Meta:
        model = MaturityModel
        fields = [
            "id",
            "key",
            "name",
            "version",
            "gating",
            "description",
            "evidence_freshness_days",
            "is_current",
            "content_hash",
            "source",
            "created_at",
            "dimensions",
        ]

    def get_description(self, obj: MaturityModel) -> str:
        return obj.definition.get("description", "")

    def get_dimensions(self, obj: MaturityModel) -> list[dict]:
        """Dimensions with their criteria, descriptors per stage and signals."""
        return [
            {
                "key": d["key"],
                "name": d["name"],
                "weight": d["weight"],
                "applies_to": d["applies_to"],
                "criteria": [
                    {
                        "key": c["key"],
                        "name": c["name"],
                        "weight": c["weight"],
                        "descriptors": c["descriptors"],
                        "signal": c.get("signal"),
                    }
                    for c in d["criteria"]
                ],
            }
            for d in obj.definition["dimensions"]
        ]


class AssessmentSerializer(serializers.ModelSerializer):
    factory = FactoryField()
    factory_id = serializers.IntegerField(read_only=True)
    model = serializers.PrimaryKeyRelatedField(
        queryset=MaturityModel.objects.all(),
        required=False,
        help_text="Model version id; default: the current version of the default model.",
    )
    model_key = serializers.CharField(source="model.key", read_only=True)
    model_version = serializers.IntegerField(source="model.version", read_only=True)
    assessor = UserField(required=False, allow_null=True)
    corrects = ScopedPrimaryKeyRelatedField(
        assessments_for,
        required=False,
        allow_null=True,
        help_text="The final assessment this one corrects.",
    )
    stage_name = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    finalized_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    corrected_by = serializers.SerializerMethodField(
        help_text="Ids of the assessments that correct this one (newer revisions)."
    )

    class Meta:
        model = Assessment
        fields = [
            "id",
            "factory",
            "factory_id",
            "model",
            "model_key",
            "model_version",
            "status",
            "assessor",
            "assessed_on",
            "notes",
            "corrects",
            "revision",
            "corrected_by",
            "finalized_by",
            "progress",
            "index",
            "stage",
            "stage_name",
            "result",
            "finalized_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "status",
            "revision",
            "index",
            "stage",
            "result",
            "finalized_at",
            "created_at",
            "updated_at",
        ]

    def get_stage_name(self, obj: Assessment) -> str | None:
        return STAGE_NAMES.get(obj.stage) if obj.stage else None

    def get_corrected_by(self, obj: Assessment) -> list[int]:
        return [c.pk for c in obj.corrections.all()]

    def get_progress(self, obj: Assessment) -> dict:
        """``{answered, total, percent}``"""
        return progress(obj, getattr(obj, "answered", None))

    def update(self, instance, validated_data):
        for frozen in ("factory", "model", "corrects"):
            value = validated_data.pop(frozen, None)
            if value is not None and value != getattr(instance, frozen):
                raise serializers.ValidationError(
                    {frozen: ["Cannot change once the assessment exists; open a new one."]}
                )
        return super().update(instance, validated_data)


class EvidenceFileSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = EvidenceFile
        fields = ["id", "name", "size", "content_type", "uploaded_at", "url"]

    def get_url(self, obj: EvidenceFile) -> str:
        return obj.get_absolute_url()


class AnswerSerializer(serializers.ModelSerializer):
    files = EvidenceFileSerializer(many=True, read_only=True)

    class Meta:
        model = Answer
        fields = [
            "criterion",
            "rating",
            "evidence",
            "links",
            "evidence_date",
            "comment",
            "suggested_rating",
            "suggestion",
            "files",
            "updated_at",
        ]


class AnswerInputSerializer(serializers.Serializer):
    """Documentation of one row of ``answers/`` (validation happens in the service)."""

    criterion = serializers.CharField()
    rating = serializers.IntegerField(min_value=1, max_value=5, allow_null=True)
    evidence = serializers.CharField(required=False, allow_blank=True)
    links = serializers.ListField(child=serializers.URLField(), required=False)
    evidence_date = serializers.DateField(required=False, allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=True)


class EvidenceUploadSerializer(serializers.Serializer):
    criterion = serializers.CharField()
    file = serializers.FileField()


class SignalReadingSerializer(serializers.ModelSerializer):
    class Meta:
        model = SignalReading
        fields = [
            "criterion",
            "signal",
            "measured",
            "value",
            "suggested_rating",
            "source",
            "detail",
            "measured_at",
            "as_of",
            "inputs",
        ]


class ReviewCommentSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    criterion = serializers.CharField(
        required=False, allow_blank=True, help_text='A criterion key; "" = the whole audit.'
    )

    class Meta:
        model = ReviewComment
        fields = ["id", "criterion", "author", "body", "created_at"]
        read_only_fields = ["id", "author", "created_at"]


class ScorecardSerializer(serializers.Serializer):
    """The scorecard of CONTRACT.md (documentation only: the stored result is returned)."""

    factory = serializers.CharField()
    model = serializers.CharField()
    model_version = serializers.IntegerField()
    assessed_at = serializers.DateField()
    overall = serializers.DictField()
    dimensions = serializers.ListField(child=serializers.DictField())
    confidence = serializers.FloatField(allow_null=True)
    roadmap = serializers.ListField(child=serializers.DictField())
    explanation = serializers.CharField()
    evidence = serializers.DictField(
        required=False, help_text="{rated, evidenced, share} over the rated criteria."
    )
    warnings = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="E.g. fewer than half the rated criteria carry evidence.",
    )
    previous = serializers.DictField(
        allow_null=True,
        required=False,
        help_text="The previous final audit: {assessment, assessed_at, model_version, index, "
        "stage, stage_name} (scorecard only).",
    )
    change = serializers.DictField(
        allow_null=True, required=False, help_text="{index, stage} since the previous audit."
    )
