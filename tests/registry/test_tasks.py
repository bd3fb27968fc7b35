"""Detection as a Celery task: after every import (on commit), nightly, and on a real worker."""

import pytest

from coe.celery import app
from registry.importers import import_adoptions, import_registry
from registry.models import DuplicateFinding
from registry.tasks import detect_duplicates_task
from tests.registry.builders import adoption, capability, tool
from tests.worker import celery_worker, require_real_services


def _fragmented(world):
    cap = capability("historian")
    adoption(world.factory_a, tool("PI System", caps=[cap], ring="adopt"), cost="10")
    adoption(world.factory_b, tool("Canary", caps=[cap]), cost="20")


def test_the_task_recomputes_findings_and_returns_a_summary(world):
    _fragmented(world)
    result = detect_duplicates_task.delay().get()
    assert result["findings"] == 1 and result["created"] == 1
    assert DuplicateFinding.objects.get().kind == "fragmentation"


def test_detection_is_scheduled_nightly_on_the_cpu_queue():
    app.finalize()  # as a worker or beat does on start
    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "registry.tasks.detect_duplicates_task" in schedule
    route = app.amqp.router.route({}, "registry.tasks.detect_duplicates_task")
    assert route["queue"].name == "cpu"


def test_an_import_enqueues_detection_once_committed(world, django_capture_on_commit_callbacks):
    import pandas as pd

    _fragmented(world)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        import_registry(pd.DataFrame([{"name": "Jenkins"}]))
        import_adoptions(pd.DataFrame([{"factory": "alpha-plant", "tool": "jenkins-lts"}]))
    assert len(callbacks) == 2
    assert not DuplicateFinding.objects.exists()  # nothing runs before the commit
    callbacks[-1]()
    assert DuplicateFinding.objects.filter(kind="fragmentation").exists()


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_cpu_queue_runs_detection(world):
    require_real_services()
    _fragmented(world)
    with celery_worker(["cpu"]):
        result = detect_duplicates_task.apply_async().get(timeout=60)
    assert result["findings"] == 1
    assert DuplicateFinding.objects.filter(kind="fragmentation").exists()
