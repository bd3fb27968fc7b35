"""Celery tasks of the registry (routed to the ``cpu`` queue)."""

from __future__ import annotations

from celery.schedules import crontab
from django.db import transaction
from django.utils import timezone

from coe.celery import app
from registry.detection import duplicates_detect, summary_dict
from registry.models import DetectionRun


@app.task(name="registry.tasks.detect_duplicates_task", acks_late=True, time_limit=30 * 60)
def detect_duplicates_task(
    run_id: int | None = None,
    factories: list[int] | None = None,
    capabilities: list[int] | None = None,
) -> dict:
    """Recompute the duplicate findings: all of them (nightly, a registry import, a
    requested run) or only the factories and capabilities an adoption change touched.
    ``run_id`` names the :class:`DetectionRun` to keep up to date (the 202 job)."""
    run = DetectionRun.objects.filter(pk=run_id).first() if run_id else None
    if run is not None:
        factories, capabilities = run.factories, run.capabilities
        DetectionRun.objects.filter(pk=run.pk).update(
            status=DetectionRun.Status.RUNNING, started_at=timezone.now()
        )
    try:
        summary = summary_dict(
            duplicates_detect(
                factories=set(factories) if factories is not None else None,
                capabilities=set(capabilities) if capabilities is not None else None,
            )
        )
    except Exception as exc:
        if run is not None:
            DetectionRun.objects.filter(pk=run.pk).update(
                status=DetectionRun.Status.FAILED, finished_at=timezone.now(), error=str(exc)
            )
        raise
    if run is not None:
        DetectionRun.objects.filter(pk=run.pk).update(
            status=DetectionRun.Status.DONE, finished_at=timezone.now(), summary=summary
        )
    return summary


def queue_detection(
    *, factories=None, capabilities=None, requested_by=None, record: bool = True
) -> DetectionRun | None:
    """Queue a detection once the current transaction commits; with ``record`` a
    :class:`DetectionRun` row tracks it (the job ``POST /api/duplicates/detect/`` returns)."""
    factories = sorted(factories) if factories is not None else None
    capabilities = sorted(capabilities) if capabilities is not None else None
    run = None
    if record:
        run = DetectionRun.objects.create(
            factories=factories, capabilities=capabilities, requested_by=requested_by
        )
    transaction.on_commit(
        lambda: detect_duplicates_task.delay(
            run_id=run.pk if run else None, factories=factories, capabilities=capabilities
        )
    )
    return run


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
