"""A real Celery worker on the real broker (Redis in CI) serves the service's tasks."""

import pytest
from django.urls import reverse

from coe.tasks import probe_worker_task
from tests.factories import FactoryFactory
from tests.worker import celery_worker, require_real_services

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_answers_and_reads_the_same_database(client, world):
    require_real_services()
    client.force_login(world.users["staff"])  # the health details are for CoE staff
    for i in range(3):
        FactoryFactory(slug=f"worker-{i}")
    with celery_worker(["celery"]):
        answer = probe_worker_task.apply_async().get(timeout=30)
        assert answer["factories"] == 5  # the world's two and three more
        health = client.get(reverse("health"), {"worker": 1})
        assert health.status_code == 200, health.content
        assert health.json()["worker"].startswith("ok") and health.json()["broker"] == "ok"


def test_health_reports_a_missing_worker(client):
    require_real_services()
    from tests.worker import purge_queues

    purge_queues(["celery"])
    from coe import views

    status, ok = views._probe_worker(timeout=1.0)
    assert not ok and "no worker answered" in status
    purge_queues(["celery"])


def test_a_task_on_a_real_worker_logs_the_user_who_enqueued_it(world):
    require_real_services()
    from auditlog.models import LogEntry

    from coe.changelog import Origin, change_context
    from registry.models import DuplicateFinding
    from registry.tasks import detect_duplicates_task
    from tests.registry.builders import adoption, capability, tool

    ci = capability("ci")
    gitlab, jenkins = tool("GitLab", caps=[ci], ring="adopt"), tool("Jenkins", caps=[ci])
    adoption(world.factory_a, gitlab, cost="100")
    adoption(world.factory_a, jenkins, cost="200")
    with celery_worker(["cpu"]):
        with change_context(origin=Origin.API, actor=world.users["staff"]):
            result = detect_duplicates_task.delay()
        result.get(timeout=60)
    entries = LogEntry.objects.get_for_model(DuplicateFinding).filter(action=0)
    assert entries.exists()
    for entry in entries:
        assert entry.actor == world.users["staff"]
        assert entry.additional_data["origin"] == "task"
        assert entry.additional_data["via"] == "registry.tasks.detect_duplicates_task"
