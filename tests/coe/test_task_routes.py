"""Which queue every Celery task lands on (docs/deploy.md "Processes").

``io`` is for connector syncs, ``cpu`` for duplicate detection and scoring, ``celery`` for
the rest — among it the sync dispatcher and the run reaper, which must keep running when
the ``io`` workers are saturated or hung. The route is read from the application's own
router, as a producer sending the task would.
"""

from __future__ import annotations

import pytest

from coe.celery import app

EXPECTED = {
    "connectors.tasks.sync_connector_task": "io",
    "registry.tasks.detect_duplicates_task": "cpu",
    "assessments.tasks.refresh_signals_task": "cpu",
}
DEPLOYED_QUEUES = {"io", "cpu", "celery"}


def project_tasks() -> list[str]:
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def queue_of(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def test_the_project_registers_its_tasks():
    names = project_tasks()
    assert set(EXPECTED) <= set(names)
    assert "connectors.tasks.reap_stale_syncs_task" in names


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_syncs_go_to_io_detection_and_scoring_to_cpu(name):
    assert queue_of(name) == EXPECTED[name]


def test_every_other_task_goes_to_the_default_queue():
    others = {name: queue_of(name) for name in project_tasks() if name not in EXPECTED}
    # The kpis app's rollups go to cpu when that app is installed.
    wrong = {
        name: queue
        for name, queue in others.items()
        if queue != ("cpu" if name.startswith("kpis.tasks.") else "celery")
    }
    assert not wrong, wrong


def test_the_reaper_and_dispatcher_do_not_wait_behind_syncs():
    for name in (
        "connectors.tasks.reap_stale_syncs_task",
        "connectors.tasks.dispatch_due_syncs_task",
        "notify.tasks.deliver_webhook_task",
    ):
        assert queue_of(name) == "celery", name


class ScheduleRecorder:
    """Stands in for the app as the sender of ``on_after_finalize``: records the periodic
    tasks each app's ``_schedule`` hook adds."""

    def __init__(self):
        self.entries: dict[str, str] = {}

    def add_periodic_task(self, schedule, signature, name=None, **kwargs):
        self.entries[name] = signature.task


def test_every_periodic_task_lands_on_a_deployed_queue():
    from django.conf import settings

    from assessments import tasks as assessments_tasks
    from connectors import tasks as connectors_tasks
    from registry import tasks as registry_tasks

    recorder = ScheduleRecorder()
    for module in (connectors_tasks, registry_tasks, assessments_tasks):
        module._schedule(sender=recorder)
    schedule = {name: entry["task"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}
    schedule.update(recorder.entries)
    assert schedule["reap stale syncs"] == "connectors.tasks.reap_stale_syncs_task"
    assert schedule["detect duplicates nightly"] == "registry.tasks.detect_duplicates_task"
    known = project_tasks()
    for name, task in schedule.items():
        assert task in known, (name, task)
        assert queue_of(task) in DEPLOYED_QUEUES, (name, task)
