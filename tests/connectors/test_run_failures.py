"""Failures a sync must survive: secrets kept out of what is stored, rejected credentials,
runs whose worker died (the reaper), a database connection dropped under a running sync,
and the service's first request after its connections were terminated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from werkzeug import Response

from connectors.choices import SyncStatus
from connectors.crypto import scrub
from connectors.models import SyncRun
from connectors.services import sync_run_start, sync_runs_reap
from connectors.simulators.base import free_port
from tests.connectors.helpers import run_sync
from tests.connectors.test_inventory_sources import make, netbox_device, no_sleep  # noqa: F401
from tests.worker import ROOT, test_database_url

MAPPING = {"source_id": "id", "serial_number": "hw.serial", "name": "label"}


def _echo_headers(request):
    """An upstream error page that echoes the request's headers (as some proxies do)."""
    return Response(
        json.dumps({"error": "boom", "headers": dict(request.headers)}),
        status=500,
        content_type="application/json",
    )


def test_an_upstream_error_body_never_reaches_the_run_message(world, httpserver, no_sleep):  # noqa: F811
    httpserver.expect_request("/devices").respond_with_handler(_echo_headers)
    connector = make(
        world.factory_a,
        "rest",
        {"base_url": httpserver.url_for("/"), "path": "devices", "mapping": MAPPING},
    )
    run = run_sync(connector)
    assert run.status == "failed"
    assert "500 INTERNAL SERVER ERROR" in run.message.upper()
    assert "s3cret" not in run.message and "boom" not in run.message
    assert "Authorization" not in run.message
    assert len(httpserver.log) == 4  # retried: a 5xx may pass


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials_fail_the_run_without_retrying(world, httpserver, no_sleep, status):  # noqa: F811
    httpserver.expect_request("/api/dcim/devices/").respond_with_handler(
        lambda request: Response(
            json.dumps({"detail": request.headers.get("Authorization")}), status=status
        )
    )
    connector = make(world.factory_a, "netbox", {"base_url": httpserver.url_for("/")})
    run = run_sync(connector)
    assert run.status == "failed"
    assert str(status) in run.message and "refused the credentials" in run.message
    assert "s3cret" not in run.message
    assert len(httpserver.log) == 1
    assert no_sleep == []


def test_known_secrets_are_scrubbed_from_stored_messages(world, httpserver, no_sleep):  # noqa: F811
    # An API that takes its key in the path: the failing path would name the key.
    httpserver.expect_request("/v1/s3cret/devices").respond_with_data("nope", status=404)
    connector = make(
        world.factory_a,
        "rest",
        {
            "base_url": httpserver.url_for("/"),
            "path": "v1/s3cret/devices",
            "mapping": MAPPING,
            "retries": 0,
        },
    )
    run = run_sync(connector)
    assert run.status == "failed"
    assert "/v1/[secret]/devices" in run.message and "404" in run.message
    assert "s3cret" not in SyncRun.objects.get(pk=run.pk).message


def test_scrub_replaces_the_longest_secret_first():
    text = "sent Bearer abcd1234 and abcd1234"
    assert scrub(text, ["abcd1234", "Bearer abcd1234", "", "ab"]) == "sent [secret] and [secret]"


def _running(connector, *, beat_seconds_ago: int) -> SyncRun:
    run = sync_run_start(connector=connector, enqueue=False)
    past = timezone.now() - timedelta(seconds=beat_seconds_ago)
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncStatus.RUNNING, started_at=past, heartbeat_at=past
    )
    return run


def test_the_reaper_fails_runs_without_a_heartbeat_and_frees_the_connector(world, settings):
    settings.CONNECTOR_RUN_STALE_SECONDS = 600
    dead_connector = make(world.factory_a, "netbox", {"base_url": "http://127.0.0.1:9/"}, "dead")
    live_connector = make(world.factory_a, "netbox", {"base_url": "http://127.0.0.1:9/"}, "live")
    dead = _running(dead_connector, beat_seconds_ago=601)
    live = _running(live_connector, beat_seconds_ago=30)

    assert sync_runs_reap() == [dead.pk]

    dead.refresh_from_db()
    live.refresh_from_db()
    assert dead.status == SyncStatus.FAILED and "no heartbeat" in dead.message
    assert dead.finished_at is not None
    assert live.status == SyncStatus.RUNNING
    assert sync_run_start(connector=dead_connector, enqueue=False).pk != dead.pk
    assert sync_run_start(connector=live_connector, enqueue=False).pk == live.pk
    assert sync_runs_reap() == []


def test_a_reaped_run_that_finishes_late_keeps_its_failure(world, httpserver, monkeypatch):
    httpserver.expect_request("/api/dcim/devices/").respond_with_json(
        {"results": [netbox_device(1, "SN-1", "press-1")], "next": None}
    )
    connector = make(world.factory_a, "netbox", {"base_url": httpserver.url_for("/")})
    run = sync_run_start(connector=connector, enqueue=False)
    from connectors import services

    real_claim = services._claim

    def claim_then_get_reaped(run_id):
        claimed = real_claim(run_id)
        SyncRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now() - timedelta(days=1))
        services.sync_runs_reap()
        return claimed

    monkeypatch.setattr(services, "_claim", claim_then_get_reaped)
    services.sync_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == SyncStatus.FAILED and "reaper" in run.message


def test_the_reaper_runs_on_the_beat_schedule():
    # In a process of its own, as `celery beat` loads the app.
    script = (
        "import django; django.setup(); from coe.celery import app; "
        "app.loader.import_default_modules(); app.finalize(auto=True); "
        "print(app.conf.beat_schedule['reap stale syncs']['task'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "connectors.tasks.reap_stale_syncs_task"


# --- real PostgreSQL ---------------------------------------------------------------------
def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): pg_terminate_backend is PostgreSQL's")


def _terminate(pid: int | None = None) -> int:
    """Terminate backend ``pid`` (else every other backend of the test database) from a
    connection of its own; returns how many were terminated."""
    with psycopg.connect(test_database_url(), autocommit=True) as admin:
        if pid is not None:
            return int(admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0])
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return len(rows)


@pytest.mark.postgres
def test_a_sync_whose_database_connection_drops_ends_failed_with_a_message(
    transactional_db, world, httpserver, settings, monkeypatch
):
    _require_postgres()
    from connectors import services

    settings.CONNECTOR_INGEST_WRITERS = 0  # every write on the sync's own connection
    # A heartbeat with every record: the first query after the drop is the heartbeat's,
    # outside any transaction, as when a sync is minutes into a slow source.
    monkeypatch.setattr(services, "heartbeat_every", lambda: 0.0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    base = httpserver.url_for("/")
    terminated = []

    def page(request):
        number = int(request.args.get("page", 0))
        if number == 1:
            terminated.append(_terminate(pid))  # mid-run, between two pages
        following = f"{base}api/dcim/devices/?page={number + 1}" if number < 2 else None
        body = {"results": [netbox_device(number + 1, f"SN-{number}", "p")], "next": following}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/api/dcim/devices/").respond_with_handler(page)
    connector = make(world.factory_a, "netbox", {"base_url": base, "retries": 0})
    run = sync_run_start(connector=connector, enqueue=False)

    from connectors.services import sync_run_execute

    sync_run_execute(run_id=run.pk)

    assert terminated == [1]
    stored = SyncRun.objects.get(pk=run.pk)  # read on a new connection
    assert stored.status in (SyncStatus.FAILED, SyncStatus.PARTIAL)
    assert "database connection lost" in stored.message
    assert stored.finished_at is not None
    assert sync_run_start(connector=connector, enqueue=False).pk != run.pk


@pytest.mark.postgres
def test_the_first_request_after_the_connections_were_terminated_succeeds(transactional_db, world):
    _require_postgres()
    token = Token.objects.create(user=world.users["staff"]).key
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "coe.settings_test",
        "DATABASE_URL": test_database_url(),
        "DATABASE_CONN_MAX_AGE": "600",  # a kept connection is what a drop breaks
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "coe.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api/factories/"
    headers = {"Authorization": f"Token {token}"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                first = [httpx.get(url, headers=headers, timeout=10) for _ in range(6)]
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert [r.status_code for r in first] == [200] * 6
        assert _terminate() >= 1
        connection.close()  # this test's own connection was terminated with the others
        after = [httpx.get(url, headers=headers, timeout=10) for _ in range(6)]
        assert [r.status_code for r in after] == [200] * 6
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
        if any(r.status_code >= 500 for r in locals().get("after", [])):
            print(output)
