"""A real Celery worker (Redis): a queued sync whose message was purged from the broker is
re-sent by the reaper, and the worker completes it once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.models import Device, SyncRun
from connectors.services import sync_run_start, sync_runs_resend
from connectors.simulators.mqtt import wait_until
from tests.connectors.test_inventory_sources import make, netbox_device
from tests.connectors.test_worker import unacknowledged_tasks
from tests.worker import celery_worker, purge_queues, require_real_services

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

DEVICES = "/api/dcim/devices/"


def io_messages() -> int:
    """Task messages waiting on the ``io`` queue (a Redis list)."""
    from coe.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen("io")


def lose_io_messages() -> None:
    """What a broker restarted without persistence does: the ``io`` list is gone."""
    from coe.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.delete("io")


def test_a_purged_sync_is_resent_by_the_reaper_and_a_worker_completes_it(
    world, httpserver, settings
):
    require_real_services()
    purge_queues(["io"])
    settings.CONNECTOR_RUN_QUEUED_RESEND_SECONDS = 300
    httpserver.expect_request(DEVICES).respond_with_json(
        {"results": [netbox_device(1, "SN-1", "press-1")], "next": None}
    )
    connector = make(world.factory_a, "netbox", {"base_url": httpserver.url_for("/")})
    run = sync_run_start(connector=connector)
    assert io_messages() == 1
    lose_io_messages()
    assert io_messages() == 0

    with celery_worker(["io"]):
        time.sleep(2)
        assert SyncRun.objects.get(pk=run.pk).status == "queued", "nothing to pick up"
        SyncRun.objects.filter(pk=run.pk).update(queued_at=timezone.now() - timedelta(seconds=301))
        assert sync_runs_resend() == ([run.pk], [])
        assert wait_until(
            lambda: SyncRun.objects.get(pk=run.pk).status not in ("queued", "running"),
            timeout=60,
        ), "the re-sent task was not executed"
        assert wait_until(lambda: unacknowledged_tasks() == 0, timeout=30)

    run.refresh_from_db()
    assert run.status == "succeeded", run.message
    assert run.resend_count == 1 and run.attempts == 1
    assert len([r for r, _ in httpserver.log if r.path == DEVICES]) == 1
    assert Device.objects.filter(factory=world.factory_a).count() == 1
    assert io_messages() == 0
