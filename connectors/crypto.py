"""Connector credentials and webhook signing secrets at rest: Fernet encryption with key
rotation.

Keys come from ``CONNECTOR_CREDENTIALS_KEYS`` (comma-separated Fernet keys): the first
encrypts, every key decrypts, so a new key is put first and ``rotate_connector_credentials``
re-encrypts the stored values (credentials and webhook
secrets) before the old key is dropped.

Production (DEBUG off) refuses to start without the variable (``coe/settings.py``): a key
generated on the machine would be lost with it, and every stored credential with it. Only
with DEBUG on and the variable unset is a key generated once into the git-ignored
``.dev-fernet-key`` beside ``manage.py`` (with a warning). The deploy check
``connectors.E001`` (``manage.py check --deploy``) reports missing or malformed keys.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

DEV_KEY_FILE = Path(settings.BASE_DIR) / ".dev-fernet-key"


class CredentialsError(Exception):
    """Stored credentials cannot be decrypted with the configured keys."""


def _configured_keys() -> list[str]:
    return list(settings.CONNECTOR_CREDENTIALS_KEYS)


def _dev_key() -> str:
    if DEV_KEY_FILE.exists():
        return DEV_KEY_FILE.read_text().strip()
    key = Fernet.generate_key().decode()
    DEV_KEY_FILE.write_text(key + "\n")
    DEV_KEY_FILE.chmod(0o600)
    return key


@lru_cache(maxsize=1)
def fernet() -> MultiFernet:
    """The MultiFernet of the configured keys (first encrypts), or of the development key."""
    keys = _configured_keys()
    if not keys:
        if not settings.DEBUG:
            raise ImproperlyConfigured("CONNECTOR_CREDENTIALS_KEYS must be set when DEBUG is off")
        logger.warning(
            "CONNECTOR_CREDENTIALS_KEYS is not set: connector credentials are encrypted with "
            "a development key kept in %s; set the variable in production.",
            DEV_KEY_FILE.name,
        )
        keys = [_dev_key()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def reset_keys() -> None:
    """Forget the cached keys (after the environment changed, e.g. in a rotation)."""
    fernet.cache_clear()


def encrypt_credentials(data: dict | None) -> str:
    """A token of ``data`` (a JSON object); empty string for no credentials."""
    if not data:
        return ""
    return fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_credentials(token: str) -> dict:
    """The credentials dict of a stored token ({} for none)."""
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsError("connector credentials cannot be decrypted with the keys") from exc


def encrypt_text(value: str) -> str:
    """A token of one secret string (a webhook's signing key); empty string for none."""
    return fernet().encrypt(value.encode()).decode() if value else ""


def decrypt_text(token: str) -> str:
    """The secret string of a token made by :func:`encrypt_text` ("" for none)."""
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialsError("the stored secret cannot be decrypted with the keys") from exc


def rotate_token(token: str) -> str:
    """``token`` re-encrypted under the first key (unchanged when empty)."""
    return fernet().rotate(token.encode()).decode() if token else ""


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every known secret value (4 characters or more) replaced by ``[secret]``.

    Longest first, so a header value (``Bearer <token>``) goes before the token inside it.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "[secret]")
    return text


def key_problems(keys: list[str]) -> list[str]:
    """What is wrong with ``keys`` as CONNECTOR_CREDENTIALS_KEYS (empty when they are fine)."""
    if not keys:
        return [
            "CONNECTOR_CREDENTIALS_KEYS is not set: stored connector credentials would be "
            "encrypted with a generated key that a redeploy loses"
        ]
    problems = []
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            problems.append(
                f"CONNECTOR_CREDENTIALS_KEYS: key {number} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            )
    return problems


def check_credentials_keys(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Deploy check: the credentials keys are set and well formed."""
    return [
        checks.Error(
            problem,
            hint="Set CONNECTOR_CREDENTIALS_KEYS to one or more Fernet keys, newest first.",
            id="connectors.E001",
        )
        for problem in key_problems(_configured_keys())
    ]


def register_checks() -> None:
    """Register the deploy check (called from the app's ``ready``)."""
    checks.register(check_credentials_keys, checks.Tags.security, deploy=True)
