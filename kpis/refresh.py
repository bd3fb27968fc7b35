"""The rollups' side of ``coe.derived``: touched factories become refresh tasks."""

from __future__ import annotations


def enqueue(sender=None, pending: dict | None = None, **kwargs) -> int:
    """One task for the factories whose touched months are known (their union), one for
    those to refresh in full (months None); a touch with no month refreshes the figures
    only. Returns how many tasks were enqueued (0, 1 or 2)."""
    from kpis.tasks import refresh_rollups

    pending = pending or {}
    every = sorted(pk for pk, months in pending.items() if months is None)
    some = sorted(pk for pk, months in pending.items() if months is not None)
    months = sorted({m.isoformat() for pk in some for m in pending[pk]})
    if every:
        refresh_rollups.delay(every, None)
    if some:
        refresh_rollups.delay(some, months)
    return bool(every) + bool(some)
