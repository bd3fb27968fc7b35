"""Small builders for registry tests (real rows, no mocks)."""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection

from registry import services
from registry.models import Adoption, Capability, Tool

_seq = itertools.count(1)


def capability(slug: str = "", name: str = "") -> Capability:
    n = next(_seq)
    slug = slug or f"cap-{n}"
    found = Capability.objects.filter(slug=slug).first()
    return found or Capability.objects.create(
        name=name or slug.replace("-", " ").title(), slug=slug
    )


def tool(name: str = "", *, caps=(), ring: str = "assess", vendor: str = "", **fields) -> Tool:
    name = name or f"Tool {next(_seq)}"
    return services.tool_create(name=name, vendor=vendor, ring=ring, capabilities=caps, **fields)


def adoption(factory, used: Tool | None, *, name: str = "", cost=None, seats=None, **fields):
    return Adoption.objects.create(
        factory=factory,
        tool=used,
        declared_name=name or (used.name if used else f"Unknown {next(_seq)}"),
        annual_cost=Decimal(cost) if cost is not None else None,
        seats=seats,
        resolution_confidence=1.0 if used else None,
        **fields,
    )


def needs_postgresql(test):
    """Mark a test of detection's advisory lock: PostgreSQL only (SQLite serialises its one
    writer), committing for real (another session must see its rows)."""
    marks = (
        pytest.mark.postgres,
        pytest.mark.skipif(
            connection.vendor != "postgresql",
            reason="needs PostgreSQL (DATABASE_URL): advisory locks are PostgreSQL's, SQLite "
            "serialises writers itself; CI's PostgreSQL pass runs it",
        ),
        pytest.mark.django_db(transaction=True),
    )
    for mark in marks:
        test = mark(test)
    return test


@contextmanager
def detection_in_progress():
    """Another session holds detection's advisory lock, as a running detection does, until
    the block ends or the yielded ``release()`` is called."""
    import psycopg

    from registry.detection import DETECTION_LOCK
    from tests.worker import test_database_url

    other = psycopg.connect(test_database_url(), autocommit=True)
    other.execute("SELECT pg_advisory_lock(%s)", [DETECTION_LOCK])
    held = [True]

    def release() -> None:
        if held[0]:
            other.execute("SELECT pg_advisory_unlock(%s)", [DETECTION_LOCK])
            held[0] = False

    try:
        yield release
    finally:
        release()
        other.close()
