"""Keeping derived data current: writers of facts say which factories (and months) they
touched; the touches are coalesced and handed to the apps that keep derived data (the KPI
rollups: ``kpis.refresh`` enqueues ``kpis.tasks.refresh_rollups``).

It lives in ``coe`` so the writers (registry, connectors) need not import the apps above
them: they call :func:`touch` and :func:`batch`; subscribers connect to
:data:`refresh_due`, sent with ``pending`` = {factory id: set of months, or None for every
month; an empty set: the factory's current figures only}.

- :func:`shift_findings` hands a detection run's changes to the factories' finding
  figures (open findings, money at stake) to the subscribers of :data:`findings_shifted`
  at once, in the run's transaction: they apply them by difference.
- :func:`touch` records factories and months. Outside :func:`batch`, the subscribers run
  when the current transaction commits (once for everything the transaction touched); a
  rolled-back transaction hands over nothing.
- :func:`batch` (a context manager, nestable) holds every touch until the outermost one
  exits: a file import, a connector sync, a detection run or the demo load hand over one
  set of factories, however many rows and transactions they wrote.
- With no broker (eager Celery: the embedded default and the tests) the subscribers run
  at once, in the writer's own transaction, so a page read right after the write already
  sees the refreshed rollups.

Touches are kept per thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import UTC, date, datetime

from django.db import transaction
from django.dispatch import Signal

ALL = None

refresh_due = Signal()  # kwargs: pending
# kwargs: shifts {factory id: (change in open findings, change in money at stake)} and
# moved {fragmentation finding id: change in its money at stake, for every factory it lists}
findings_shifted = Signal()

_state = threading.local()


def _pending() -> dict:
    if not hasattr(_state, "pending"):
        _state.pending = {}
        _state.depth = 0
    return _state.pending


def _waiting() -> bool:
    return bool(_pending())


def touch(factory_ids: Iterable[int | None], months: Iterable[date] | None = ALL) -> None:
    """Mark the derived data of ``factory_ids`` as needing a refresh: for ``months`` (any
    dates: their months), every month (None), or the current figures only (empty)."""
    pending = _pending()
    wanted = None if months is None else {_month(m) for m in months}
    for factory_id in {int(pk) for pk in factory_ids if pk is not None}:
        if factory_id in pending and pending[factory_id] is None:
            continue
        if wanted is None:
            pending[factory_id] = None
        else:
            pending.setdefault(factory_id, set()).update(wanted)
    if pending and not _state.depth:
        _schedule()


def shift_findings(shifts: dict, moved: dict) -> None:
    """A detection run moved the finding figures of factories: ``shifts`` per factory (open
    findings, money at stake), ``moved`` per finding updated by difference (money at stake,
    for each factory it lists). Sent at once, inside the run's transaction, so the figures
    commit (or roll back) with the findings."""
    if shifts or moved:
        findings_shifted.send(sender=None, shifts=shifts, moved=moved)


def _month(value: date | datetime) -> date:
    """The first day of the calendar month (UTC) of a date or an aware datetime."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    return value.replace(day=1)


def _inline() -> bool:
    """Whether tasks run in the caller (eager Celery: no broker). The Celery app's own
    setting decides, as it decides for the refresh task itself."""
    from coe.celery import app

    return bool(app.conf.task_always_eager)


def _schedule() -> None:
    if _inline():
        flush()
    else:
        # One callback per touch: the first to run hands over everything pending, the
        # others find nothing. (A rolled-back transaction drops its callbacks; what it
        # touched goes with the next commit, a harmless extra refresh.)
        transaction.on_commit(flush)


@contextmanager
def batch(*, hand_over: bool = True):
    """Hold the touches made inside until the outermost ``batch`` exits, then hand them
    over once (after the commit, with a broker). When it raises, what was touched is still
    handed over (earlier transactions may have committed) unless the transaction is
    broken; nothing is with ``hand_over=False`` (a caller that rebuilds everything itself:
    the demo)."""
    _pending()
    _state.depth += 1
    try:
        yield
    except BaseException:
        _state.depth -= 1
        if not _state.depth:
            # What committed before the error landed: hand it over, unless the database
            # transaction is broken (then the writes roll back with it).
            if transaction.get_connection().needs_rollback or not hand_over:
                _state.pending.clear()
            elif _waiting():
                _schedule()
        raise
    _state.depth -= 1
    if not hand_over and not _state.depth:
        _state.pending.clear()
    if not _state.depth and _waiting():
        _schedule()


def flush() -> None:
    """Hand what was touched to the subscribers (and forget it)."""
    pending = _pending()
    touched = dict(pending)
    pending.clear()
    if touched:
        refresh_due.send(sender=None, pending=touched)
