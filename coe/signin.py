"""Sign-in: the client's address, the login lockout (django-axes) and API tokens.

- The client address is ``REMOTE_ADDR`` unless ``TRUSTED_PROXY_COUNT`` says how many
  proxies in front of the service append to ``X-Forwarded-For``; then it is the entry that
  many places from the right (what the nearest trusted proxy saw). A client cannot choose
  its own address by sending the header: entries left of the trusted ones are ignored.
- Repeated failed logins of one username from one address lock that pair out for
  ``LOGIN_LOCKOUT_MINUTES``, on the login page and on ``/api/auth/token/`` alike; each
  lockout is logged; CoE staff list and lift lockouts (``/api/auth/lockouts/``, the
  "Sign-in lockouts" page).
- API tokens expire ``API_TOKEN_TTL_HOURS`` after they were issued; their owner revokes
  them with ``DELETE /api/auth/token/``.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.utils import timezone

logger = logging.getLogger("coe.signin")

LOCKOUT_MESSAGE = (
    "Too many failed sign-in attempts for this username from your address. "
    "Try again in {minutes} minutes, or ask CoE staff to unlock your account."
)


# --- the client's address ------------------------------------------------------------------


def _valid_ip(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or with ``TRUSTED_PROXY_COUNT`` = n > 0 the
    n-th ``X-Forwarded-For`` entry from the right (``REMOTE_ADDR`` when the header has
    fewer entries than trusted proxies, i.e. it did not come through them all)."""
    remote = _valid_ip(request.META.get("REMOTE_ADDR", "") or "")
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    forwarded = [p for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    if len(forwarded) < trusted:
        return remote
    return _valid_ip(forwarded[-trusted]) or remote


# --- the lockout ---------------------------------------------------------------------------


def lockout_minutes() -> int:
    cool_off = settings.AXES_COOLOFF_TIME
    return max(1, int(cool_off.total_seconds() // 60)) if cool_off else 0


def lockout_message() -> str:
    return LOCKOUT_MESSAGE.format(minutes=lockout_minutes())


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """What a locked-out login gets (axes' ``AXES_LOCKOUT_CALLABLE``): 429 JSON on the API,
    the sign-in page with the message elsewhere."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(
            {
                "detail": lockout_message(),
                "code": "locked_out",
                "retry_after_minutes": (lockout_minutes()),
            },
            status=429,
            headers={"Retry-After": str(lockout_minutes() * 60)},
        )
    response = render(
        request, "registration/locked_out.html", {"message": lockout_message()}, status=429
    )
    response["Retry-After"] = str(lockout_minutes() * 60)
    return response


def _on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    logger.warning(
        "sign-in locked out: username %r from %s on %s",
        username,
        ip_address,
        getattr(request, "path_info", "?"),
    )


def connect_signals() -> None:
    """Log each lockout (called from the core's ``AppConfig.ready()``)."""
    from axes.signals import user_locked_out

    user_locked_out.connect(_on_locked_out, dispatch_uid="coe.signin.locked_out")


def attempts() -> QuerySet:
    """Failed-login records (axes' ``AccessAttempt``), newest first."""
    from axes.models import AccessAttempt

    return AccessAttempt.objects.order_by("-attempt_time", "-pk")


def locked_attempts() -> QuerySet:
    """The records that lock their username and address out now."""
    queryset = attempts().filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    if settings.AXES_COOLOFF_TIME:
        queryset = queryset.filter(attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME)
    return queryset


def lockout_expires_at(attempt) -> datetime | None:
    cool_off = settings.AXES_COOLOFF_TIME
    return attempt.attempt_time + cool_off if cool_off else None


def lockout_lift(*, attempt, by) -> int:
    """Unlock the username and address of ``attempt`` (every failure of that pair is
    forgotten). Returns the number of records removed; logged with who lifted it."""
    from axes.utils import reset

    removed = reset(ip=attempt.ip_address, username=attempt.username)
    logger.warning(
        "sign-in lockout lifted: username %r from %s by %s",
        attempt.username,
        attempt.ip_address,
        getattr(by, "username", by),
    )
    return removed


# --- API tokens ----------------------------------------------------------------------------


def token_ttl() -> timedelta:
    return timedelta(hours=settings.API_TOKEN_TTL_HOURS)


def token_expires_at(token) -> datetime:
    return token.created + token_ttl()


def token_is_expired(token, now: datetime | None = None) -> bool:
    return (now or timezone.now()) >= token_expires_at(token)


@transaction.atomic
def token_issue(*, user):
    """The user's API token: the current one while it is valid, else a new one."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and token_is_expired(token):
        token.delete()
        token = None
    if token is None:
        token = Token.objects.create(user=user)
    return token


def token_revoke(*, user) -> bool:
    """Delete the user's API token; True when there was one."""
    from rest_framework.authtoken.models import Token

    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
