"""A real Celery worker (Redis) killed with SIGKILL mid-sync: the task is redelivered and the
sync completes with no device duplicated or lost."""

from __future__ import annotations

import os
import signal

import pytest
from django.db.models import Count

from connectors.models import Device, DeviceSourceRecord, SyncRun
from connectors.services import sync_run_start
from connectors.simulators.modbus_server import ModbusSimulator, ModbusUnit
from connectors.simulators.mqtt import wait_until
from tests.connectors.helpers import make_connector
from tests.connectors.proxy import DroppingProxy
from tests.worker import celery_worker, require_real_services

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

UNITS = 120
WORKER_ENV = {
    "CELERY_VISIBILITY_TIMEOUT": "4",  # Redis redelivers an unacknowledged task after 4 s
    "CONNECTOR_RUN_STALE_SECONDS": "2",  # a running run without heartbeat for 2 s is dead
    "CONNECTOR_INGEST_BATCH_SIZE": "10",
    # The surviving worker sweeps for abandoned tasks every second (default: 100 s).
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "CELERY_UNACKED_RESTORE_THROTTLE": "1",
}


def unacknowledged_tasks() -> int:
    """Tasks a worker took from Redis and has not acknowledged (kombu's unacked index)."""
    from coe.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        return channel.client.zcard(channel.unacked_index_key)


def test_a_sync_killed_with_sigkill_is_redelivered_and_ends_exact(world):
    require_real_services()
    units = [ModbusUnit(i, f"CNC-{i:04d}") for i in range(1, UNITS + 1)]
    with (
        ModbusSimulator(units) as sim,
        DroppingProxy(sim.port, drop_after=None, delay=0.01) as slow,
    ):
        settings = {k: v for k, v in sim.settings().items() if k != "registers"}
        connector = make_connector(
            world.factory_a, "modbus", settings={**settings, "port": slow.port}
        )
        with celery_worker(["io"], env=WORKER_ENV) as proc:
            run = sync_run_start(connector=connector)
            assert wait_until(lambda: SyncRun.objects.get(pk=run.pk).progress >= 30, timeout=60), (
                "the sync never got going"
            )
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        killed = SyncRun.objects.get(pk=run.pk)
        assert killed.status == "running" and killed.attempts == 1
        assert 0 < Device.objects.count() < UNITS
        assert unacknowledged_tasks() == 1, "the killed worker's task is not awaiting redelivery"
        with celery_worker(["io"], env=WORKER_ENV):
            # No help from the test: the new worker's own sweep puts the task back on the
            # queue once the visibility timeout has passed, and then takes it.
            assert wait_until(
                lambda: SyncRun.objects.get(pk=run.pk).status not in ("queued", "running"),
                timeout=120,
            ), "the task was not redelivered"
    run.refresh_from_db()
    assert run.status == "succeeded", run.message
    assert run.attempts == 2
    assert unacknowledged_tasks() == 0
    assert Device.objects.filter(factory=world.factory_a).count() == UNITS
    assert DeviceSourceRecord.objects.filter(connector=connector).count() == UNITS
    duplicates = Device.objects.values("serial_normalised").annotate(n=Count("id")).filter(n__gt=1)
    assert not duplicates.exists()
    assert set(Device.objects.values_list("status", flat=True)) == {"active"}
