"""A real Celery worker (cpu queue) re-measures the evidence signals of open audits."""

import pytest

from assessments.services import assessment_create
from assessments.tasks import refresh_signals_task
from tests.registry.builders import adoption, tool
from tests.worker import celery_worker, require_real_services

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_re_measures_signals_from_new_registry_data(world):
    require_real_services()
    assessment = assessment_create(factory=world.factory_a)
    assert not assessment.signal_readings.get(criterion="platform.standard_tools").measured
    adoption(world.factory_a, tool("GitLab", ring="adopt"))
    with celery_worker(["cpu"]):
        assert refresh_signals_task.apply_async().get(timeout=60) == 1
    reading = assessment.signal_readings.get(criterion="platform.standard_tools")
    assert reading.measured and reading.value == 1.0 and reading.suggested_rating == 5
