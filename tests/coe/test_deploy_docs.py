"""docs/deploy.md, the systemd units, the compose file and `make prod-smoke` agree.

An operator configures the service from docs/deploy.md: every variable the settings read
must be listed there. The units, the compose services and the page must name the same
commands, and the workers must consume exactly the queues the tasks are routed to.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
from pathlib import Path

import yaml
from celery.utils.nodenames import host_format

from coe.celery import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "deploy.md").read_text()
UNITS = ROOT / "deploy" / "systemd"
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
ENV_READERS = {"env_str", "env_bool", "env_int", "env_decimal", "env_list"}
# compose service → systemd unit
SERVICES = {
    "web": "coe-web.service",
    "worker-io": "coe-worker-io.service",
    "worker-cpu": "coe-worker-cpu.service",
    "worker-celery": "coe-worker-celery.service",
    "beat": "coe-beat.service",
    "mqtt-host": "coe-mqtt-host.service",
}


def settings_variables() -> set[str]:
    """Names of the environment variables coe/settings.py reads."""
    tree = ast.parse((ROOT / "coe" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        reader = ast.unparse(node.func)
        if reader in ENV_READERS or reader in ("os.environ.get", "os.getenv"):
            names.add(first.value)
    return names


def unit_command(unit: str) -> list[str]:
    """A unit's ExecStart as the process receives it, without the virtualenv's path."""
    text = (UNITS / unit).read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    argv = shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))
    return [argv[0].removeprefix("/opt/coe/.venv/bin/"), *argv[1:]]


def without_bind(argv: list[str]) -> list[str]:
    """The command with gunicorn's bind address left out (a container binds 0.0.0.0)."""
    out = list(argv)
    if "--bind" in out:
        i = out.index("--bind")
        del out[i : i + 2]
    return out


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_every_variable_the_settings_read_is_documented():
    variables = settings_variables()
    # The reader is not fooled by calls spread over several lines.
    assert {"OIDC_FACTORY_ROLE_PATTERN", "CONNECTOR_CREDENTIALS_KEYS", "DEBUG"} <= variables
    assert len(variables) > 60
    missing = sorted(v for v in variables if f"`{v}`" not in DOCS)
    assert not missing, f"not in docs/deploy.md: {missing}"


def test_every_unit_has_a_compose_service_with_the_same_command():
    assert {p.name for p in UNITS.glob("*.service")} == set(SERVICES.values())
    for service, unit in SERVICES.items():
        assert without_bind(COMPOSE["services"][service]["command"]) == without_bind(
            unit_command(unit)
        ), service
    assert option(COMPOSE["services"]["web"]["command"], "--bind") == "0.0.0.0:8000"


def test_the_docs_show_the_units_commands():
    block = DOCS[DOCS.index("## Processes") : DOCS.index("## Environment")]
    for unit in SERVICES.values():
        assert " ".join(unit_command(unit)) in block, unit
    web = (UNITS / "coe-web.service").read_text()
    for step in ("manage.py migrate --noinput", "manage.py collectstatic --noinput"):
        assert f"ExecStartPre=/opt/coe/.venv/bin/python {step}" in web
        assert f"python {step}" in block
    assert COMPOSE["services"]["migrate"]["command"] == [
        "python",
        "manage.py",
        "migrate",
        "--noinput",
    ]


def test_the_workers_consume_exactly_the_queues_tasks_are_routed_to():
    unit_queues = {
        option(unit_command(u), "-Q") for u in SERVICES.values() if "worker" in unit_command(u)
    }
    compose_queues = {
        option(s["command"], "-Q")
        for s in COMPOSE["services"].values()
        if "-Q" in s.get("command", [])
    }
    app.loader.import_default_modules()
    routed = {
        app.amqp.router.route({}, name)["queue"].name
        for name in app.tasks
        if not name.startswith("celery.")
    }
    assert unit_queues == compose_queues == routed == {"io", "cpu", "celery"}


def test_worker_node_names_are_ones_celery_expands():
    for unit in SERVICES.values():
        argv = unit_command(unit)
        if "-n" in argv:
            node = host_format(option(argv, "-n"))  # raises on an unknown %-key
            assert "%" not in node and node.split("@")[0] == option(argv, "-Q")


def test_prod_smoke_starts_every_unit_with_its_command():
    spec = importlib.util.spec_from_file_location("prod_smoke", ROOT / "deploy" / "prod_smoke.py")
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    assert set(smoke.UNITS.values()) == set(SERVICES.values())
    commands = smoke.unit_commands(8123, Path("/tmp/smoke"))
    for name, unit in smoke.UNITS.items():
        started = [Path(commands[name][0]).name, *commands[name][1:]]
        documented = unit_command(unit)
        # Same program and arguments; only the values the machine decides differ.
        assert started[0] == documented[0] and len(started) == len(documented), name
        for flag in ("-Q", "-A", "--timeout", "--max-requests", "-l"):
            if flag in documented:
                assert option(started, flag) == option(documented, flag), (name, flag)
    assert option(commands["web"], "--bind") == "127.0.0.1:8123"
    assert option(commands["worker-io"], "-n") == "io@smoke"


def test_the_env_example_lists_what_production_requires():
    example = (UNITS / "coe.env.example").read_text()
    for name in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL",
                 "CONNECTOR_CREDENTIALS_KEYS"):  # fmt: skip
        assert re.search(rf"^{name}=", example, re.MULTILINE), name
