"""The suite runs the production settings: the test settings differ from them only in a
named, approved list, and the production hardening is in force in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.test import Client, override_settings

from coe import settings_test

ROOT = Path(__file__).resolve().parents[2]

# Variables the test configuration sets that a deployment sets as well.
APPROVED_ENVIRONMENT = {
    "SECRET_KEY",
    "CONNECTOR_CREDENTIALS_KEYS",
    "ALLOWED_HOSTS",
    "CONNECTOR_DEFAULT_ALLOWLIST",
    "SECURE_SSL_REDIRECT",
}
# Settings the test configuration replaces after the production module ran.
APPROVED_OVERRIDES = {
    "PASSWORD_HASHERS",
    "STORAGES",
    "WHITENOISE_USE_FINDERS",
    "WHITENOISE_AUTOREFRESH",
}

DUMP = (
    "import importlib, json, sys; m = importlib.import_module(sys.argv[1]); "
    "print(json.dumps({k: repr(getattr(m, k)) for k in dir(m) "
    "if k.isupper() and not k.startswith('_')}))"
)


def _settings_of(module: str) -> dict[str, str]:
    """Every setting of ``module`` (public upper-case names, repr), imported fresh in the
    test environment; Django reads no private names, and ``import *`` does not copy them."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", DUMP, module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_test_settings_differ_from_production_only_in_the_approved_list():
    production = _settings_of("coe.settings")
    test = _settings_of("coe.settings_test")
    different = {
        name for name in production.keys() | test.keys() if production.get(name) != test.get(name)
    }
    assert different == APPROVED_OVERRIDES | {"TEST_ENVIRONMENT", "TEST_OVERRIDES"}
    assert set(settings_test.TEST_OVERRIDES) == APPROVED_OVERRIDES
    assert set(settings_test.TEST_ENVIRONMENT) == APPROVED_ENVIRONMENT


def test_the_suite_runs_with_debug_off_and_the_production_hardening():
    assert settings.SETTINGS_MODULE == "coe.settings_test"
    assert not settings.DEBUG
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    assert settings.SECURE_HSTS_SECONDS >= 31536000
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    assert settings.CONNECTOR_CREDENTIALS_KEYS


@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_is_redirected_to_https_with_the_production_value(db):
    client = Client()
    response = client.get("/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"
    proxied = Client(HTTP_X_FORWARDED_PROTO="https").get("/login/")
    assert proxied.status_code == 200
    assert "max-age=31536000" in proxied["Strict-Transport-Security"]
