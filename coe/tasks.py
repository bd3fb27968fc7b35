"""Core tasks."""

from __future__ import annotations

import socket

from celery import shared_task

from coe.models import Factory


@shared_task(name="coe.tasks.probe_worker_task", acks_late=True, time_limit=30, soft_time_limit=20)
def probe_worker_task() -> dict:
    """Answer from a worker: its host and what it reads from the database.

    The health check (``/health/?worker=1``) sends it to prove that a worker is consuming
    the queue and reaches the same database as the web tier.
    """
    return {"hostname": socket.gethostname(), "factories": Factory.objects.count()}


@shared_task(
    name="coe.tasks.dispatch_events_task",
    acks_late=True,
    time_limit=10 * 60,
    soft_time_limit=10 * 60 - 10,
)
def dispatch_events_task() -> int:
    """Deliver the outbox's new events to the subscribers (after a commit, and every minute
    as a sweep for rows whose after-commit task never ran)."""
    from coe.events import dispatch_pending

    return dispatch_pending()
