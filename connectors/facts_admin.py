"""Admin of the landed productivity and value facts (imported by ``connectors/admin.py``)."""

from django.contrib import admin

from connectors.facts import CurrencyRate, Deployment, FinanceEntry, OTCounter, WorkItem


@admin.register(OTCounter)
class OTCounterAdmin(admin.ModelAdmin):
    list_display = ["factory", "line", "period_start", "run_time_s", "total_count", "good_count"]
    list_filter = ["factory"]
    search_fields = ["line"]
    date_hierarchy = "period_start"
    list_select_related = ["factory"]


@admin.register(FinanceEntry)
class FinanceEntryAdmin(admin.ModelAdmin):
    list_display = ["factory", "date", "kind", "category", "amount", "currency", "description"]
    list_filter = ["kind", "factory"]
    search_fields = ["category", "description"]
    date_hierarchy = "date"
    list_select_related = ["factory"]


@admin.register(CurrencyRate)
class CurrencyRateAdmin(admin.ModelAdmin):
    list_display = ["from_currency", "to_currency", "rate", "updated_at"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["factory", "environment", "source_id", "status", "finished_at", "commit_sha"]
    list_filter = ["status", "factory"]
    search_fields = ["source_id", "commit_sha"]
    list_select_related = ["factory"]


@admin.register(WorkItem)
class WorkItemAdmin(admin.ModelAdmin):
    list_display = ["factory", "key", "kind", "team", "status", "created", "resolved"]
    list_filter = ["kind", "factory"]
    search_fields = ["key", "team"]
    list_select_related = ["factory"]
