"""Settings of the test suite: the production settings (DEBUG off, hardening on), with what
the tests need set in plain sight.

Two kinds of difference, both listed here and checked by
``tests/coe/test_test_settings.py``:

- ``TEST_ENVIRONMENT``: variables a deployment sets too (a secret key, the credentials
  keys, the host names served, the loopback allowlist the tests' local servers need). They
  are set only where the environment leaves them unset, and the production settings read
  them as they would in production.
- ``TEST_OVERRIDES``: the few settings the suite replaces after the production module has
  run, each with the reason.

Tests and the processes they start (Celery workers, gunicorn, management commands) use
this module through ``DJANGO_SETTINGS_MODULE=coe.settings_test``.
"""

from __future__ import annotations

import os

TEST_ENVIRONMENT = {
    "SECRET_KEY": "test-suite-secret-key-not-for-production-0123456789-abcdefghijklmnop",
    # A fixed Fernet key, so stored credentials decrypt in every process of a test run.
    "CONNECTOR_CREDENTIALS_KEYS": "dGVzdC1zdWl0ZS1mZXJuZXQta2V5LTAxMjM0NTY3ODk=",
    # The Django test client's host name and the live test servers' addresses.
    "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
    # The tests' peers (HTTP, OPC UA, MQTT, Modbus servers) listen on loopback.
    "CONNECTOR_DEFAULT_ALLOWLIST": "127.0.0.0/8,::1",
    # TLS ends at the proxy in production; the test client and the live server speak plain
    # HTTP. The redirect itself is tested with the production value
    # (tests/coe/test_test_settings.py).
    "SECURE_SSL_REDIRECT": "0",
}
for _name, _value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

from coe.settings import *  # noqa: E402, F403

TEST_OVERRIDES = {
    # Hashing with a deliberately slow algorithm would dominate the suite's run time.
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    # Static files from the apps' folders: the manifest storage needs `collectstatic`,
    # which the suite does not run.
    "STORAGES": {
        **STORAGES,  # noqa: F405
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    },
    "WHITENOISE_USE_FINDERS": True,
    "WHITENOISE_AUTOREFRESH": True,
}
globals().update(TEST_OVERRIDES)
