from django.contrib import admin

from coe.models import Event, Factory, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Factory)
class FactoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "business_unit", "region", "audit_cadence_months"]
    list_filter = ["kind", "business_unit", "region"]
    search_fields = ["name", "slug", "site"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "factory", "role", "created_at"]
    list_filter = ["role", "factory__business_unit"]
    search_fields = ["user__username", "factory__name", "factory__slug"]
    autocomplete_fields = ["user", "factory"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The outbox, read-only: what was announced and when it was dispatched."""

    list_display = ["event", "occurred_at", "dispatched_at", "key"]
    list_filter = ["event"]
    search_fields = ["key"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
