"""Scale-out benchmark: connector syncs spread over 1, 2 and 4 Celery worker processes.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/coe_workers \
        .venv/bin/python benchmarks/bench_workers.py [--quick] \
        [--broker redis://127.0.0.1:6379/3 | amqp://guest:guest@127.0.0.1:5672//]

Builds ``--factories`` factories (default 10) of ``--connectors`` connectors in all
(default 200) against real simulators served by this process: Modbus TCP gateways
(pymodbus) and OPC UA servers (asyncua), each simulator read by several connectors, and
every factory's connectors spread over every simulator — so several connectors of one
factory report the same serial numbers at the same time, the race the device upsert has
to win without duplicates. Then, for 1, 2 and 4 worker processes started with the
command of the systemd unit (``celery -A coe worker -Q io …``, docs/deploy.md), it
deletes the bench factories' devices (every round is a first load), starts every sync
through the product's own path (``connectors.services.sync_run_start``, which the API's
``POST /api/connectors/<id>/sync/`` calls) **twice concurrently** per connector, sends
each run's task message a second time (as a broker redelivering it would), waits for every
run to end and prints syncs/s per worker count with unrounded ratios against 1 worker.

Checks, each a miss that makes the exit status non-zero:
- no duplicate device (the same normalised serial twice in a factory), and every factory
  holds exactly the devices its simulators serve;
- no lost run (still ``queued`` after the wait) and no stuck run (``running`` after it),
  every run ``succeeded``;
- one run per connector per round (the concurrent starts got the same run) and one claim
  per run (``attempts`` = 1: the duplicate message ran nothing);
- no connector with two overlapping runs (start/end intervals compared per connector);
- every worker stops cleanly on SIGTERM.
Throughput is printed, not targeted: on a shared two-core machine the simulators, the
database and the workers compete for the same cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 connectors, 2 factories")
    parser.add_argument("--connectors", type=int, default=200)
    parser.add_argument("--factories", type=int, default=10)
    parser.add_argument(
        "--broker",
        default=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3"),
        help="Celery broker URL (Redis or RabbitMQ)",
    )
    parser.add_argument("--workers", default="1,2,4", help="worker process counts")
    parser.add_argument("--concurrency", type=int, default=4, help="pool size per worker")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a round may take")
    args = parser.parse_args()
    if args.quick:
        args.connectors, args.factories = 20, 2
    return args


ARGS = parse_args()
# The environment of the production processes (deploy/systemd/coe.env.example), shared by
# this process and the workers it starts.
os.environ["DJANGO_SETTINGS_MODULE"] = "coe.settings"
os.environ.pop("COE_TESTING", None)
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-workers-" + secrets.token_urlsafe(40))
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
os.environ["CELERY_BROKER_URL"] = ARGS.broker
os.environ.setdefault("CONNECTOR_DEFAULT_ALLOWLIST", "127.0.0.0/8")
if not os.environ.get("CONNECTOR_CREDENTIALS_KEYS"):
    from cryptography.fernet import Fernet

    os.environ["CONNECTOR_CREDENTIALS_KEYS"] = Fernet.generate_key().decode()
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("bench_workers needs DATABASE_URL=postgresql://… (several processes share it)")
if not ARGS.broker.startswith("redis://"):
    # The result backend defaults to the broker URL, which only Redis serves.
    os.environ.setdefault("CELERY_RESULT_BACKEND", "rpc://")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.models import Count  # noqa: E402

from coe.celery import app  # noqa: E402
from coe.models import Factory  # noqa: E402
from connectors.choices import SyncStatus, SyncTrigger  # noqa: E402
from connectors.models import Connector, Device, SyncRun  # noqa: E402
from connectors.services import connector_create, sync_run_start  # noqa: E402
from connectors.simulators.modbus_server import ModbusSimulator, ModbusUnit  # noqa: E402
from connectors.simulators.opcua_server import OpcUaSimulator, SimDevice  # noqa: E402
from connectors.tasks import sync_connector_task  # noqa: E402

PREFIX = "bench-workers-"
MODBUS_SERVERS = 4
OPCUA_SERVERS = 2
UNITS = 8  # devices per simulator
CELERY = str(Path(sys.executable).parent / "celery")


def start_simulators() -> tuple[list, list[tuple[str, dict]]]:
    """The simulators, and (kind, settings) of a connector reading each."""
    simulators, targets = [], []
    for s in range(MODBUS_SERVERS):
        units = [ModbusUnit(u + 1, f"BW-MB{s}-{u:03d}", 10 * u, 11 * u) for u in range(UNITS)]
        sim = ModbusSimulator(units)
        sim.start()
        simulators.append(sim)
        targets.append(("modbus", sim.settings()))
    for s in range(OPCUA_SERVERS):
        devices = [
            SimDevice(f"Press {s}-{d}", "Schuler", "MSD 2500", f"BW-UA{s}-{d:03d}", "4.1")
            for d in range(UNITS)
        ]
        sim = OpcUaSimulator(devices, load_nodesets=False)
        sim.start()
        simulators.append(sim)
        targets.append(("opcua", {"endpoint": sim.endpoint}))
    return simulators, targets


def build(targets: list[tuple[str, dict]]) -> list[int]:
    """Fresh bench factories and connectors; connector i reads simulator i mod servers."""
    Factory.objects.filter(slug__startswith=PREFIX).delete()
    factories = [
        Factory.objects.create(
            slug=f"{PREFIX}{f:03d}",
            name=f"Bench workers plant {f}",
            kind="manufacturing",
            business_unit="Bench",
        )
        for f in range(ARGS.factories)
    ]
    ids = []
    for i in range(ARGS.connectors):
        kind, settings = targets[i % len(targets)]
        connector = connector_create(
            factory=factories[i % len(factories)],
            name=f"bench connector {i:04d}",
            kind=kind,
            settings=settings,
        )
        ids.append(connector.pk)
    return ids


def expected_devices(targets) -> dict[str, int]:
    """Devices each factory must hold after a round: those of every simulator it reads."""
    per_factory: dict[str, set[int]] = {}
    for i in range(ARGS.connectors):
        slug = f"{PREFIX}{i % ARGS.factories:03d}"
        per_factory.setdefault(slug, set()).add(i % len(targets))
    return {slug: len(servers) * UNITS for slug, servers in per_factory.items()}


class Workers:
    """``n`` worker processes with the systemd unit's command (queue ``io``)."""

    def __init__(self, n: int, logdir: Path):
        self.n = n
        self.logs = [logdir / f"worker-{n}-{i}.log" for i in range(n)]
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> Workers:
        for i, log in enumerate(self.logs):
            argv = [CELERY, "-A", "coe", "worker", "-Q", "io", "-n", f"io{i}@%h"]
            argv += ["--concurrency", str(ARGS.concurrency), "-l", "info"]
            with open(log, "w") as out:
                self.processes.append(
                    subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
                )
        deadline = time.monotonic() + 120
        while not all(" ready." in log.read_text(errors="replace") for log in self.logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                self.stop()
                raise SystemExit(f"workers did not start: see {self.logs}")
            time.sleep(0.2)
        return self

    def stop(self) -> list[int]:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout=120))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        return codes

    def memory_mb(self) -> float:
        """Proportional set size of the workers, pool processes included (shared pages
        divided among the processes sharing them), MB."""
        import psutil

        total = 0
        for process in self.processes:
            parent = psutil.Process(process.pid)
            for proc in [parent, *parent.children(recursive=True)]:
                total += proc.memory_full_info().pss
        return total / 1e6

    def __exit__(self, *exc) -> None:
        self.codes = self.stop()


def start_twice(connector_id: int) -> list[int]:
    """Two concurrent starts of one connector's sync (the API's path), then the run's task
    message once more (a redelivery); returns the run ids the two starts got."""
    connector = Connector.objects.get(pk=connector_id)
    barrier = threading.Barrier(2)
    got: list[int] = []

    def start() -> None:
        try:
            barrier.wait(timeout=10)
            got.append(sync_run_start(connector=connector, trigger=SyncTrigger.API).pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for run_id in set(got):
        sync_connector_task.delay(run_id)
    connections.close_all()
    return got


def purge_io_queue() -> None:
    """Drop messages a previous, interrupted run left on the ``io`` queue."""
    # RabbitMQ refuses to purge a queue that does not exist yet.
    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge("io")


def one_round(n: int, connector_ids: list[int], logdir: Path, misses: list[str]) -> float:
    """Every connector synced once with ``n`` workers; returns syncs/s."""
    Device.objects.filter(factory__slug__startswith=PREFIX).delete()
    purge_io_queue()
    first = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with Workers(n, logdir) as workers:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            pairs = list(pool.map(start_twice, connector_ids))
        runs = SyncRun.objects.filter(pk__gt=first, connector_id__in=connector_ids)
        deadline = time.monotonic() + ARGS.timeout
        while runs.filter(status__in=(SyncStatus.QUEUED, SyncStatus.RUNNING)).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        last_end = max(r for r in runs.values_list("finished_at", flat=True) if r) if runs else None
        elapsed = time.perf_counter() - started
        if last_end is not None:
            began = runs.order_by("queued_at").values_list("queued_at", flat=True).first()
            elapsed = min(elapsed, (last_end - began).total_seconds())
        time.sleep(1)  # the duplicate messages still in flight reach a worker and end
        print(
            f"    memory of the {n} worker(s) × {ARGS.concurrency} pool processes: "
            f"{workers.memory_mb():.0f} MB (PSS)"
        )
    if any(code != 0 for code in workers.codes):
        misses.append(f"{n} workers: exit codes on SIGTERM {workers.codes}")
    split = {tuple(sorted(set(p))) for p in pairs if len(set(p)) != 1}
    if split:
        misses.append(f"{n} workers: concurrent starts got different runs: {sorted(split)[:5]}")
    check_runs(n, runs, connector_ids, misses)
    return len(connector_ids) / elapsed


def check_runs(n: int, runs, connector_ids: list[int], misses: list[str]) -> None:
    by_status = dict(runs.values_list("status").annotate(c=Count("id")).values_list("status", "c"))
    print(f"    runs by status: {by_status}")
    durations: dict[str, list[float]] = {}
    for kind, began, ended in runs.values_list("connector__kind", "started_at", "finished_at"):
        if began and ended:
            durations.setdefault(kind, []).append((ended - began).total_seconds())
    for kind, values in sorted(durations.items()):
        print(f"    {kind}: median run {statistics.median(values)} s, longest {max(values)} s")
    lost = by_status.get(SyncStatus.QUEUED, 0)
    stuck = by_status.get(SyncStatus.RUNNING, 0)
    if lost or stuck:
        misses.append(f"{n} workers: {lost} lost run(s) (queued), {stuck} stuck (running)")
    failed = runs.exclude(status=SyncStatus.SUCCEEDED).exclude(status__in=("queued", "running"))
    for run in failed[:5]:
        misses.append(f"{n} workers: run {run.pk} ended {run.status}: {run.message[:200]}")
    per_connector = runs.values("connector_id").annotate(c=Count("id")).filter(c__gt=1)
    if per_connector.exists() or runs.count() != len(connector_ids):
        misses.append(f"{n} workers: {runs.count()} runs for {len(connector_ids)} connectors")
    reclaimed = runs.filter(attempts__gt=1).count()
    print(
        f"    {2 * len(connector_ids)} concurrent starts → {runs.count()} runs; "
        f"{runs.count()} duplicate task messages → {reclaimed} extra claims"
    )
    if reclaimed:
        misses.append(f"{n} workers: {reclaimed} run(s) claimed more than once")
    check_devices(n, misses)


def check_devices(n: int, misses: list[str]) -> None:
    duplicates = (
        Device.objects.filter(factory__slug__startswith=PREFIX)
        .exclude(serial_normalised="")
        .values("factory_id", "serial_normalised")
        .annotate(c=Count("id"))
        .filter(c__gt=1)
    )
    if duplicates.exists():
        misses.append(f"{n} workers: duplicate devices {list(duplicates[:5])}")
    held = dict(
        Device.objects.filter(factory__slug__startswith=PREFIX)
        .values_list("factory__slug")
        .annotate(c=Count("id"))
        .values_list("factory__slug", "c")
    )
    if held != EXPECTED:
        wrong = {s: (held.get(s, 0), e) for s, e in EXPECTED.items() if held.get(s, 0) != e}
        misses.append(f"{n} workers: devices per factory (held, expected) {wrong}")


def check_overlaps(connector_ids: list[int], misses: list[str]) -> int:
    """Runs of one connector never overlap: each starts after the previous one ended."""
    runs = (
        SyncRun.objects.filter(connector_id__in=connector_ids)
        .order_by("connector_id", "started_at")
        .values_list("connector_id", "started_at", "finished_at")
    )
    overlaps, previous = 0, None
    for connector_id, started, finished in runs:
        same = previous is not None and previous[0] == connector_id
        if same and (started is None or previous[2] is None or started < previous[2]):
            overlaps += 1
        previous = (connector_id, started, finished)
    if overlaps:
        misses.append(f"{overlaps} pair(s) of overlapping runs of one connector")
    return len(runs)


EXPECTED: dict[str, int] = {}


def main() -> int:
    counts = [int(c) for c in ARGS.workers.split(",")]
    print(
        f"bench_workers: {ARGS.connectors} connectors in {ARGS.factories} factories, "
        f"{MODBUS_SERVERS} Modbus + {OPCUA_SERVERS} OPC UA simulators of {UNITS} devices, "
        f"broker {ARGS.broker.split('@')[-1]}, database {connection.settings_dict['NAME']}, "
        f"workers {counts} × concurrency {ARGS.concurrency}"
    )
    call_command("migrate", verbosity=0)
    simulators, targets = start_simulators()
    misses: list[str] = []
    results: dict[int, float] = {}
    try:
        connector_ids = build(targets)
        EXPECTED.update(expected_devices(targets))
        with tempfile.TemporaryDirectory(prefix="coe-bench-workers-") as logdir:
            for n in counts:
                print(f"  {n} worker(s):")
                results[n] = one_round(n, connector_ids, Path(logdir), misses)
                print(f"    {results[n]} syncs/s")
        total = check_overlaps(connector_ids, misses)
        print(f"  {total} runs checked for overlap per connector")
    finally:
        for sim in simulators:
            sim.stop()
        Factory.objects.filter(slug__startswith=PREFIX).delete()
    base = results.get(counts[0])
    for n, rate in results.items():
        print(f"  {n} worker(s): {rate} syncs/s, {rate / base} × {counts[0]} worker(s)")
    for miss in misses:
        print(f"MISSED: {miss}")
    print("bench_workers: " + ("FAILED" if misses else "all checks passed"))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
