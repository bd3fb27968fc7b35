"""Events of connectors (docs/events.md): ``sync.failed`` when a sync run ends failed
(also when the reaper fails it), ``connector.unhealthy`` from a daily scan."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import DatabaseError
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from coe.choices import EventKind
from coe.events import Pending, emit_many
from connectors.choices import SyncStatus
from connectors.models import Connector, SyncRun

logger = logging.getLogger(__name__)


def _run_event(run: SyncRun) -> Pending:
    connector = run.connector
    return Pending(
        EventKind.SYNC_FAILED,
        {
            "sync_run": run.pk,
            "connector": connector.pk,
            "connector_name": connector.name,
            "kind": connector.kind,
            "factory": connector.factory.slug,
            "message": run.message,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "title": f"Sync of {connector.name} ({connector.factory.name}) failed",
            "url": connector.get_absolute_url(),
        },
        factory=connector.factory_id,
        key=f"sync.failed:{run.pk}",
    )


def emit_sync_failed(run_ids: list[int]) -> int:
    """One ``sync.failed`` per failed run. The run's outcome is already recorded; a database
    that refuses the event too (the connection the run lost) is logged, not raised."""
    if not run_ids:
        return 0
    try:
        runs = SyncRun.objects.filter(pk__in=run_ids, status=SyncStatus.FAILED).select_related(
            "connector__factory"
        )
        return len(emit_many(_run_event(run) for run in runs))
    except DatabaseError:
        logger.exception("sync.failed of runs %s could not be written", run_ids)
        return 0


def emit_unhealthy_connectors(*, today: dt.date | None = None) -> int:
    """One ``connector.unhealthy`` a day per enabled connector whose latest finished sync
    did not succeed (failed or partial)."""
    today = today or timezone.localdate()
    latest = SyncRun.objects.filter(connector=OuterRef("pk"), finished_at__isnull=False).order_by(
        "-finished_at", "-id"
    )
    connectors = (
        Connector.objects.filter(enabled=True)
        .annotate(
            last_status=Subquery(latest.values("status")[:1]),
            last_run=Subquery(latest.values("pk")[:1]),
            last_message=Subquery(latest.values("message")[:1]),
        )
        .exclude(last_status__isnull=True)
        .exclude(last_status=SyncStatus.SUCCEEDED)
        .select_related("factory")
        .order_by("pk")
    )
    pending = [
        Pending(
            EventKind.CONNECTOR_UNHEALTHY,
            {
                "connector": c.pk,
                "connector_name": c.name,
                "kind": c.kind,
                "factory": c.factory.slug,
                "last_status": c.last_status,
                "last_sync_run": c.last_run,
                "message": c.last_message,
                "title": f"Connector {c.name} ({c.factory.name}) is unhealthy: "
                f"its latest sync {c.last_status}",
                "url": c.get_absolute_url(),
            },
            factory=c.factory_id,
            key=f"connector.unhealthy:{c.pk}:{today.isoformat()}",
        )
        for c in connectors
    ]
    return len(emit_many(pending))
