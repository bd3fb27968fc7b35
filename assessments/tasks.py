"""Celery tasks of the assessments app (routed to the ``cpu`` queue)."""

from __future__ import annotations

from celery.schedules import crontab

from assessments.services import open_assessments_refresh_signals
from coe.celery import app


@app.task(acks_late=True, time_limit=30 * 60)
def refresh_signals_task(factory_ids: list[int] | None = None) -> int:
    """Re-measure the evidence signals of open assessments (nightly, after the syncs and
    duplicate detection); returns the number of assessments refreshed."""
    return open_assessments_refresh_signals(factory_ids=factory_ids)


@app.task(
    name="assessments.tasks.emit_audit_due_task",
    acks_late=True,
    time_limit=10 * 60,
    soft_time_limit=10 * 60 - 10,
)
def emit_audit_due_task() -> int:
    """The day's ``audit.due`` reminders (hourly in beat; each emitted once)."""
    from assessments.events import emit_audits_due

    return emit_audits_due()


@app.on_after_finalize.connect
def _schedule(sender, **kwargs) -> None:
    sender.add_periodic_task(
        crontab(hour=3, minute=30),
        refresh_signals_task.s(),
        name="refresh evidence signals nightly",
    )
