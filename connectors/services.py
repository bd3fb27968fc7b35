"""Writes of the connectors app: connector configuration and the sync run life cycle."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from coe.changelog import log_bulk
from coe.models import Factory
from connectors.choices import ACTIVE_SYNC_STATUSES, SyncStatus, SyncTrigger
from connectors.crypto import CredentialsError
from connectors.ingest import IngestSession
from connectors.models import Connector, SyncRun
from connectors.network import TargetBlocked, resolve_target
from connectors.records import NoAnswer, SourceIncomplete
from connectors.schedules import is_due
from connectors.sources import adapter_class, validate_settings

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


def _finish(run: SyncRun, session: IngestSession | None, status: str, message: str = "") -> None:
    fields = {"status": status, "finished_at": timezone.now(), "message": message[:2000]}
    if session is not None:
        try:
            session.close()  # a batch still being written in the background is counted
        except Exception:
            logger.exception("sync run %s: the last batch failed to write", run.pk)
        fields.update(session.counts)
        fields.update(metrics=session.metrics, errors=session.errors, progress=session.processed)
    SyncRun.objects.filter(pk=run.pk).update(**fields)
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


def sync_run_execute(*, run_id: int, final_attempt: bool = True) -> SyncRun:
    """Run a queued sync: fetch through the adapter, ingest, mark stale, record the outcome.

    Returns the run. A run another worker holds is returned untouched. When the source is
    unreachable and this is not the final attempt, the run goes back to queued and
    ``SourceUnavailable`` is raised so the task retries with backoff.
    """
    if not _claim(run_id):
        return SyncRun.objects.get(pk=run_id)
    run = SyncRun.objects.select_related("connector__factory").get(pk=run_id)
    connector = run.connector
    session: IngestSession | None = None
    adapter = None
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
        except SourceIncomplete as exc:
            complete, message, silent = False, str(exc), isinstance(exc, NoAnswer)
        session.flush()
        if complete and run.full_sync:
            session.mark_stale()
    except (TargetBlocked, CredentialsError, ValueError) as exc:
        _finish(run, session, SyncStatus.FAILED, str(exc))
        return run
    except Exception as exc:
        errors = adapter.connection_errors() if adapter else (ConnectionError, OSError)
        if isinstance(exc, errors):
            if session is not None:
                session.flush()  # what arrived before the failure is kept
            processed = session.processed if session else 0
            if processed:
                _finish(run, session, SyncStatus.PARTIAL, f"connection lost: {exc}")
                return run
            if not final_attempt:
                SyncRun.objects.filter(pk=run.pk).update(
                    status=SyncStatus.QUEUED, message=f"retrying: {exc}"[:2000]
                )
                log_bulk(SyncRun, [run], action="update", changes={"status": ["running", "queued"]})
                raise SourceUnavailable(str(exc)) from exc
            _finish(run, session, SyncStatus.FAILED, f"source unreachable: {exc}")
            return run
        logger.exception("sync run %s of connector %s failed", run.pk, connector.pk)
        _finish(run, session, SyncStatus.FAILED, f"{exc.__class__.__name__}: {exc}")
        return run
    if complete:
        _finish(run, session, SyncStatus.SUCCEEDED, adapter.note)
        Connector.objects.filter(pk=connector.pk).update(
            cursor=adapter.cursor, last_sync_at=run.finished_at
        )
    else:
        # A source that answered nothing was reached: partial (nothing marked stale).
        status = SyncStatus.PARTIAL if session.processed or silent else SyncStatus.FAILED
        _finish(run, session, status, message)
    return run


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
