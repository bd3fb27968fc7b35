"""The Celery application.

With no ``CELERY_BROKER_URL`` set, settings turn on eager mode and every task runs inline
(the embedded default); with a broker, work is routed to the ``io`` queue (connector syncs)
and the ``cpu`` queue (scoring, detection, rollups).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")

app = Celery("coe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
