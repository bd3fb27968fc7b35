"""A bounded schemathesis run over the whole API as CoE staff, a business owner and a
member (``make fuzz`` is the long run): no server errors, every response as the schema
says. The generation and the checks are schemathesis's own (see ``tests/fuzz.py``)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from rest_framework.test import APIClient

from tests.fuzz import Tally, demo_tokens, fuzz_operations


@pytest.fixture
def connection_kept_across_requests():
    """The WSGI application is called directly (not through Django's test client), so its
    end-of-request signal would close the test's connection: inside the test's transaction
    autocommit is off, which ``close_old_connections`` takes for a broken connection (on
    PostgreSQL; SQLite's in-memory test database is never closed). Django's test client
    disconnects the same handler for the same reason."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.timeout(600)
def test_the_whole_api_answers_without_server_errors_and_as_its_schema_says(
    db, connection_kept_across_requests
):
    from django.db import connection

    if connection.vendor == "postgresql":
        # Known gap: calling the WSGI application directly inside the test's transaction
        # loses the PostgreSQL connection at the first request; the bounded run is the
        # SQLite pass of CI, and `make fuzz` runs the long one.
        pytest.skip("the in-process fuzz runs on SQLite (CI's first pass); see make fuzz")
    with open(os.devnull, "w") as quiet:
        call_command("load_demo", stdout=quiet)
    client = APIClient()
    tokens = demo_tokens(lambda data: client.post("/api/auth/token/", data).json())
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json",
        get_wsgi_application(),
        headers={"Authorization": f"Token {tokens['staff']}"},
    )
    operations = sum(1 for _ in schema.get_all_operations())

    tally = fuzz_operations(schema, tokens, examples=1, tally=Tally())

    assert operations > 100  # the whole schema, not a part of it
    assert tally.requests >= operations * len(tokens)
    print(tally.summary())
    assert (tally.server_errors, tally.schema_mismatches, tally.transport_errors) == (
        0,
        0,
        0,
    ), "\n\n".join(tally.problems)
