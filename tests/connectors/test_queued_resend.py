"""A queued sync whose task message the broker lost is re-sent by the reaper, at most
``CONNECTOR_RUN_QUEUED_RESENDS`` times, then failed so its connector is free again; a
re-sent run never executes twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coe.models import Event
from connectors.choices import SyncStatus
from connectors.models import Device, SyncRun
from connectors.services import sync_run_start, sync_runs_reap, sync_runs_resend
from connectors.tasks import reap_stale_syncs_task, sync_connector_task
from tests.connectors.test_inventory_sources import make, netbox_device
from tests.connectors.test_pages import login

DEVICES = "/api/dcim/devices/"


@pytest.fixture
def idle_broker():
    """A real (in-memory kombu) broker that no worker consumes: a sent task message stays
    on its queue. Yields a function that takes every message off the ``io`` queue and
    returns their run ids (the lost messages, or the ones to deliver by hand)."""
    from coe.celery import app

    saved = app.conf.broker_url, app.conf.task_always_eager

    def reset_pool():  # the app's pools were made for the broker configured before
        app._pool = None
        app.amqp._producer_pool = None

    reset_pool()
    app.conf.broker_url, app.conf.task_always_eager = "memory://", False

    def take() -> list[int]:
        ids = []
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            while (message := channel.basic_get("io", no_ack=True)) is not None:
                assert message.headers["task"] == sync_connector_task.name
                ids.append(message.decode()[0][0])
        return ids

    take()
    yield take
    take()
    reset_pool()
    app.conf.broker_url, app.conf.task_always_eager = saved


def _netbox(world, httpserver, name="cmdb"):
    httpserver.expect_request(DEVICES).respond_with_json(
        {"results": [netbox_device(1, "SN-1", "press-1")], "next": None}
    )
    return make(world.factory_a, "netbox", {"base_url": httpserver.url_for("/")}, name)


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """``sync_run_start`` whose task message is sent (on commit) as in a request."""

    def start(connector) -> SyncRun:
        with django_capture_on_commit_callbacks(execute=True):
            return sync_run_start(connector=connector)

    return start


def _age(run: SyncRun, seconds: int) -> None:
    SyncRun.objects.filter(pk=run.pk).update(queued_at=timezone.now() - timedelta(seconds=seconds))


def test_a_lost_queued_sync_is_resent_and_runs_once(world, httpserver, settings):
    settings.CONNECTOR_RUN_QUEUED_RESEND_SECONDS = 300
    connector = _netbox(world, httpserver)
    lost = sync_run_start(connector=connector, enqueue=False)  # its message never arrives
    fresh_connector = _netbox(world, httpserver, "fresh")
    fresh = sync_run_start(connector=fresh_connector, enqueue=False)
    _age(lost, 301)
    _age(fresh, 200)

    resent, failed = sync_runs_resend()  # eager Celery: the re-sent task runs here

    assert (resent, failed) == ([lost.pk], [])
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == SyncStatus.SUCCEEDED, lost.message
    assert lost.resend_count == 1 and lost.resent_at is not None and lost.attempts == 1
    assert fresh.status == SyncStatus.QUEUED and fresh.resend_count == 0
    assert Device.objects.filter(factory=world.factory_a).count() == 1


def test_the_original_and_the_resent_message_both_arrive_and_the_run_executes_once(
    world, httpserver, settings, idle_broker, start
):
    settings.CONNECTOR_RUN_QUEUED_RESEND_SECONDS = 300
    connector = _netbox(world, httpserver)
    run = start(connector)  # the original message waits on the queue
    _age(run, 301)
    assert sync_runs_resend() == ([run.pk], [])
    assert sync_runs_resend() == ([], [])  # re-sent just now: not again yet
    messages = idle_broker()
    assert messages == [run.pk, run.pk], "the original and the re-sent message"

    outcomes = [sync_connector_task.apply(args=[pk]).get() for pk in messages]

    assert outcomes == ["succeeded", "succeeded"]
    run.refresh_from_db()
    assert run.status == SyncStatus.SUCCEEDED and run.attempts == 1
    assert len([r for r, _ in httpserver.log if r.path == DEVICES]) == 1, "the source read twice"
    assert Device.objects.filter(factory=world.factory_a).count() == 1


def test_a_run_no_worker_picks_up_is_failed_after_the_resends_and_frees_the_connector(
    world, httpserver, settings, idle_broker, client, start
):
    settings.CONNECTOR_RUN_QUEUED_RESEND_SECONDS = 300
    settings.CONNECTOR_RUN_QUEUED_RESENDS = 3
    connector = _netbox(world, httpserver)
    run = start(connector)
    _age(run, 301)
    now = timezone.now()
    for n in range(3):
        assert sync_runs_resend(now=now + timedelta(seconds=301 * n)) == ([run.pk], [])
    assert start(connector).pk == run.pk  # "Sync now" still gets it
    login(client, world, "member_a")
    page = client.get(f"/connectors/{connector.pk}/").content.decode()
    assert "task re-sent 3×" in page
    api = client.get(f"/api/sync-runs/{run.pk}/").json()
    assert api["status"] == "queued" and api["resend_count"] == 3 and api["resent_at"]

    assert sync_runs_resend(now=now + timedelta(seconds=301 * 3)) == ([], [run.pk])

    run.refresh_from_db()
    assert run.status == SyncStatus.FAILED and run.finished_at is not None
    assert run.message.startswith(
        "the task message was not picked up by any io worker after 3 re-sends: "
        "is an io worker running?"
    )
    # The original and three re-sends ("Sync now" on an active run sends nothing).
    assert idle_broker() == [run.pk] * 4
    event = Event.objects.get(event="sync.failed")
    assert event.data["sync_run"] == run.pk
    new = start(connector)
    assert new.pk != run.pk  # the connector is free again
    assert sync_runs_resend(now=now + timedelta(days=1)) == ([new.pk], [])  # not the failed one


def test_a_run_waiting_for_its_retry_is_not_resent_before_the_retry_is_due(
    world, httpserver, settings, idle_broker, start
):
    settings.CONNECTOR_RUN_QUEUED_RESEND_SECONDS = 300
    connector = _netbox(world, httpserver)
    run = start(connector)
    beat = timezone.now() - timedelta(seconds=400)
    # Claimed once; the source was unreachable, so it went back to queued for a retry.
    SyncRun.objects.filter(pk=run.pk).update(
        queued_at=beat, attempts=1, heartbeat_at=beat, started_at=beat
    )
    assert sync_runs_resend() == ([], [])
    assert sync_runs_resend(now=beat + timedelta(seconds=900 + 301)) == ([run.pk], [])


def test_the_beat_reaper_task_resends_queued_and_fails_dead_running_runs(
    world, httpserver, settings, idle_broker, start
):
    settings.CONNECTOR_RUN_QUEUED_RESEND_SECONDS = 300
    settings.CONNECTOR_RUN_STALE_SECONDS = 600
    queued = start(_netbox(world, httpserver))
    running = sync_run_start(connector=_netbox(world, httpserver, "other"), enqueue=False)
    past = timezone.now() - timedelta(seconds=601)
    SyncRun.objects.filter(pk=running.pk).update(
        status=SyncStatus.RUNNING, started_at=past, heartbeat_at=past
    )
    _age(queued, 301)

    assert reap_stale_syncs_task.apply().get() == 2

    queued.refresh_from_db()
    running.refresh_from_db()
    assert queued.status == SyncStatus.QUEUED and queued.resend_count == 1
    assert running.status == SyncStatus.FAILED
    assert idle_broker() == [queued.pk, queued.pk]
    assert sync_runs_reap() == [] and sync_runs_resend() == ([], [])
