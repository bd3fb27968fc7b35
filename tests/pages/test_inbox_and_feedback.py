"""The inbox (navigation count, "Waiting for me" first, the factory's requests panel) and
honest feedback (a sync's live status, rejected rows in amber, messages that name things)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from connectors.choices import SyncStatus
from connectors.models import SyncRun
from tests.connectors.helpers import make_connector
from tests.pages.helpers import signed_in
from tests.tool_requests.request_helpers import make_request, move

pytestmark = pytest.mark.django_db


def _nav_count(page: str) -> str | None:
    match = re.search(r'href="/requests/"[^>]*>Requests <span class="nav-count"[^>]*>'
                      r'<span class="sr-only">\(</span>(\d+)', page)  # fmt: skip
    return match.group(1) if match else None


def test_navigation_counts_requests_waiting_for_me(world):
    req = make_request(world)
    move(req, ("submit", world.users["member_a"]))
    assert _nav_count(signed_in(world, "owner_a").get("/factories/").content.decode()) == "1"
    assert _nav_count(signed_in(world, "member_a").get("/factories/").content.decode()) is None
    assert _nav_count(signed_in(world, "staff").get("/factories/").content.decode()) is None


def test_requests_open_on_waiting_for_me_when_something_waits(world):
    req = make_request(world)
    move(req, ("submit", world.users["member_a"]))
    page = signed_in(world, "owner_a").get("/requests/").content.decode()
    assert re.search(r'class="active" aria-current="page">Waiting for me', page)
    assert req.get_absolute_url() in page
    mine = signed_in(world, "member_a").get("/requests/").content.decode()
    assert re.search(r'class="active" aria-current="page">My requests', mine)


def test_factory_page_has_a_requests_panel_with_what_waits(world):
    req = make_request(world)
    move(req, ("submit", world.users["member_a"]))
    page = signed_in(world, "owner_a").get(world.factory_a.get_absolute_url()).content.decode()
    panel = page[page.index('id="panel-requests"') :]
    assert f"#{req.pk}" in panel and "1 waiting for you" in panel


def test_request_action_message_names_the_tool_and_factory(world):
    req = make_request(world)
    client = signed_in(world, "member_a")
    response = client.post(reverse("request-action", args=[req.pk, "submit"]), follow=True)
    text = response.content.decode()
    assert f"Request #{req.pk} for Datadog (Alpha Plant): submitted." in text


def test_sync_now_shows_the_run_status_until_final(world):
    connector = make_connector(world.factory_a, name="Press OPC UA")
    client = signed_in(world, "staff")
    response = client.post(reverse("connector-sync", args=[connector.pk]))
    run = SyncRun.objects.filter(connector=connector).latest("id")
    assert response["Location"] == f"{connector.get_absolute_url()}?run={run.pk}#run-status"
    page = client.get(response["Location"]).content.decode()
    assert f"Sync #{run.pk} of Press OPC UA (Alpha Plant) requested" in page
    assert 'id="run-status"' in page


def test_run_status_fragment_polls_while_active_and_stops_when_final(world):
    connector = make_connector(world.factory_a, name="Press OPC UA")
    run = SyncRun.objects.create(connector=connector, status=SyncStatus.RUNNING, progress=40)
    client = signed_in(world, "staff")
    url = reverse("sync-run-status", args=[run.pk])
    active = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in active and "40 records processed" in active
    detail = client.get(connector.get_absolute_url()).content.decode()
    assert "vendor/htmx/htmx.min.js" in detail  # served from our static files, no CDN
    SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.SUCCEEDED, rejected=4)
    final = client.get(url).content.decode()
    assert "hx-trigger" not in final
    assert '<span class="status status-partial">Succeeded, 4 rejected</span>' in final
    failed_run = SyncRun.objects.create(
        connector=connector, status=SyncStatus.FAILED, message="connection refused"
    )
    failed = client.get(reverse("sync-run-status", args=[failed_run.pk])).content.decode()
    assert "status-failed" in failed and "connection refused" in failed


def test_run_status_is_hidden_outside_the_users_factories(world):
    connector = make_connector(world.factory_a, name="Press OPC UA")
    run = SyncRun.objects.create(connector=connector, status=SyncStatus.RUNNING)
    url = reverse("sync-run-status", args=[run.pk])
    assert signed_in(world, "member_b").get(url).status_code == 404
    assert signed_in(world, "member_a").get(url).status_code == 200
