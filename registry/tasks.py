"""Celery tasks of the registry (routed to the ``cpu`` queue)."""

from __future__ import annotations

from celery.schedules import crontab

from coe.celery import app
from registry.detection import duplicates_detect, summary_dict


@app.task(acks_late=True, time_limit=30 * 60)
def detect_duplicates_task() -> dict:
    """Recompute the duplicate findings (after every import, and nightly)."""
    return summary_dict(duplicates_detect())


@app.on_after_finalize.connect
def _schedule(sender, **kwargs) -> None:
    sender.add_periodic_task(
        crontab(hour=2, minute=30), detect_duplicates_task.s(), name="detect duplicates nightly"
    )
