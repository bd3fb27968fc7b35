"""`make prod-smoke`: the production process layout, started for real, driven end to end.

Starts exactly the processes docs/deploy.md lists — gunicorn (web), Celery workers for the
`io`, `cpu` and `celery` queues, beat, and `mqtt_host`, each with the command of its systemd
unit in deploy/systemd/ (adapted to this machine, see ``unit_commands``) — with production settings
(`DEBUG=0`) on this machine's PostgreSQL and Redis, plus the demo simulators as the plant
to sync. Then, over HTTP only: signs in, imports a catalogue, requests a tool and takes it
through both approvals to provisioning, syncs a simulator through the `io` worker, scores
a factory (one CoE staff member answers, another finalises), reads the pages, checks every
process's health, and stops them all with SIGTERM. Exits non-zero on the first failure,
printing the logs of the processes.

Environment: `SMOKE_DATABASE` (default `coe_smoke`, dropped and created),
`SMOKE_REDIS_URL` (default `redis://127.0.0.1:6379/9`).
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
# Production sits behind a TLS proxy that says so in X-Forwarded-Proto (settings trust it
# for SECURE_PROXY_SSL_HEADER); the smoke run plays that proxy on loopback.
PROXY = {"X-Forwarded-Proto": "https"}
PYTHON = sys.executable
BIN = Path(PYTHON).parent
DEMO_PASSWORD = "smoke-test-password-2026"
DB_NAME = os.environ.get("SMOKE_DATABASE", "coe_smoke")
REDIS_URL = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/9")
CATALOGUE = (
    "name,vendor,capabilities,ring,aliases,annual_cost_per_seat,description,homepage\n"
    "Smoke Test Tracker,Smoke Inc,Issue tracking,adopt,SmokeTrack,120,A tracker,"
    "https://smoke.example\n"
    "Smoke Test Pipeline,Smoke Inc,CI/CD,trial,,90,Pipelines,https://smoke.example/ci\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Smoke:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "prod-smoke-" + Fernet.generate_key().decode() * 2,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}",
            "CELERY_BROKER_URL": REDIS_URL,
            "CONNECTOR_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
            "CONNECTOR_DEFAULT_ALLOWLIST": "127.0.0.0/8,::1",
            "MQTT_BROKER_URL": os.environ.get("MQTT_BROKER_URL", "mqtt://127.0.0.1:1883"),
            "DEMO_PASSWORD": DEMO_PASSWORD,
        }
        self.env.pop("COE_TESTING", None)
        self.env.pop("DJANGO_SETTINGS_MODULE", None)

    # -- processes -------------------------------------------------------------------------
    def manage(self, *args: str, timeout: int = 300) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def start(self, name: str, argv: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def stop_all(self) -> dict[str, int]:
        codes = {}
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        return codes

    def dump_logs(self) -> None:
        for name in self.processes:
            text = (self.workdir / f"{name}.log").read_text(errors="replace")
            print(f"---- {name} (last 40 lines)\n" + "\n".join(text.splitlines()[-40:]))

    def healthy(self) -> bool:
        response = httpx.get(f"{self.base}/health/", headers=PROXY, timeout=5)
        if response.status_code != 200:
            raise AssertionError(f"/health/ answered {response.status_code}: {response.text[:200]}")
        return True

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"processes ended early: {dead}")

    # -- HTTP ------------------------------------------------------------------------------
    def client(self, username: str) -> httpx.Client:
        response = httpx.post(
            f"{self.base}/api/auth/token/",
            json={"username": username, "password": DEMO_PASSWORD},
            headers=PROXY,
            timeout=30,
        )
        expect(response, 200, f"sign in as {username}")
        return httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Token {response.json()['token']}", **PROXY},
            timeout=60,
        )


def expect(response: httpx.Response, status: int | tuple, what: str) -> dict:
    wanted = status if isinstance(status, tuple) else (status,)
    if response.status_code not in wanted:
        raise AssertionError(
            f"{what}: {response.request.method} {response.request.url} answered "
            f"{response.status_code}, expected {wanted}: {response.text[:500]}"
        )
    print(f"ok  {what} ({response.status_code}, {response.elapsed.total_seconds() * 1000:.0f} ms)")
    try:
        return response.json()
    except ValueError:
        return {}


def wait_for(what: str, probe, seconds: float = 90) -> object:
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                print(f"ok  {what}")
                return last
        except (httpx.HTTPError, AssertionError) as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds} s (last: {last})")


# The processes and their commands are the systemd units' (deploy/systemd/), adapted to
# this machine: binaries from this virtualenv, gunicorn on a free port, the node names'
# host part "smoke" (for the pings), beat's schedule in the temporary directory, and pool
# sizes of 2 (a CI machine has two cores).
UNITS = {
    "web": "coe-web.service",
    "worker-io": "coe-worker-io.service",
    "worker-cpu": "coe-worker-cpu.service",
    "worker-celery": "coe-worker-celery.service",
    "beat": "coe-beat.service",
    "mqtt_host": "coe-mqtt-host.service",
}
POOL_SIZE = "2"


def unit_command(unit: str) -> list[str]:
    """The ``ExecStart`` of a unit, as systemd passes it (``%%`` is a literal ``%``)."""
    text = (ROOT / "deploy" / "systemd" / unit).read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))


def unit_commands(port: int, workdir: Path) -> dict[str, list[str]]:
    commands = {}
    for name, unit in UNITS.items():
        argv = unit_command(unit)
        argv[0] = PYTHON if argv[0].endswith("/python") else str(BIN / Path(argv[0]).name)
        for i, arg in enumerate(argv[:-1]):
            value = argv[i + 1]
            if arg == "--bind":
                argv[i + 1] = f"127.0.0.1:{port}"
            elif arg == "-n":
                argv[i + 1] = value.replace("%h", "smoke")
            elif arg == "--schedule":
                argv[i + 1] = str(workdir / "beat-schedule")
            elif arg in ("--concurrency", "--workers"):
                argv[i + 1] = POOL_SIZE
        commands[name] = argv
    return commands


def fresh_database() -> None:
    for sql in (
        f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)',
        f'CREATE DATABASE "{DB_NAME}"',
    ):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)


def flow(smoke: Smoke) -> None:
    staff = smoke.client("coe.lead")
    auditor = smoke.client("coe.auditor")
    owner = smoke.client("owner.automotive")
    member = smoke.client("member.stuttgart")

    # Import a catalogue (CoE staff), through the upload endpoint.
    summary = expect(
        staff.post(
            "/api/imports/registry/",
            files={"file": ("catalogue.csv", CATALOGUE.encode(), "text/csv")},
        ),
        (200, 201),
        "import a catalogue",
    )
    print(f"    {summary}")
    tools = expect(staff.get("/api/tools/", params={"q": "Smoke Test"}), 200, "read the tools")
    slugs = {tool["name"]: tool["slug"] for tool in tools["results"]}
    assert "Smoke Test Tracker" in slugs, f"imported tool missing: {slugs}"

    # Request the tool (member), owner step, CoE step, provisioning. The cost is above the
    # review threshold, so the CoE step is not fast-tracked.
    request = expect(
        member.post(
            "/api/tool-requests/",
            json={
                "factory": "stuttgart-press",
                "tool": slugs["Smoke Test Tracker"],
                "justification": "The press line needs one tracker for maintenance work.",
                "seats": 40,
                "estimated_annual_cost": "25000",
            },
        ),
        201,
        "request a tool (member)",
    )
    rid = request["id"]
    expect(
        member.post(f"/api/tool-requests/{rid}/submit/", json={"comment": "please"}),
        200,
        "submit the request",
    )
    expect(
        owner.post(f"/api/tool-requests/{rid}/approve/", json={"comment": "ok"}),
        200,
        "owner approves",
    )
    expect(
        staff.post(f"/api/tool-requests/{rid}/approve/", json={"comment": "ok"}),
        200,
        "CoE approves",
    )
    done = expect(
        staff.post(f"/api/tool-requests/{rid}/provision/", json={"comment": "live"}),
        200,
        "provision",
    )
    assert done["status"] == "provisioned", done["status"]

    # Sync a simulator through the io worker.
    connectors = expect(
        staff.get("/api/connectors/", params={"factory": "stuttgart-press", "kind": "opcua"}),
        200,
        "list the plant's connectors",
    )["results"]
    assert connectors, "the demo has no OPC UA connector for stuttgart-press"
    run = expect(
        staff.post(f"/api/connectors/{connectors[0]['id']}/sync/", json={}),
        (200, 201, 202),
        "start a sync",
    )

    def run_final():
        current = staff.get(f"/api/sync-runs/{run['id']}/").json()
        return current if current["status"] in ("succeeded", "partial", "failed") else None

    final = wait_for("the sync ends (io worker)", run_final, seconds=120)
    assert final["status"] == "succeeded", f"sync ended {final['status']}: {final}"
    print(f"    counts {final.get('counts')}")

    # Score a factory: one CoE staff member answers, another finalises (four eyes).
    models = expect(staff.get("/api/maturity-models/"), 200, "read the maturity models")["results"]
    model = models[0]
    audit = expect(
        staff.post("/api/assessments/", json={"factory": "stuttgart-press", "model": model["id"]}),
        201,
        "open an audit",
    )
    answers = [
        {"criterion": c["key"], "rating": 3, "evidence": "Seen on the floor", "comment": "smoke"}
        for d in model["dimensions"]
        if d.get("applies_to") in (None, "", "both", "manufacturing")
        or "manufacturing" in (d.get("applies_to") or [])
        for c in d["criteria"]
    ]
    expect(
        staff.post(f"/api/assessments/{audit['id']}/answers/", json=answers),
        (200, 201),
        "answer every criterion",
    )
    result = expect(
        auditor.post(f"/api/assessments/{audit['id']}/finalize/", json={}),
        200,
        "a second CoE staff member finalises",
    )
    print(f"    result {str(result)[:160]}")
    card = expect(staff.get("/api/factories/stuttgart-press/scorecard/"), 200, "read the scorecard")
    assert card["overall"]["stage_name"], card

    # Pages: the landing page and the registry as CoE staff, signed in through the form.
    # Session and CSRF cookies are Secure (TLS at the proxy): they are carried by hand here.
    with httpx.Client(base_url=smoke.base, timeout=60, headers=PROXY) as browser:
        login = browser.get("/login/")
        expect(login, 200, "the login page")
        csrf = login.cookies["csrftoken"]
        signed_in = browser.post(
            "/login/",
            data={"username": "coe.lead", "password": DEMO_PASSWORD, "csrfmiddlewaretoken": csrf},
            headers={
                "Referer": f"https://127.0.0.1:{smoke.port}/login/",
                "Cookie": f"csrftoken={csrf}",
            },
        )
        expect(signed_in, 302, "sign in through the form")
        session = signed_in.cookies["sessionid"]
        cookie = {"Cookie": f"sessionid={session}; csrftoken={csrf}"}
        landing = expect(browser.get("/", headers=cookie), 200, "the landing page (CoE staff)")
        del landing
        expect(browser.get("/registry/", headers=cookie), 200, "the registry page")


def health(smoke: Smoke) -> None:
    staff = smoke.client("coe.lead")
    expect(staff.get("/health/", params={"worker": "1"}), 200, "web: /health/ with a worker probe")
    expect(httpx.get(f"{smoke.base}/health/", headers=PROXY), 200, "web: anonymous /health/")
    for queue in ("io", "cpu", "celery"):
        out = subprocess.run(
            [
                str(BIN / "celery"),
                "-A",
                "coe",
                "inspect",
                "ping",
                "-d",
                f"{queue}@smoke",
                "-t",
                "10",
            ],
            cwd=ROOT,
            env=smoke.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode != 0 or "pong" not in out.stdout:
            raise AssertionError(
                f"worker {queue}@smoke did not answer a ping: {out.stdout}{out.stderr}"
            )
        print(f"ok  worker {queue}@smoke answers a ping")
    beat_log = (smoke.workdir / "beat.log").read_text(errors="replace")
    assert "beat: Starting" in beat_log, "beat did not start"
    print("ok  beat is running")
    wait_for(
        "mqtt_host: running and recording",
        lambda: (
            "mqtt_host" in (smoke.workdir / "mqtt_host.log").read_text(errors="replace")
            and smoke.processes["mqtt_host"].poll() is None
        ),
        seconds=30,
    )
    smoke.check_alive()


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="coe-prod-smoke-") as tmp:
        smoke = Smoke(Path(tmp))
        ok = False
        try:
            fresh_database()
            smoke.manage("migrate", "--noinput")
            smoke.manage("collectstatic", "--noinput")
            smoke.manage("check", "--deploy", "--fail-level", "ERROR")
            smoke.manage("load_demo", timeout=600)
            print("ok  migrate, collectstatic, check --deploy, load_demo")
            smoke.start("simulate", [PYTHON, "manage.py", "simulate"])
            for name, argv in unit_commands(smoke.port, Path(tmp)).items():
                smoke.start(name, argv)
            wait_for(
                "web answers /health/",
                smoke.healthy,
            )
            flow(smoke)
            health(smoke)
            ok = True
        except (AssertionError, httpx.HTTPError, subprocess.SubprocessError, SystemExit) as exc:
            print(f"FAIL {exc}")
        finally:
            codes = smoke.stop_all()
            print(f"stopped: {codes}")
            if not ok:
                smoke.dump_logs()
        bad_exit = {n: c for n, c in codes.items() if c not in (0, -signal.SIGTERM)}
        if ok and bad_exit:
            print(f"FAIL processes did not stop cleanly on SIGTERM: {bad_exit}")
            smoke.dump_logs()
            ok = False
    print(f"prod-smoke {'passed' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
