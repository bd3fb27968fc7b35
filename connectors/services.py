"""Writes of the connectors app: connector configuration and the sync run life cycle."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta

from django.conf import settings as django_settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from coe import derived
from coe.changelog import log_bulk
from coe.models import Factory
from coe.network import TargetBlocked, resolve_target
from connectors.choices import ACTIVE_SYNC_STATUSES, SyncStatus, SyncTrigger
from connectors.crypto import CredentialsError, scrub
from connectors.events import emit_sync_failed
from connectors.ingest import IngestSession
from connectors.models import Connector, SyncRun
from connectors.records import NoAnswer, SourceIncomplete
from connectors.schedules import is_due
from connectors.sources import adapter_class, validate_settings
from connectors.sources.http import CredentialsRejected

logger = logging.getLogger(__name__)


class SourceUnavailable(Exception):
    """The source could not be reached at all; the task retries with backoff."""


def run_stale_after() -> timedelta:
    """A running sync whose heartbeat is older than this is taken to be dead (worker lost)."""
    return timedelta(seconds=django_settings.CONNECTOR_RUN_STALE_SECONDS)


@transaction.atomic
def connector_create(
    *,
    factory: Factory,
    name: str,
    kind: str,
    settings: dict,
    credentials: dict | None = None,
    schedule: str = "",
    enabled: bool = True,
) -> Connector:
    """A new connector; settings and schedule are validated, credentials encrypted."""
    connector = Connector(
        factory=factory,
        name=name,
        kind=kind,
        settings=settings,
        schedule=schedule,
        enabled=enabled,
    )
    connector.set_credentials(credentials)
    connector.full_clean()
    connector.save()
    return connector


@transaction.atomic
def connector_update(
    *, connector: Connector, credentials: dict | None = None, **fields
) -> Connector:
    """Change a connector; ``credentials=None`` keeps the stored ones, ``{}`` clears them."""
    for name, value in fields.items():
        setattr(connector, name, value)
    if credentials is not None:
        connector.set_credentials(credentials)
    connector.full_clean()
    connector.save()
    return connector


def sync_run_start(
    *,
    connector: Connector,
    trigger: str = SyncTrigger.USER,
    user=None,
    full_sync: bool = True,
    enqueue: bool = True,
) -> SyncRun:
    """Queue a sync of ``connector`` (the one already queued or running, if any).

    At most one active run per connector is enforced by a partial unique constraint, so
    two requests racing both get the same run. The task is enqueued after commit.
    """
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                connector=connector,
                trigger=trigger,
                triggered_by=user if user is not None and user.is_authenticated else None,
                full_sync=full_sync,
            )
    except IntegrityError:
        return SyncRun.objects.get(connector=connector, status__in=ACTIVE_SYNC_STATUSES)
    if enqueue:
        from connectors.tasks import sync_connector_task

        transaction.on_commit(lambda: sync_connector_task.delay(run.pk))
    return run


def _claim(run_id: int) -> bool:
    """Compare-and-swap: queued → running, or take over a running run whose worker died."""
    now = timezone.now()
    previous = SyncRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
    claimed = bool(
        SyncRun.objects.filter(pk=run_id)
        .filter(
            Q(status=SyncStatus.QUEUED)
            | Q(status=SyncStatus.RUNNING, heartbeat_at__lt=now - run_stale_after())
        )
        .update(
            status=SyncStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            attempts=F("attempts") + 1,
        )
    )
    if claimed:
        log_bulk(SyncRun, ids=[run_id], action="update", changes={"status": [previous, "running"]})
    return claimed


def _update_run(run_id: int, **fields) -> int:
    """Update the active run ``run_id``; on a dropped database connection, once more on a
    fresh one (outside a transaction), so the outcome of a run is always written."""
    rows = SyncRun.objects.filter(pk=run_id, status__in=ACTIVE_SYNC_STATUSES)
    try:
        return rows.update(**fields)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        logger.warning("sync run %s: database connection lost; writing on a new one", run_id)
        try:
            connection.close()
        except Exception:  # the connection is gone already; Django reconnects below
            logger.debug("closing the dropped connection failed", exc_info=True)
        return rows.update(**fields)


def _database_lost(exc: BaseException) -> bool:
    """The run's database connection dropped (server restart, pg_terminate_backend, …)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return connection.connection is not None and not connection.is_usable()


def heartbeat_every() -> float:
    """Seconds between two heartbeats of a run that makes progress (well inside the window)."""
    return max(1.0, min(30.0, django_settings.CONNECTOR_RUN_STALE_SECONDS / 4))


class _Heartbeat:
    """Moves the run's ``heartbeat_at`` at most every few seconds while it makes progress."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.every = heartbeat_every()
        self.last = time.monotonic()

    def __call__(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.every:
            self.last = now
            SyncRun.objects.filter(pk=self.run_id, status=SyncStatus.RUNNING).update(
                heartbeat_at=timezone.now()
            )


def _finish(
    run: SyncRun,
    session: IngestSession | None,
    status: str,
    message: str = "",
    secrets: list[str] | None = None,
) -> bool:
    """Record the outcome; False when the run was no longer active (the reaper failed it)."""
    secrets = secrets or []
    fields = {
        "status": status,
        "finished_at": timezone.now(),
        "message": scrub(message, secrets)[:2000],
    }
    if session is not None:
        try:
            session.close()  # a batch still being written in the background is counted
        except Exception:
            logger.exception("sync run %s: the last batch failed to write", run.pk)
        fields.update(session.counts)
        errors = [
            {**e, "message": scrub(str(e.get("message", "")), secrets)}
            if isinstance(e, dict)
            else e
            for e in session.errors
        ]
        fields.update(metrics=session.metrics, errors=errors, progress=session.processed)
    written = bool(_update_run(run.pk, **fields))
    if not written:
        logger.warning("sync run %s was failed by the reaper before it finished", run.pk)
        run.refresh_from_db()
        return False
    previous = run.status
    for name, value in fields.items():
        setattr(run, name, value)
    counts = {
        k: fields[k]
        for k in ("created", "updated", "unchanged", "stale", "rejected")
        if k in fields
    }
    log_bulk(
        SyncRun,
        [run],
        action="update",
        changes={"status": [previous, status]},
        summary={"counts": counts, "message": fields["message"]},
    )
    if status == SyncStatus.FAILED:
        emit_sync_failed([run.pk])
    return True


def _secrets_of(connector: Connector, adapter) -> list[str]:
    """Known secret values of a run: the connector's credentials and its auth headers."""
    values: list[str] = []
    with contextlib.suppress(CredentialsError):
        values += [v for v in connector.credentials.values() if isinstance(v, str)]
    if adapter is not None and hasattr(adapter, "secrets"):
        values += adapter.secrets()
    return values


@derived.batch()  # one KPI rollup refresh for everything the sync landed
def sync_run_execute(*, run_id: int, final_attempt: bool = True) -> SyncRun:
    """Run a queued sync: fetch through the adapter, ingest, mark stale, record the outcome.

    Returns the run. A run another worker holds is returned untouched. When the source is
    unreachable and this is not the final attempt, the run goes back to queued and
    ``SourceUnavailable`` is raised so the task retries with backoff. When the database
    connection drops under the run, it ends ``failed`` with a message written on a new
    connection. Known secret values are scrubbed from every message and error stored.
    """
    if not _claim(run_id):
        return SyncRun.objects.get(pk=run_id)
    run = SyncRun.objects.select_related("connector__factory").get(pk=run_id)
    connector = run.connector
    session: IngestSession | None = None
    adapter = None
    beat = _Heartbeat(run.pk)
    try:
        settings = validate_settings(connector.kind, connector.settings)
        cls = adapter_class(connector.kind)
        host, port = cls.target_of(settings)
        target = resolve_target(connector.factory, host, port)
        adapter = cls(
            settings=settings,
            credentials=connector.credentials,
            target=target,
            cursor=connector.cursor,
            connector_id=connector.pk,
        )
        session = getattr(cls, "session_class", IngestSession)(connector=connector, run=run)
        session.on_batch = lambda s: SyncRun.objects.filter(pk=run.pk).update(
            progress=s.processed, heartbeat_at=timezone.now()
        )
        complete, message, silent = True, "", False
        try:
            for item in adapter.fetch():
                session.add(item)
                beat()
        except SourceIncomplete as exc:
            complete, message, silent = False, str(exc), isinstance(exc, NoAnswer)
        session.flush()
        if complete and run.full_sync:
            session.mark_stale()
    except (TargetBlocked, CredentialsError, CredentialsRejected, ValueError) as exc:
        _finish(run, session, SyncStatus.FAILED, str(exc), _secrets_of(connector, adapter))
        return run
    except Exception as exc:
        secrets = _secrets_of(connector, adapter)
        if _database_lost(exc):
            logger.error("sync run %s: database connection lost: %s", run.pk, exc)
            processed = session.processed if session else 0
            _finish(
                run,
                session,
                SyncStatus.FAILED,
                f"database connection lost after {processed} record(s): {exc}",
                secrets,
            )
            return run
        errors = adapter.connection_errors() if adapter else (ConnectionError, OSError)
        if isinstance(exc, errors):
            if session is not None:
                session.flush()  # what arrived before the failure is kept
            processed = session.processed if session else 0
            if processed:
                _finish(run, session, SyncStatus.PARTIAL, f"connection lost: {exc}", secrets)
                return run
            if not final_attempt:
                _update_run(
                    run.pk,
                    status=SyncStatus.QUEUED,
                    heartbeat_at=timezone.now(),  # its retry is due within RETRY_BACKOFF_MAX s
                    message=scrub(f"retrying: {exc}", secrets)[:2000],
                )
                log_bulk(SyncRun, [run], action="update", changes={"status": ["running", "queued"]})
                raise SourceUnavailable(scrub(str(exc), secrets)) from exc
            _finish(run, session, SyncStatus.FAILED, f"source unreachable: {exc}", secrets)
            return run
        logger.exception("sync run %s of connector %s failed", run.pk, connector.pk)
        _finish(run, session, SyncStatus.FAILED, f"{exc.__class__.__name__}: {exc}", secrets)
        return run
    secrets = _secrets_of(connector, adapter)
    if complete:
        if _finish(run, session, SyncStatus.SUCCEEDED, adapter.note, secrets):
            Connector.objects.filter(pk=connector.pk).update(
                cursor=adapter.cursor, last_sync_at=run.finished_at
            )
    else:
        # A source that answered nothing was reached: partial (nothing marked stale).
        status = SyncStatus.PARTIAL if session.processed or silent else SyncStatus.FAILED
        _finish(run, session, status, message, secrets)
    return run


def sync_runs_reap(*, now=None) -> list[int]:
    """Fail every running sync whose heartbeat is older than ``CONNECTOR_RUN_STALE_SECONDS``.

    Its worker died or lost its way (killed, machine gone, a hung source past every
    timeout); failing the run frees the connector for the next sync. Compare-and-swap: a
    run that beats or finishes meanwhile is left alone. Returns the ids failed.
    """
    now = now or timezone.now()
    cutoff = now - run_stale_after()
    dead = Q(status=SyncStatus.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    ids = list(SyncRun.objects.filter(dead).values_list("pk", flat=True))
    if not ids:
        return []
    seconds = django_settings.CONNECTOR_RUN_STALE_SECONDS
    SyncRun.objects.filter(dead, pk__in=ids).update(
        status=SyncStatus.FAILED,
        finished_at=now,
        message=(
            f"no heartbeat for more than {seconds} s: the worker running this sync stopped; "
            "failed by the reaper"
        ),
    )
    failed = list(
        SyncRun.objects.filter(pk__in=ids, status=SyncStatus.FAILED, finished_at=now).values_list(
            "pk", flat=True
        )
    )
    if failed:
        logger.warning("reaped sync runs without a heartbeat: %s", failed)
        emit_sync_failed(failed)
    return failed


# The longest countdown of a retry of ``sync_connector_task`` (its ``retry_backoff_max``): a
# run put back to queued for a retry is not lost before its retry message is due.
RETRY_BACKOFF_MAX = 900


def _send(run_id: int) -> None:
    from connectors.tasks import sync_connector_task

    sync_connector_task.delay(run_id)


def _waiting_since(run: dict):
    """Since when ``run`` (a queued run's values) waits for a worker to pick its message up."""
    since = run["queued_at"]
    if run["resent_at"] and run["resent_at"] > since:
        since = run["resent_at"]
    if run["attempts"] and run["heartbeat_at"]:
        # Put back to queued for a retry: its message is due at most RETRY_BACKOFF_MAX later.
        since = max(since, run["heartbeat_at"] + timedelta(seconds=RETRY_BACKOFF_MAX))
    return since


def sync_runs_resend(*, now=None) -> tuple[list[int], list[int]]:
    """Re-send the task of every queued sync no worker picked up within
    ``CONNECTOR_RUN_QUEUED_RESEND_SECONDS``; fail it after ``CONNECTOR_RUN_QUEUED_RESENDS``.

    The broker lost its message (restarted without persistence, purged, a consumer timeout),
    and the connector would otherwise be held by a run nobody executes. Compare-and-swap on
    ``resend_count``: a run claimed or re-sent meanwhile is left alone; if the original
    message turns up after all, the claim lets only one of the two execute the run.
    Returns (ids re-sent, ids failed).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=django_settings.CONNECTOR_RUN_QUEUED_RESEND_SECONDS)
    limit = django_settings.CONNECTOR_RUN_QUEUED_RESENDS
    queued = SyncRun.objects.filter(status=SyncStatus.QUEUED, queued_at__lt=cutoff).values(
        "pk", "queued_at", "resent_at", "heartbeat_at", "attempts", "resend_count"
    )
    resent: list[int] = []
    failed: list[int] = []
    for run in queued:
        if _waiting_since(run) >= cutoff:
            continue
        same = SyncRun.objects.filter(
            pk=run["pk"],
            status=SyncStatus.QUEUED,
            resend_count=run["resend_count"],
            attempts=run["attempts"],
        )
        if run["resend_count"] < limit:
            if same.update(resent_at=now, resend_count=F("resend_count") + 1):
                _send(run["pk"])
                resent.append(run["pk"])
        elif same.update(
            status=SyncStatus.FAILED,
            finished_at=now,
            message=(
                f"the task message was not picked up by any io worker after {limit} "
                "re-sends: is an io worker running? (failed by the reaper)"
            ),
        ):
            failed.append(run["pk"])
    if resent:
        logger.warning("re-sent the task of queued sync runs no worker picked up: %s", resent)
    if failed:
        log_bulk(SyncRun, ids=failed, action="update", changes={"status": ["queued", "failed"]})
        logger.warning("failed queued sync runs after %s re-sends: %s", limit, failed)
        emit_sync_failed(failed)
    return resent, failed


def due_connectors(now=None):
    """Enabled connectors whose schedule has come round and that have no active run."""
    now = now or timezone.now()
    candidates = Connector.objects.filter(enabled=True).exclude(schedule="")
    busy = set(
        SyncRun.objects.filter(status__in=ACTIVE_SYNC_STATUSES).values_list(
            "connector_id", flat=True
        )
    )
    return [
        c
        for c in candidates.select_related("factory")
        if c.pk not in busy and is_due(c.schedule, c.last_sync_at, now)
    ]


def sync_dispatch_due(*, enqueue: bool = True) -> list[SyncRun]:
    """Start a scheduled sync of every due connector."""
    return [
        sync_run_start(connector=c, trigger=SyncTrigger.SCHEDULE, enqueue=enqueue)
        for c in due_connectors()
    ]
