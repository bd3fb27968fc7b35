"""Celery tasks of the connectors app (routed to the ``io`` queue)."""

from __future__ import annotations

from django.conf import settings

from coe.celery import app
from connectors import services

MAX_RETRIES = 5


@app.task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    autoretry_for=(services.SourceUnavailable,),
    retry_backoff=settings.CONNECTOR_RETRY_BACKOFF,
    retry_backoff_max=services.RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def sync_connector_task(self, run_id: int) -> str:
    """Execute sync run ``run_id``; retried with backoff only when the source is unreachable.

    Idempotent: the run is claimed by compare-and-swap, so a redelivered message (worker
    lost) resumes a dead run and a duplicate of a live one does nothing.
    """
    final = self.request.is_eager or self.request.retries >= MAX_RETRIES
    run = services.sync_run_execute(run_id=run_id, final_attempt=final)
    return run.status


@app.task(acks_late=True, time_limit=120)
def dispatch_due_syncs_task() -> int:
    """Queue a sync of every connector whose schedule is due; returns how many."""
    return len(services.sync_dispatch_due())


@app.task(acks_late=True, time_limit=120)
def reap_stale_syncs_task() -> int:
    """Fail running syncs without a recent heartbeat (their worker died); re-send queued
    syncs whose task message the broker lost, failing them after a few re-sends. Returns
    how many runs it failed or re-sent."""
    reaped = services.sync_runs_reap()
    resent, failed = services.sync_runs_resend()
    return len(reaped) + len(resent) + len(failed)


@app.on_after_finalize.connect
def _schedule(sender, **kwargs) -> None:
    sender.add_periodic_task(60.0, dispatch_due_syncs_task.s(), name="dispatch due syncs")
    sender.add_periodic_task(
        float(settings.CONNECTOR_REAPER_INTERVAL),
        reap_stale_syncs_task.s(),
        name="reap stale syncs",
    )


@app.task(
    name="connectors.tasks.emit_connector_unhealthy_task",
    acks_late=True,
    time_limit=600,
    soft_time_limit=600 - 10,
)
def emit_connector_unhealthy_task() -> int:
    """The day's ``connector.unhealthy`` events (hourly in beat; once a day per connector)."""
    from connectors.events import emit_unhealthy_connectors

    return emit_unhealthy_connectors()
