from django.contrib import admin

from assessments.models import Answer, Assessment, EvidenceFile, MaturityModel, SignalReading


@admin.register(MaturityModel)
class MaturityModelAdmin(admin.ModelAdmin):
    """Model versions come from the definition files; the admin shows them read-only."""

    list_display = ["name", "key", "version", "gating", "is_current", "source", "created_at"]
    list_filter = ["key", "is_current", "gating"]
    readonly_fields = [f.name for f in MaturityModel._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    fields = ["criterion", "rating", "suggested_rating", "suggestion", "evidence", "comment"]


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ["factory", "model", "status", "stage", "index", "assessed_on", "assessor"]
    list_filter = ["status", "stage", "factory__business_unit", "model"]
    search_fields = ["factory__name", "factory__slug", "notes"]
    autocomplete_fields = ["factory", "assessor"]
    readonly_fields = ["result", "index", "stage", "finalized_at", "finalized_by"]
    inlines = [AnswerInline]


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ["assessment", "criterion", "rating", "suggested_rating", "suggestion"]
    list_filter = ["suggestion", "rating"]
    search_fields = ["criterion", "assessment__factory__name"]


@admin.register(SignalReading)
class SignalReadingAdmin(admin.ModelAdmin):
    list_display = ["assessment", "criterion", "signal", "measured", "value", "suggested_rating"]
    list_filter = ["signal", "measured"]


@admin.register(EvidenceFile)
class EvidenceFileAdmin(admin.ModelAdmin):
    list_display = ["name", "answer", "size", "content_type", "uploaded_by", "uploaded_at"]
    search_fields = ["name"]
