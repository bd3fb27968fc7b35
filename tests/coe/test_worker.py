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
