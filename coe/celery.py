"""The Celery application.

With no ``CELERY_BROKER_URL`` set, settings turn on eager mode and every task runs inline
(the embedded default); with a broker, work is routed (``CELERY_TASK_ROUTES`` in settings)
to the ``io`` queue (connector syncs), the ``cpu`` queue (detection, scoring, rollups) and
the ``celery`` queue (everything else), each served by its own workers (docs/deploy.md).

Every task runs in a change-log context (``coe/changelog.py``): its changes are logged with
origin ``task``, the task's name, and the user who enqueued it (none: the system).
"""

import logging
import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")

app = Celery("coe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


logger = logging.getLogger(__name__)

# The protocol libraries the sync adapters import on first use (connectors/sources/).
SYNC_LIBRARIES = ("asyncua", "pymodbus.client")


@worker_init.connect(dispatch_uid="coe.celery.preload_sync_libraries")
def _preload_sync_libraries(sender=None, **kwargs) -> None:
    """A worker consuming ``io`` imports the adapters' protocol libraries once, in its main
    process before the pool forks: every pool process then shares them and its first sync
    does not spend seconds of CPU importing asyncua (measured by bench_workers.py)."""
    queues = getattr(getattr(sender, "app", app).amqp.queues, "consume_from", None) or {}
    if "io" not in queues:
        return
    import importlib

    for name in SYNC_LIBRARIES:
        importlib.import_module(name)
    logger.info("preloaded the sync adapters' libraries: %s", ", ".join(SYNC_LIBRARIES))


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
