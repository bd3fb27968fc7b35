"""Start a real Celery worker process against the test database and the real broker.

Used by tests marked ``broker``: they need PostgreSQL (the worker is another process and
must see the test's committed rows) and ``CELERY_BROKER_URL`` (Redis in CI).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def require_real_services() -> None:
    """Skip (saying why) unless PostgreSQL and a broker are configured; CI configures both."""
    if not settings.CELERY_BROKER_URL:
        pytest.skip("needs CELERY_BROKER_URL (a real broker); `make test` in CI sets it")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): a worker process cannot share SQLite")


def test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_queues(queues: list[str]) -> None:
    from coe.celery import app

    with app.connection_for_write() as conn:
        for queue in queues:
            # A queue that does not exist yet is empty already.
            with contextlib.suppress(Exception):
                app.amqp.queues[queue].bind(conn.default_channel).purge()


@contextmanager
def celery_worker(
    queues: list[str] | None = None, *, concurrency: int = 1, env: dict | None = None
):
    """A ``celery worker`` subprocess consuming ``queues``; yields the Popen, stops it after."""
    from coe.celery import app

    queues = queues or ["celery", "io", "cpu"]
    purge_queues(queues)
    hostname = f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
    worker_env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "coe.settings_test",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **(env or {}),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "coe",
            "worker",
            "-l",
            "warning",
            "-Q",
            ",".join(queues),
            "-c",
            str(concurrency),
            "-n",
            hostname,
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited: {proc.stdout.read().decode()[-3000:]}")
            if app.control.ping(destination=[hostname], timeout=0.5):
                break
        else:
            raise RuntimeError("worker did not answer a ping within 60 s")
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
