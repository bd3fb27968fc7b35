"""Celery tasks of the registry (routed to the ``cpu`` queue)."""

from __future__ import annotations

from celery.schedules import crontab

from coe.celery import app
from registry.detection import duplicates_detect, summary_dict


@app.task(name="registry.tasks.detect_duplicates_task", acks_late=True, time_limit=30 * 60)
def detect_duplicates_task() -> dict:
    """Recompute the duplicate findings (after every import, and nightly)."""
    return summary_dict(duplicates_detect())


@app.task(
    name="registry.tasks.emit_due_events_task",
    acks_late=True,
    time_limit=10 * 60,
    soft_time_limit=10 * 60 - 10,
)
def emit_due_events_task() -> dict:
    """The day's ``waiver.expiring`` events (hourly in beat; each is emitted once per
    waiver and expiry date, however often this runs)."""
    from registry.finding_events import emit_expiring_waivers

    return {"waiver.expiring": emit_expiring_waivers()}


def _schedule(sender, **kwargs) -> None:
    """Nightly detection (02:30) — catches expired waivers even without imports."""
    sender.add_periodic_task(
        crontab(hour=2, minute=30), detect_duplicates_task.s(), name="detect duplicates nightly"
    )


# This module may be imported before or after the app is finalized (worker/beat vs web).
if app.finalized:
    _schedule(app)
else:
    app.on_after_finalize.connect(_schedule)
