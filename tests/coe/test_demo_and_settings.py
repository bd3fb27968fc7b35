"""The demo organisation loads idempotently; settings refuse an unsafe production start."""

import os
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

from coe.models import Factory, Membership

ROOT = Path(__file__).resolve().parents[2]


def test_load_demo_is_idempotent_and_prints_the_logins(db, capsys):
    call_command("load_demo")
    first = capsys.readouterr().out
    counts = (Factory.objects.count(), Membership.objects.count())
    call_command("load_demo")
    assert (Factory.objects.count(), Membership.objects.count()) == counts
    assert counts[0] >= 8
    assert {"software", "manufacturing"} == set(Factory.objects.values_list("kind", flat=True))
    assert Factory.objects.values("business_unit").distinct().count() == 3
    for login in ("coe.lead", "owner.automotive", "member.stuttgart", "password for all"):
        assert login in first


def _settings_check(env: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "COE_TESTING", "DJANGO_SETTINGS_MODULE"}
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


def test_debug_defaults_to_off_and_celery_to_eager_without_a_broker():
    result = _settings_check({"SECRET_KEY": "x" * 60, "CELERY_BROKER_URL": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
