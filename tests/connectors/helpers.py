"""Helpers of the connector tests: connectors and runs made through the services."""

from __future__ import annotations

from connectors.choices import SyncTrigger
from connectors.ingest import IngestSession
from connectors.models import Connector, SyncRun
from connectors.services import connector_create, sync_run_start

SETTINGS = {
    "opcua": {"endpoint": "opc.tcp://127.0.0.1:4840"},
    "mqtt": {"host": "127.0.0.1", "port": 1883, "mode": "sparkplug"},
    "modbus": {"host": "127.0.0.1", "port": 5020, "unit_id": 1},
}


def make_connector(factory, kind: str = "opcua", name: str | None = None, **extra) -> Connector:
    settings = {**SETTINGS[kind], **extra.pop("settings", {})}
    return connector_create(
        factory=factory,
        name=name or f"{kind} of {factory.slug}",
        kind=kind,
        settings=settings,
        **extra,
    )


def ingest(connector: Connector, items, *, complete: bool = True, batch_size=None) -> SyncRun:
    """Ingest ``items`` as one finished run of ``connector``; returns the run with counts."""
    run = sync_run_start(connector=connector, trigger=SyncTrigger.API, enqueue=False)
    session = IngestSession(connector=connector, run=run, batch_size=batch_size)
    session.extend(items)
    session.flush()
    if complete:
        session.mark_stale()
    SyncRun.objects.filter(pk=run.pk).update(
        status="succeeded" if complete else "partial", **session.counts
    )
    run.refresh_from_db()
    return run


def run_sync(connector: Connector, *, full_sync: bool = True) -> SyncRun:
    """Queue and execute one sync of ``connector`` inline, as ``sync_connectors`` does."""
    from connectors.services import sync_run_execute

    run = sync_run_start(connector=connector, full_sync=full_sync, enqueue=False)
    return sync_run_execute(run_id=run.pk)
