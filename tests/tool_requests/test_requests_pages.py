"""Pages of tool requests: lists, queue, form, detail and actions, with pinned query counts."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from tests.factories import PASSWORD
from tests.tool_requests.request_helpers import make_request, move, registry
from tool_requests.models import ToolRequest


def login(client, world, persona):
    assert client.login(
        request=HttpRequest(), username=world.users[persona].username, password=PASSWORD
    )
    return client


def test_my_requests_and_the_queues(client, world, django_assert_max_num_queries):
    submitted = move(make_request(world), ("submit", world.users["member_a"]))
    for _ in range(10):
        make_request(world)
    login(client, world, "member_a")
    with django_assert_max_num_queries(12):
        page = client.get(reverse("request-list"))
    assert page.status_code == 200 and f"request-{submitted.pk}" in page.content.decode()
    client.logout()
    login(client, world, "owner_a")
    queue = client.get(reverse("request-list"), {"view": "queue"}).content.decode()
    assert f"request-{submitted.pk}" in queue and "Waiting for me (1)" in queue
    client.logout()
    login(client, world, "staff")
    assert (
        f"request-{submitted.pk}"
        not in client.get(reverse("request-list"), {"view": "queue"}).content.decode()
    )


def test_member_of_b_gets_404_on_a_request_of_a(client, world):
    req = make_request(world)
    login(client, world, "member_b")
    assert client.get(reverse("request-detail", args=[req.pk])).status_code == 404


def test_the_form_creates_and_submits_a_request(client, world):
    reg = registry(world)
    login(client, world, "member_a")
    assert client.get(reverse("request-create")).status_code == 200
    response = client.post(
        reverse("request-create"),
        {
            "factory": "alpha-plant",
            "tool": reg["datadog"].slug,
            "justification": "Traces for the MES.",
            "seats": "4",
            "submit": "1",
        },
    )
    req = ToolRequest.objects.get()
    assert response.status_code == 302 and req.status == "submitted"
    assert req.requester == world.users["member_a"]


def test_the_form_only_offers_the_user_factories(client, world):
    login(client, world, "member_b")
    html = client.get(reverse("request-create")).content.decode()
    assert "beta-app" in html and "alpha-plant" not in html


def test_detail_shows_history_comments_and_the_right_buttons(
    client, world, django_assert_max_num_queries
):
    req = move(make_request(world), ("submit", world.users["member_a"]))
    login(client, world, "owner_a")
    client.post(reverse("request-comment", args=[req.pk]), {"body": "Why not Grafana?"})
    with django_assert_max_num_queries(20):
        html = client.get(reverse("request-detail", args=[req.pk])).content.decode()
    assert "Why not Grafana?" in html and "submitted" in html
    assert f"{reverse('request-action', args=[req.pk, 'approve'])}" in html
    response = client.post(reverse("request-action", args=[req.pk, "approve"]), {"comment": "fine"})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == "owner_approved"
    # The member sees no approve button, and posting it anyway changes nothing.
    client.logout()
    login(client, world, "member_a")
    html = client.get(reverse("request-detail", args=[req.pk])).content.decode()
    assert reverse("request-action", args=[req.pk, "approve"]) not in html
    client.post(reverse("request-action", args=[req.pk, "approve"]))
    req.refresh_from_db()
    assert req.status == "owner_approved"
