"""The Celery application.

With no ``CELERY_BROKER_URL`` set, settings turn on eager mode and every task runs inline
(the embedded default); with a broker, work is routed to the ``io`` queue (connector syncs)
and the ``cpu`` queue (scoring, detection, rollups).

Every task runs in a change-log context (``coe/changelog.py``): its changes are logged with
origin ``task``, the task's name, and the user who enqueued it (none: the system).
"""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")

app = Celery("coe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect(dispatch_uid="coe.changelog.task_headers")
def _carry_actor(sender=None, headers=None, **kwargs) -> None:
    from coe.changelog import task_headers

    task_headers(headers)


@task_prerun.connect(dispatch_uid="coe.changelog.task_started")
def _enter_change_context(sender=None, task_id=None, task=None, **kwargs) -> None:
    from coe.changelog import task_started

    task_started(task_id, task)


@task_postrun.connect(dispatch_uid="coe.changelog.task_finished")
def _leave_change_context(sender=None, task_id=None, **kwargs) -> None:
    from coe.changelog import task_finished

    task_finished(task_id)
