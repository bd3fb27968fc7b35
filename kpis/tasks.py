"""Celery tasks of the KPI app (routed to the ``cpu`` queue)."""

from __future__ import annotations

from datetime import date

from coe.celery import app


@app.task(acks_late=True, time_limit=30 * 60)
def refresh_rollups(factory_ids: list[int], months: list[str] | None = None) -> dict:
    """Recompute the rollups of ``factory_ids`` for ``months`` (ISO dates of first days;
    None: every month; empty: the figures only). Idempotent: a redelivered task rewrites
    the same rows."""
    from kpis.rollups import rebuild

    wanted = None if months is None else [date.fromisoformat(m) for m in months]
    return rebuild(factory_ids, wanted)
