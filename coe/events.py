"""The event outbox: ``emit`` writes a row in the caller's transaction; after the commit a
task hands new rows to the subscribers (webhooks, in-app notifications, e-mail).

A rolled-back transaction takes its events with it (nothing is delivered for a change
that did not happen); a committed one is dispatched once: the dispatcher claims
rows with a compare-and-swap ``UPDATE`` and a periodic sweep picks up rows whose
after-commit task never ran (broker down, worker lost). Subscribers live in higher
layers (``notify``) and register here from their ``AppConfig.ready`` — the core never
imports them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from kombu.exceptions import OperationalError

from coe.choices import EventKind
from coe.models import Event

logger = logging.getLogger(__name__)

Subscriber = Callable[[list[Event]], None]
_subscribers: dict[str, Subscriber] = {}
DISPATCH_BATCH = 500


def subscribe(name: str, handler: Subscriber) -> None:
    """Register ``handler(events)`` under ``name`` (registering a name again replaces it)."""
    _subscribers[name] = handler


def _ids(factory) -> list[int]:
    if factory is None:
        return []
    if isinstance(factory, Model | int):
        factory = [factory]
    return sorted({f.pk if isinstance(f, Model) else int(f) for f in factory})


@dataclass
class Pending:
    """An event to write: ``emit_many`` takes a list of them."""

    event: str
    data: dict
    factory: object = None
    key: str | None = None
    occurred_at: datetime | None = None
    extra: dict = field(default_factory=dict)


def emit(event: str, data: dict, *, factory=None, key: str | None = None) -> Event | None:
    """Write one outbox row in the current transaction; delivery follows the commit.

    ``factory``: a Factory, its id, or several (the factories the event concerns).
    ``key``: de-duplicates periodic events — an event whose key was emitted before is
    not written again, and None is returned.
    """
    written = emit_many([Pending(event, data, factory, key)])
    return written[0] if written else None


def emit_many(pending: Iterable[Pending]) -> list[Event]:
    """Write many events in one statement (keys already emitted are skipped)."""
    now = timezone.now()
    rows = []
    for item in pending:
        EventKind(item.event)  # an unknown kind is a programming error, not a silent no-op
        rows.append(
            Event(
                event=item.event,
                data=item.data,
                factory_ids=_ids(item.factory),
                key=item.key,
                occurred_at=item.occurred_at or now,
            )
        )
    if not rows:
        return []
    keys = [row.key for row in rows if row.key]
    if keys:
        taken = set(Event.objects.filter(key__in=keys).values_list("key", flat=True))
        seen: set[str] = set()
        fresh = []
        for row in rows:
            if row.key and (row.key in taken or row.key in seen):
                continue
            if row.key:
                seen.add(row.key)
            fresh.append(row)
        rows = fresh
    if not rows:
        return []
    try:
        with transaction.atomic():
            Event.objects.bulk_create(rows)
    except IntegrityError:  # a concurrent sweep wrote one of the keys: write the rest one by one
        written = []
        for row in rows:
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
                written.append(row)
            except IntegrityError:
                continue
        rows = written
    transaction.on_commit(_enqueue_dispatch)
    return rows


def _enqueue_dispatch() -> None:
    from coe.tasks import dispatch_events_task

    try:
        dispatch_events_task.delay()
    except (
        OSError,
        OperationalError,
    ):  # the broker is down: the periodic sweep delivers the rows later
        logger.exception("could not enqueue the event dispatch; the sweep will deliver")


def dispatch_pending(*, limit: int = DISPATCH_BATCH) -> int:
    """Hand undelivered events to every subscriber, oldest first; returns how many.

    Each batch is claimed with a compare-and-swap ``UPDATE`` (two dispatchers never deliver
    the same row). Subscribers only write rows (notifications, webhook deliveries with
    their own retries), each in its own transaction: one that fails is logged and its
    error kept on the events, without repeating what the others already did."""
    total = 0
    while True:
        ids = list(
            Event.objects.filter(dispatched_at__isnull=True)
            .order_by("occurred_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return total
        now = timezone.now()
        Event.objects.filter(pk__in=ids, dispatched_at__isnull=True).update(dispatched_at=now)
        events = list(Event.objects.filter(pk__in=ids, dispatched_at=now).order_by("occurred_at"))
        if not events:
            continue
        failed = []
        for name, handler in list(_subscribers.items()):
            try:
                with transaction.atomic():
                    handler(events)
            except Exception as exc:
                logger.exception("event subscriber %s failed", name)
                failed.append(f"{name}: {exc.__class__.__name__}: {exc}")
        if failed:  # kept for the admin; retrying would repeat what the others did
            Event.objects.filter(pk__in=[e.pk for e in events]).update(
                dispatch_error="\n".join(failed)[:2000]
            )
        total += len(events)
        if len(ids) < limit:
            return total
