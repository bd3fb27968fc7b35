"""Tasks of notify: webhook attempts and the daily e-mail digest."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    name="notify.tasks.deliver_webhook_task",
    acks_late=True,
    time_limit=120,
    soft_time_limit=120 - 10,
)
def deliver_webhook_task(delivery_id: int) -> str | None:
    """One attempt of one webhook delivery (its retry is scheduled in the database)."""
    from notify.webhooks import deliver

    delivery = deliver(delivery_id)
    return delivery.status if delivery else None


@shared_task(
    name="notify.tasks.send_due_deliveries_task",
    acks_late=True,
    time_limit=600,
    soft_time_limit=600 - 10,
)
def send_due_deliveries_task() -> int:
    """Fan out every delivery whose attempt is due (after each dispatch, and every 30 s)."""
    from notify.webhooks import due_delivery_ids

    ids = due_delivery_ids()
    for delivery_id in ids:
        deliver_webhook_task.delay(delivery_id)
    return len(ids)


@shared_task(
    name="notify.tasks.send_digests_task",
    acks_late=True,
    time_limit=30 * 60,
    soft_time_limit=30 * 60 - 10,
)
def send_digests_task() -> int:
    """The daily digest e-mail of every user with digest notifications not yet mailed."""
    from notify.inbox import send_digests

    return send_digests()
