"""Settings refuse an unsafe production start (the demo itself: tests/test_demo.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _settings_check(env: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "CONNECTOR_CREDENTIALS_KEYS"}
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
            "'coe.settings'; django.setup(); from django.conf import settings; "
            "print(settings.DEBUG, settings.CELERY_TASK_ALWAYS_EAGER)",
        ],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
    )


def test_production_without_secret_key_refuses_to_start():
    result = _settings_check({})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


KEY = "dGVzdC1zdWl0ZS1mZXJuZXQta2V5LTAxMjM0NTY3ODk="


def test_production_without_credentials_keys_refuses_to_start():
    result = _settings_check({"SECRET_KEY": "x" * 60})
    assert result.returncode != 0
    assert "CONNECTOR_CREDENTIALS_KEYS must be set" in result.stderr


def _deploy_check(env: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "CONNECTOR_CREDENTIALS_KEYS"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "coe.settings", **env},
        capture_output=True,
        text=True,
    )


def test_the_deploy_check_reports_missing_and_malformed_credentials_keys():
    missing = _deploy_check({"DEBUG": "1"})
    assert missing.returncode != 0
    assert "connectors.E001" in missing.stderr
    assert "CONNECTOR_CREDENTIALS_KEYS is not set" in missing.stderr
    malformed = _deploy_check({"DEBUG": "1", "CONNECTOR_CREDENTIALS_KEYS": f"{KEY},not-a-key"})
    assert malformed.returncode != 0
    assert "key 2 is not a Fernet key" in malformed.stderr
    fine = _deploy_check({"DEBUG": "1", "CONNECTOR_CREDENTIALS_KEYS": KEY})
    assert "connectors.E001" not in fine.stderr + fine.stdout


def test_no_development_key_file_is_generated_without_debug(settings, tmp_path, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from connectors import crypto

    monkeypatch.setattr(crypto, "DEV_KEY_FILE", tmp_path / ".dev-fernet-key")
    settings.CONNECTOR_CREDENTIALS_KEYS = []
    settings.DEBUG = False
    crypto.reset_keys()
    try:
        with pytest.raises(ImproperlyConfigured):
            crypto.encrypt_credentials({"token": "t"})
        assert not (tmp_path / ".dev-fernet-key").exists()
        settings.DEBUG = True
        crypto.reset_keys()
        assert crypto.decrypt_credentials(crypto.encrypt_credentials({"token": "t"})) == {
            "token": "t"
        }
        assert (tmp_path / ".dev-fernet-key").exists()
    finally:
        crypto.reset_keys()


def test_debug_defaults_to_off_and_celery_to_eager_without_a_broker():
    result = _settings_check(
        {"SECRET_KEY": "x" * 60, "CELERY_BROKER_URL": "", "CONNECTOR_CREDENTIALS_KEYS": KEY}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_the_web_entry_point_loads_every_view_and_freezes_what_start_up_built():
    """gunicorn's workers start with the views imported and the start-up objects out of
    the garbage collector's sight (each request's collections no longer walk them)."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc, sys, coe.wsgi; "
            "print(gc.get_freeze_count(), 'registry.views' in sys.modules)",
        ],  # fmt: skip
        cwd=ROOT,
        env={**clean, "DEBUG": "0", "SECRET_KEY": "x" * 60, "CONNECTOR_CREDENTIALS_KEYS": KEY},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    frozen, views = result.stdout.split()
    assert int(frozen) > 50_000 and views == "True"
