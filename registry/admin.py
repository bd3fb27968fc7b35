"""Admin for every registry model (CoE staff curate the registry here too)."""

from django.contrib import admin

from registry import models


@admin.register(models.Capability)
class CapabilityAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "applies_to", "order"]
    list_filter = ["applies_to", "parent"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class ToolAliasInline(admin.TabularInline):
    model = models.ToolAlias
    extra = 0
    fields = ["name"]


class ToolRingOverrideInline(admin.TabularInline):
    model = models.ToolRingOverride
    extra = 0


@admin.register(models.Tool)
class ToolAdmin(admin.ModelAdmin):
    list_display = ["name", "vendor", "ring", "licence_model", "annual_cost_per_seat", "owner"]
    list_filter = ["ring", "licence_model", "capabilities"]
    search_fields = ["name", "vendor", "aliases__name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["capabilities"]
    inlines = [ToolAliasInline, ToolRingOverrideInline]


@admin.register(models.ToolAlias)
class ToolAliasAdmin(admin.ModelAdmin):
    list_display = ["name", "tool", "normalized_name"]
    search_fields = ["name", "tool__name"]
    autocomplete_fields = ["tool"]


@admin.register(models.ToolRingOverride)
class ToolRingOverrideAdmin(admin.ModelAdmin):
    list_display = ["tool", "factory_kind", "ring"]
    list_filter = ["factory_kind", "ring"]


@admin.register(models.RingChange)
class RingChangeAdmin(admin.ModelAdmin):
    list_display = ["tool", "factory_kind", "from_ring", "to_ring", "changed_by", "changed_at"]
    list_filter = ["to_ring"]
    search_fields = ["tool__name", "reason"]


class ProcessVersionInline(admin.StackedInline):
    model = models.ProcessVersion
    extra = 0


@admin.register(models.Process)
class ProcessAdmin(admin.ModelAdmin):
    list_display = ["name", "capability", "owner", "owner_factory"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ProcessVersionInline]


@admin.register(models.ProcessVersion)
class ProcessVersionAdmin(admin.ModelAdmin):
    list_display = ["process", "version", "released_on"]
    search_fields = ["process__name", "version"]


@admin.register(models.ProcessAdoption)
class ProcessAdoptionAdmin(admin.ModelAdmin):
    list_display = ["factory", "process_version", "adopted_on"]
    list_filter = ["factory"]


@admin.register(models.Adoption)
class AdoptionAdmin(admin.ModelAdmin):
    list_display = ["factory", "declared_name", "tool", "seats", "annual_cost", "source", "status"]
    list_filter = ["status", "source", "factory"]
    search_fields = ["declared_name", "tool__name"]
    autocomplete_fields = ["tool"]


@admin.register(models.DuplicateFinding)
class DuplicateFindingAdmin(admin.ModelAdmin):
    list_display = ["key", "kind", "capability", "scope", "annual_cost_at_stake", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["key"]
    filter_horizontal = ["tools", "factories"]
