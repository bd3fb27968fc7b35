"""The change log: who changed what, from where — for every write, single or in bulk.

django-auditlog records each ``save()`` and ``delete()`` of a registered model. This
module adds what it cannot know by itself:

- **the context of a write**: the actor (a user, or none = the system) and the origin
  (``api``, ``page``, ``admin``, ``command``, ``task``; ``system`` when none was set), kept
  in a context variable. :class:`ChangeLogMiddleware` sets it per request,
  :class:`ChangeLogCommand` per management command, and ``coe/celery.py`` per task. Every
  log entry is stamped from it (:func:`stamp_log_entry`, a ``pre_save`` receiver of
  ``LogEntry``): the actor, the client address and ``additional_data["origin"]``.
- **bulk writes**: ``bulk_create``, ``bulk_update``, ``QuerySet.update()`` and raw
  statements send no signals, so auditlog never sees them. A bulk writer calls
  :func:`log_bulk` right after its write with the objects (or ids) it wrote, and one
  ``INSERT`` (``COPY`` on PostgreSQL) writes one entry per object, whatever their number.
  Fact rows (metrics, counters, finance, deployments, devices) get one entry per import
  instead: :func:`log_summary`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand
from django.db import models
from django.utils import timezone

# Ids loaded per query when a bulk writer gives ids instead of objects.
_ID_CHUNK = 5000


class Origin(models.TextChoices):
    """Where a change came from (``additional_data["origin"]`` of every log entry)."""

    API = "api", "API"
    PAGE = "page", "Page"
    ADMIN = "admin", "Admin"
    COMMAND = "command", "Management command"
    TASK = "task", "Background task"
    SYSTEM = "system", "System (no context set)"


class Action:
    """auditlog's action codes, by name."""

    CREATE, UPDATE, DELETE = 0, 1, 2
    BY_NAME = {"create": 0, "update": 1, "delete": 2}


@dataclass
class ChangeContext:
    """Who is writing, and through what.

    For a request the actor is read from the request when an entry is written, not when
    the request arrives: the API authenticates a token inside the view, after every
    middleware has run.
    """

    origin: str = Origin.SYSTEM
    actor: Any = None
    request: Any = None
    remote_addr: str | None = None
    via: str = ""  # the command or task name

    def current_actor(self):
        """The signed-in user behind the change, or None (the system)."""
        if self.request is not None:
            user = getattr(self.request, "user", None)
            return user if user is not None and user.is_authenticated else None
        return self.actor


_context: ContextVar[ChangeContext | None] = ContextVar("coe_change_context", default=None)


def current() -> ChangeContext:
    """The context of the running code (origin ``system`` outside any)."""
    return _context.get() or ChangeContext()


@contextlib.contextmanager
def change_context(
    *,
    origin: str,
    actor=None,
    request=None,
    remote_addr: str | None = None,
    via: str = "",
) -> Iterator[ChangeContext]:
    """Every change made inside is logged with this actor and origin."""
    context = ChangeContext(
        origin=origin, actor=actor, request=request, remote_addr=remote_addr, via=via
    )
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def enter_context(context: ChangeContext):
    """Set ``context`` until :func:`leave_context` is called with the token returned (for
    hooks that start and end in two calls, such as Celery's task signals)."""
    return _context.set(context)


def leave_context(token) -> None:
    _context.reset(token)


def origin_of_path(path: str) -> str:
    """The origin of a request by its path: the API, the admin or a page."""
    if path.startswith("/api/"):
        return Origin.API
    if path.startswith("/admin/"):
        return Origin.ADMIN
    return Origin.PAGE


class ChangeLogMiddleware:
    """Sets the change context of a request (after authentication, before the views)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from auditlog.cid import set_cid

        from coe.signin import client_ip

        set_cid(request)  # auditlog's correlation id: entries of one request share it
        with change_context(
            origin=origin_of_path(request.path_info),
            request=request,
            remote_addr=client_ip(request),
        ):
            return self.get_response(request)


class ChangeLogCommand(BaseCommand):
    """A management command whose changes are logged with origin ``command`` (actor: the
    system) and the command's name. Every command of the project derives from it."""

    def execute(self, *args, **options):
        name = type(self).__module__.rsplit(".", 1)[-1]
        with change_context(origin=Origin.COMMAND, via=name):
            return super().execute(*args, **options)


def stamp_log_entry(sender, instance, **kwargs) -> None:
    """``pre_save`` of auditlog's ``LogEntry``: fill in actor, address and origin from the
    current context (values the writer set itself are kept)."""
    if instance.pk is not None:
        return
    context = current()
    if instance.actor_id is None:
        actor = context.current_actor()
        if actor is not None:
            instance.actor = actor
            instance.actor_email = getattr(actor, "email", None) or None
    if instance.remote_addr is None:
        instance.remote_addr = context.remote_addr
    instance.additional_data = _additional_data(context, instance.additional_data)


def _additional_data(context: ChangeContext, data=None) -> dict:
    data = dict(data) if isinstance(data, Mapping) else {}
    data.setdefault("origin", str(context.origin))
    if context.via:
        data.setdefault("via", context.via)
    return data


# --- bulk writes -------------------------------------------------------------------------


def _shared(context: ChangeContext, summary: dict | None = None) -> dict:
    """The columns every entry of one bulk write shares (actor, address, time, origin)."""
    from auditlog.cid import get_cid

    actor = context.current_actor()
    data = _additional_data(context)
    if summary is not None:
        data["summary"] = summary
    return {
        "actor": actor.pk if actor is not None else None,
        "actor_email": (getattr(actor, "email", None) or None) if actor is not None else None,
        "remote_addr": context.remote_addr,
        "cid": get_cid(),
        "timestamp": timezone.now(),
        "additional_data": json.dumps(data, default=str),
    }


# Per entry: content_type, object_pk, object_id, object_repr, action, changes (JSON text).
_OWN_COLUMNS = ["content_type", "object_pk", "object_id", "object_repr", "action", "changes"]
_SHARED_COLUMNS = ["actor", "actor_email", "remote_addr", "cid", "timestamp", "additional_data"]


def _insert(rows: list[tuple], shared: dict) -> int:
    """Write entries in one statement, whatever their number: ``COPY`` on PostgreSQL, one
    ``executemany`` elsewhere. Rows are plain tuples (no model instance per entry): at 10⁵
    objects, building and preparing instances would cost more than the write."""
    if not rows:
        return 0
    from auditlog.models import LogEntry
    from django.db import connection

    meta, quote = LogEntry._meta, connection.ops.quote_name
    names = [*_OWN_COLUMNS, "changes_text", *_SHARED_COLUMNS]
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    table = quote(meta.db_table)
    common = [shared[name] for name in _SHARED_COLUMNS]
    if connection.vendor == "postgresql":
        statement = f"COPY {table} ({columns}) FROM STDIN"
        with connection.cursor() as wrapper, wrapper.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row((*row, "", *common))
        return len(rows)
    common[_SHARED_COLUMNS.index("timestamp")] = connection.ops.adapt_datetimefield_value(
        shared["timestamp"]
    )
    marks = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})",
            [(*row, "", *common) for row in rows],
        )
    return len(rows)


def _disabled() -> bool:
    from auditlog.context import auditlog_disabled

    return auditlog_disabled.get()


def _load(model: type[models.Model], ids: Iterable) -> list[models.Model]:
    ids = list(dict.fromkeys(ids))
    found: list[models.Model] = []
    for start in range(0, len(ids), _ID_CHUNK):
        found.extend(model._default_manager.filter(pk__in=ids[start : start + _ID_CHUNK]))
    return found


_TRACKED: dict[type, list] = {}


def _tracked_fields(model: type[models.Model]) -> list[tuple[models.Field, bool]]:
    """The fields auditlog tracks for ``model`` (its include/exclude lists), each with
    whether it is masked; computed once per model."""
    found = _TRACKED.get(model)
    if found is None:
        from auditlog.registry import auditlog

        spec = auditlog.get_model_fields(model) if auditlog.contains(model) else {}
        include = set(spec.get("include_fields") or ())
        exclude = set(spec.get("exclude_fields") or ())
        masked = set(spec.get("mask_fields") or ())
        found = [
            (f, f.name in masked)
            for f in model._meta.concrete_fields
            if (not include or f.name in include) and f.name not in exclude
        ]
        _TRACKED[model] = found
    return found


def _text(field: models.Field, value) -> str:
    """A value as auditlog writes it in ``changes`` (datetimes naive in UTC, JSON sorted)."""
    if value is None:
        return "None"
    if isinstance(field, models.DateTimeField) and timezone.is_aware(value):
        return str(timezone.make_naive(value, timezone=dt.UTC))
    if isinstance(field, models.JSONField):
        try:
            return json.dumps(value, sort_keys=True, cls=field.encoder)
        except TypeError:
            return str(value)
    return str(value)


def _diff(
    model: type[models.Model],
    old: models.Model | None,
    new: models.Model | None,
    tracked: list | None = None,
) -> dict:
    """``{field: [old, new]}`` over the tracked fields (or ``tracked``, some of them), the
    way auditlog writes it, without its per-call field discovery (the cost that matters for
    10⁵ objects)."""
    from auditlog.diff import mask_str

    diff = {}
    for field, masked in tracked if tracked is not None else _tracked_fields(model):
        before = getattr(old, field.attname) if old is not None else None
        after = getattr(new, field.attname) if new is not None else None
        if before is after or (old is not None and new is not None and before == after):
            continue
        before_text, after_text = _text(field, before), _text(field, after)
        if before_text != after_text:
            if masked:
                before_text, after_text = mask_str(before_text), mask_str(after_text)
            diff[field.name] = [before_text, after_text]
    return diff


def log_bulk(
    model: type[models.Model],
    objects: Iterable[models.Model] | None = None,
    *,
    ids: Iterable | None = None,
    action: str = "create",
    before: Mapping[Any, models.Model] | None = None,
    changes: Mapping[Any, dict] | dict | None = None,
    describe: Callable[[models.Model], str] | None = None,
    summary: dict | None = None,
    fields: Iterable[str] | None = None,
) -> int:
    """Write one log entry per object written in bulk, all in one statement.

    ``objects`` are the rows as written (with their primary keys); or give ``ids`` and
    they are loaded (one query per 5,000). The changes of an entry are, in this order:
    ``changes[pk]`` (or ``changes`` itself when it maps field names to ``[old, new]``),
    else the difference between ``before[pk]`` (a copy taken before the write) and the
    object, else every field (create) or nothing (update, delete). An update whose
    difference is empty writes no entry. ``describe`` gives an object's text when its
    ``str()`` would query; ``summary`` (counts…) goes into ``additional_data["summary"]``
    of every entry; ``fields``: the only fields an update can have changed (a bulk
    update's columns), the others are not compared. Returns the number of entries written.
    """
    from django.contrib.contenttypes.models import ContentType

    if _disabled():
        return 0
    if objects is None:
        objects = _load(model, ids or ())
    code = Action.BY_NAME[action]
    content_type_id = ContentType.objects.get_for_model(model).pk
    uniform = isinstance(changes, Mapping) and all(
        isinstance(v, list | tuple) for v in changes.values()
    )
    tracked = None
    if fields is not None:
        names = set(fields)
        tracked = [(f, m) for f, m in _tracked_fields(model) if f.name in names]
    rows = []
    for obj in objects:
        pk = obj.pk
        if uniform:
            diff = dict(changes)
        elif changes is not None and pk in changes:
            diff = changes[pk]
        elif before is not None and pk in before:
            diff = _diff(model, before[pk], obj, tracked)
        elif code == Action.CREATE:
            diff = _diff(model, None, obj)
        elif code == Action.DELETE:
            diff = _diff(model, obj, None)
        else:
            diff = {}
        if code == Action.UPDATE and not diff:
            continue
        rows.append(
            (
                content_type_id,
                str(pk),
                pk if isinstance(pk, int) else None,
                (describe(obj) if describe else str(obj))[:2000],
                code,
                json.dumps(diff, default=str) if diff else None,
            )
        )
    return _insert(rows, _shared(current(), summary))


def log_summary(
    model: type[models.Model],
    *,
    text: str,
    summary: dict,
    action: str = "create",
    object_pk: str = "",
) -> int:
    """One entry standing for many fact rows written together (an import): ``text`` is
    its description and ``summary`` (file name, counts, factories…) goes into
    ``additional_data["summary"]``."""
    from django.contrib.contenttypes.models import ContentType

    if _disabled():
        return 0
    row = (
        ContentType.objects.get_for_model(model).pk,
        object_pk,
        None,
        text[:2000],
        Action.BY_NAME[action],
        None,
    )
    return _insert([row], _shared(current(), summary))


# --- Celery tasks ----------------------------------------------------------------------------

_ACTOR_HEADER = "coe_actor_id"
_task_tokens: dict[str, Any] = {}


def task_headers(headers: dict | None) -> None:
    """``before_task_publish``: carry the enqueuing user to the worker (the actor of the
    task's changes; none for beat and commands, i.e. the system)."""
    actor = current().current_actor()
    if headers is not None and actor is not None:
        headers[_ACTOR_HEADER] = actor.pk


def task_started(task_id: str, task) -> None:
    """``task_prerun``: the task's changes are logged with origin ``task`` and its name.
    The actor is the user who enqueued it: from the message header on a worker, from the
    caller's own context when the task runs inline."""
    actor = current().current_actor()
    if actor is None:
        request = getattr(task, "request", None)
        actor_id = getattr(request, _ACTOR_HEADER, None) or (
            getattr(request, "headers", None) or {}
        ).get(_ACTOR_HEADER)
        if actor_id:
            from django.contrib.auth import get_user_model

            actor = get_user_model()._default_manager.filter(pk=actor_id).first()
    context = ChangeContext(origin=Origin.TASK, actor=actor, via=getattr(task, "name", ""))
    _task_tokens[task_id] = enter_context(context)


def task_finished(task_id: str) -> None:
    """``task_postrun``: back to the context the task started in."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        with contextlib.suppress(ValueError):  # reset from another context (should not happen)
            leave_context(token)
