from django.apps import AppConfig


class NotifyConfig(AppConfig):
    """Webhooks, the in-app inbox and e-mail: the subscribers of the event outbox."""

    name = "notify"
    verbose_name = "Notifications and webhooks"

    def ready(self) -> None:
        from coe.events import subscribe
        from notify.inbox import notify_users
        from notify.webhooks import queue_deliveries

        subscribe("webhooks", queue_deliveries)
        subscribe("notifications", notify_users)
