from django.contrib import admin

from notify.models import Notification, Webhook, WebhookDelivery


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "enabled", "created_at"]
    exclude = ["secret_encrypted"]  # write it through the API; it is never shown
    filter_horizontal = ["factories"]

    def has_add_permission(self, request) -> bool:
        return False  # registered through the API, which checks the URL and takes the secret


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["uid", "webhook", "event", "status", "attempts", "last_status_code"]
    list_filter = ["status"]
    list_select_related = ["webhook", "event"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "kind", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind", "channel"]
    list_select_related = ["user"]
