"""Sign-in hardening: lockout and unlock, token expiry and revocation, docs access,
the client address behind proxies, and actor addresses shown to CoE staff only."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import PASSWORD

TOKEN_URL = "/api/auth/token/"
LIMIT = 5  # LOGIN_FAILURE_LIMIT's default


def _fail(client, username="member_a", times=LIMIT, **extra):
    return [
        client.post(TOKEN_URL, {"username": username, "password": "wrong"}, **extra)
        for _ in range(times)
    ]


# --- lockout -----------------------------------------------------------------------------------


def test_repeated_failures_lock_the_token_endpoint_even_for_the_right_password(world, caplog):
    client = APIClient()
    with caplog.at_level(logging.WARNING, logger="coe.signin"):
        answers = _fail(client)
    assert [a.status_code for a in answers[:-1]] == [400] * (LIMIT - 1)
    assert answers[-1].status_code == 429
    right = client.post(TOKEN_URL, {"username": "member_a", "password": PASSWORD})
    assert right.status_code == 429
    body = right.json()
    assert body["code"] == "locked_out" and "Too many failed sign-in attempts" in body["detail"]
    assert int(right["Retry-After"]) > 0
    assert "sign-in locked out: username 'member_a'" in caplog.text


def test_forty_wrong_passwords_then_the_right_one_is_refused(world):
    client = APIClient()
    _fail(client, times=40)
    right = client.post(TOKEN_URL, {"username": "member_a", "password": PASSWORD})
    assert right.status_code == 429


def test_the_lockout_is_per_username_and_address(world):
    _fail(APIClient(), username="member_a", REMOTE_ADDR="203.0.113.7")
    other_address = APIClient().post(
        TOKEN_URL, {"username": "member_a", "password": PASSWORD}, REMOTE_ADDR="203.0.113.8"
    )
    assert other_address.status_code == 200
    other_user = APIClient().post(
        TOKEN_URL, {"username": "member_b", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7"
    )
    assert other_user.status_code == 200


def test_a_success_before_the_limit_forgets_the_failures(world):
    client = APIClient()
    _fail(client, times=LIMIT - 1)
    assert client.post(TOKEN_URL, {"username": "member_a", "password": PASSWORD}).status_code == 200
    answers = _fail(client, times=LIMIT - 1)
    assert {a.status_code for a in answers} == {400}


def test_the_login_page_locks_out_with_a_clear_message(client, world):
    for _ in range(LIMIT):
        client.post(reverse("login"), {"username": "member_a", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "member_a", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_coe_staff_list_and_lift_a_lockout_through_the_api(world, caplog):
    _fail(APIClient())
    staff = world.client("staff")
    listed = staff.get("/api/auth/lockouts/").json()
    assert listed["count"] == 1
    lockout = listed["results"][0]
    assert lockout["username"] == "member_a" and lockout["failures"] == LIMIT
    assert lockout["ip_address"] == "127.0.0.1" and lockout["locked_until"]
    with caplog.at_level(logging.WARNING, logger="coe.signin"):
        assert staff.delete(f"/api/auth/lockouts/{lockout['id']}/").status_code == 204
    assert "lockout lifted: username 'member_a' from 127.0.0.1 by staff" in caplog.text
    assert staff.get("/api/auth/lockouts/").json()["count"] == 0
    right = APIClient().post(TOKEN_URL, {"username": "member_a", "password": PASSWORD})
    assert right.status_code == 200


@pytest.mark.parametrize(
    "persona, expected", [("member_a", 403), ("owner_a", 403), ("anonymous", 401)]
)
def test_only_coe_staff_see_and_lift_lockouts(world, persona, expected):
    _fail(APIClient())
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.get()
    client = world.client(persona)
    assert client.get("/api/auth/lockouts/").status_code == expected
    assert client.delete(f"/api/auth/lockouts/{attempt.pk}/").status_code == expected
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


def test_coe_staff_unlock_from_the_lockouts_page(client, world):
    _fail(APIClient())
    client.force_login(world.users["staff"])
    page = client.get(reverse("lockout-list"))
    assert page.status_code == 200 and b"member_a" in page.content and b"Unlock" in page.content
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.get()
    done = client.post(reverse("lockout-unlock", args=[attempt.pk]), follow=True)
    assert b"Unlocked member_a from 127.0.0.1" in done.content
    assert b"Nobody is locked out" in done.content
    right = APIClient().post(TOKEN_URL, {"username": "member_a", "password": PASSWORD})
    assert right.status_code == 200


def test_the_lockouts_page_is_for_coe_staff_only(client, world):
    _fail(APIClient())
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.get()
    client.force_login(world.users["owner_a"])
    assert client.get(reverse("lockout-list")).status_code == 403
    assert client.post(reverse("lockout-unlock", args=[attempt.pk])).status_code == 403
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


# --- tokens ------------------------------------------------------------------------------------


def _token(username="member_a") -> dict:
    response = APIClient().post(TOKEN_URL, {"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()


def _as(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_says_when_it_expires(world, settings):
    settings.API_TOKEN_TTL_HOURS = 24
    body = _token()
    expires = timezone.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=23, minutes=59) < expires - timezone.now() <= timedelta(hours=24)


def test_an_expired_token_answers_401_and_a_new_login_issues_a_fresh_one(world, settings):
    key = _token()["token"]
    assert _as(key).get(reverse("api:factory-list")).status_code == 200
    Token.objects.filter(key=key).update(
        created=timezone.now() - timedelta(hours=settings.API_TOKEN_TTL_HOURS, seconds=1)
    )
    expired = _as(key).get(reverse("api:factory-list"))
    assert expired.status_code == 401
    assert expired.json()["detail"] == (
        "Token has expired; request a new one with POST /api/auth/token/."
    )
    fresh = _token()["token"]
    assert fresh != key and _as(fresh).get(reverse("api:factory-list")).status_code == 200


def test_a_shorter_ttl_expires_tokens_already_issued(world, settings):
    key = _token()["token"]
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(hours=2))
    assert _as(key).get(reverse("api:factory-list")).status_code == 200
    settings.API_TOKEN_TTL_HOURS = 1
    assert _as(key).get(reverse("api:factory-list")).status_code == 401


def test_a_valid_token_is_issued_again_until_it_expires(world):
    assert _token()["token"] == _token()["token"]


def test_delete_revokes_the_callers_token_only(world):
    mine, theirs = _token("member_a")["token"], _token("member_b")["token"]
    assert _as(mine).delete(TOKEN_URL).status_code == 204
    assert _as(mine).get(reverse("api:factory-list")).status_code == 401
    assert _as(theirs).get(reverse("api:factory-list")).status_code == 200
    assert APIClient().delete(TOKEN_URL).status_code == 401


# --- docs --------------------------------------------------------------------------------------


def test_schema_and_docs_need_a_signed_in_user(world, client):
    assert client.get("/api/schema/").status_code in (401, 403)
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith(reverse("login"))
    assert world.client("member_b").get("/api/schema/").status_code == 200


def test_api_docs_public_opens_schema_and_docs(world, client, settings):
    settings.API_DOCS_PUBLIC = True
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/auth/token/" in schema.content
    assert client.get("/api/docs/").status_code == 200


# --- client address ------------------------------------------------------------------------------


def _update_from(client, **headers):
    response = client.patch(
        reverse("api:factory-detail", args=["alpha-plant"]),
        {"description": f"changed {uuid.uuid4()}"},
        format="json",
        **headers,
    )
    assert response.status_code == 200, response.content
    return LogEntry.objects.filter(action=1).latest("timestamp", "id")


def test_x_forwarded_for_is_ignored_without_trusted_proxies(world):
    entry = _update_from(
        world.client("staff"), REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR="10.9.9.9"
    )
    assert entry.remote_addr == "198.51.100.20"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_one_trusted_proxy_gives_the_address_it_saw_not_what_the_client_claimed(world):
    entry = _update_from(
        world.client("staff"),
        REMOTE_ADDR="10.0.0.2",  # the proxy
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.30",  # client-sent, then proxy-appended
    )
    assert entry.remote_addr == "198.51.100.30"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_spoofed_forwarded_for_cannot_dodge_the_lockout_behind_a_proxy(world):
    client = APIClient()
    for n in range(LIMIT):
        client.post(
            TOKEN_URL,
            {"username": "member_a", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, 198.51.100.40",
        )
    right = client.post(
        TOKEN_URL,
        {"username": "member_a", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="7.7.7.7, 198.51.100.40",
    )
    assert right.status_code == 429


def test_actor_addresses_in_history_are_for_coe_staff_only(world):
    _update_from(world.client("staff"), REMOTE_ADDR="198.51.100.50")
    url = reverse("api:factory-history", args=["alpha-plant"])
    staff_rows = world.client("staff").get(url).json()["results"]
    assert "198.51.100.50" in {r["remote_addr"] for r in staff_rows}
    for persona in ("member_a", "owner_a"):
        rows = world.client(persona).get(url).json()["results"]
        assert rows and {r["remote_addr"] for r in rows} == {None}, persona
        assert b"198.51.100.50" not in world.client(persona).get(url).content
