"""Portfolio benchmark: pages and API lists at 10, 100 and 1,000 factories (PostgreSQL).

Run: ``DATABASE_URL=postgresql://…/coe_x .venv/bin/python benchmarks/bench_portfolio.py``
(``--steps 10,100`` for a quick run; ``--load`` adds the load phase at the top step).
The database is migrated and emptied of portfolio rows first; the portfolio grows through
the product's own bulk paths: factories by ``coe.bulk``, the registry and adoptions by
the registry importers (then one full duplicate detection), devices, monthly metrics and
finance by the facts importer — about 200 devices, ~36 tools and a year of monthly facts
per factory — and two final audits per factory (bulk rows, then the maturity rows the
finalise path writes).

Per step and page: server time (in-process test client as CoE staff, median of 5), query
count and response size. Targets, ratios printed unrounded, exit status non-zero on a miss:

- the query count of every page is the same at every step;
- the response size at the top step ≤ 1.5 × the size at the step before when that step
  already fills a page (≥ 50 factories): bounded by the page size, not the portfolio;
- server time at the top step ≤ 2 × the time at the first step.

``--load``: two gunicorn workers (production settings, ``DEBUG=0``) on the top step's
database, httpx with concurrency 8, CoE staff and members mixed, 1,000 requests over the
pages above: p95 per page < 500 ms and ≥ 50 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")
# Production settings (DEBUG off: no static-file rescans, no debug context), as served.
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("SECRET_KEY", "bench-portfolio-" + os.urandom(16).hex())
os.environ.setdefault("CONNECTOR_CREDENTIALS_KEYS", "bTVRYW9kVGRwZ0pqR3FrZ0JvQ2hmc2xXc2FQZ2RqZ3g=")
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("bench_portfolio runs on PostgreSQL: set DATABASE_URL=postgresql://…")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from coe import bulk  # noqa: E402
from coe.choices import COE_STAFF_GROUP  # noqa: E402
from coe.models import Factory, Membership  # noqa: E402
from connectors.imports import facts_import_file  # noqa: E402
from registry.detection import duplicates_detect  # noqa: E402
from registry.importers import import_adoptions, import_registry, read_file  # noqa: E402

DEVICES = int(os.environ.get("BENCH_DEVICES", "200"))
TOOLS_PER_FACTORY = 36
RUNS = 5
RNG = random.Random(20261130)
CAPABILITIES = [
    "Historian", "MES", "CMMS", "ERP", "CI/CD", "Issue tracking", "SCADA", "Quality",
    "Observability", "Source control",
]  # fmt: skip
PAGES = [
    ("cockpit /", "/"),
    ("/portfolio/", "/portfolio/"),
    ("/factories/", "/factories/"),
    ("factory page", "/factories/{slug}/"),
    ("/assessments/", "/assessments/"),
    ("/devices/", "/devices/"),
    ("/registry/", "/registry/"),
    ("/registry/duplicates/", "/registry/duplicates/"),
    ("/api/portfolio/roi/", "/api/portfolio/roi/"),
    ("/api/factories/", "/api/factories/"),
    ("/api/tools/", "/api/tools/"),
    ("/api/adoptions/", "/api/adoptions/"),
    ("/api/duplicates/", "/api/duplicates/"),
    ("/api/devices/", "/api/devices/"),
    ("/api/metrics/", "/api/metrics/"),
]


def csv_bytes(header: list[str], rows) -> bytes:
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    for row in rows:
        out.write(",".join(str(v) for v in row) + "\n")
    return out.getvalue().encode()


def reset() -> None:
    """An empty portfolio: factories, the registry and what hangs off them (one TRUNCATE …
    CASCADE; row-by-row deletes of a million rows would outlast the benchmark)."""
    from registry.models import Adoption, DuplicateFinding, Tool

    tables = [m._meta.db_table for m in (Factory, Tool, Adoption, DuplicateFinding)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def build_registry() -> list[str]:
    """Five tools per capability, some with a cost per seat; returns the tool names."""
    rings = ["adopt", "trial", "assess", "hold", "trial"]
    rows, names = [], []
    for cap in CAPABILITIES:
        for i in range(5):
            name = f"{cap.replace('/', '')} {['Alpha', 'Bravo', 'Cobalt', 'Delta', 'Ember'][i]}"
            names.append(name)
            rows.append([name, f"Vendor {i}", cap, rings[i], "", 100 * (i + 1), "", ""])
    header = ["name", "vendor", "capabilities", "ring", "aliases", "annual_cost_per_seat",
              "description", "homepage"]  # fmt: skip
    import_registry(read_file(csv_bytes(header, rows), "tools.csv"), detect=False)
    return names


def grow(start: int, stop: int, tools: list[str]) -> None:
    """Factories ``start``..``stop - 1`` with adoptions, devices and a year of facts, in
    files of at most 100 factories (an import file's row limit is 100,000)."""
    for first in range(start, stop, 100):
        grow_chunk(first, min(stop, first + 100), tools)


def grow_chunk(start: int, stop: int, tools: list[str]) -> None:
    factories = [
        Factory(
            slug=f"plant-{n:04d}",
            name=f"Plant {n:04d}",
            kind="manufacturing" if n % 4 else "software",
            business_unit=f"BU {n % 7}",
            site=f"Site {n % 50}",
            region=["EMEA", "AMER", "APAC"][n % 3],
        )
        for n in range(start, stop)
    ]
    bulk.insert(Factory, factories)
    adoptions = []
    for f in factories:
        for name in RNG.sample(tools, TOOLS_PER_FACTORY):
            adoptions.append([f.slug, name, "", "", RNG.randint(5, 200), ""])
    header = ["factory", "tool", "vendor", "capability", "seats", "annual_cost"]
    import_adoptions(read_file(csv_bytes(header, adoptions), "adoptions.csv"), detect=False)
    devices = (
        [f.slug, f"{f.slug}-d{i}", f"SN-{f.pk}-{i}", "", "Acme", f"M{i % 9}", "1.0", "", f"D{i}"]
        for f in factories
        for i in range(DEVICES)
    )
    header = ["factory", "source_id", "serial_number", "mac", "manufacturer", "model",
              "firmware", "hardware_revision", "name"]  # fmt: skip
    facts_import_file(kind="devices", data=csv_bytes(header, devices), name="devices.csv")
    months = [date(2025, m, 1) for m in range(1, 13)] + [date(2026, 1, 1)]
    metrics = (
        [f.slug, metric, months[m].isoformat(), months[m + 1].isoformat(), value, "", "bench"]
        for f in factories
        for m in range(12)
        for metric, value in (
            ("oee", round(RNG.uniform(0.5, 0.9), 3)),
            ("deployment_frequency", RNG.randint(1, 40)),
            ("lead_time_hours", RNG.randint(2, 200)),
        )
    )
    header = ["factory", "metric", "period_start", "period_end", "value", "unit", "source"]
    facts_import_file(kind="metrics", data=csv_bytes(header, metrics), name="metrics.csv")
    finance = (
        [f.slug, months[m].isoformat(), kind, "bench", amount, "EUR", ""]
        for f in factories
        for m in range(12)
        for kind, amount in (("investment", 10000), ("benefit", RNG.randint(2000, 20000)))
    )
    header = ["factory", "date", "kind", "category", "amount", "currency", "description"]
    facts_import_file(kind="finance", data=csv_bytes(header, finance), name="finance.csv")
    audits(factories)


def audits(factories: list[Factory]) -> None:
    """Two final audits per factory (a year apart) with results shaped as the scoring
    stores them, written in bulk; then the factories' maturity rows, as finalising each
    audit would write them (``assessments.maturity.refresh``, batched)."""
    from django.utils import timezone

    from assessments.choices import STAGE_NAMES, AssessmentStatus
    from assessments.maturity import refresh
    from assessments.models import Assessment
    from assessments.services import current_model

    model = current_model()
    dims = model.definition["dimensions"]
    rows = []
    for f in factories:
        for year in (2025, 2026):
            scores = [round(RNG.uniform(1, 5), 2) for _ in dims]
            index = round(sum(scores) / len(scores), 2)
            stage = max(1, min(5, int(index)))
            result = {
                "factory": f.slug,
                "model": model.key,
                "assessed_at": f"{year}-06-01",
                "overall": {"index": index, "stage": stage, "stage_name": STAGE_NAMES[stage],
                            "capped_by": dims[0]["key"], "uncapped_stage": stage, "gating": []},
                "dimensions": [
                    {"key": d["key"], "name": d["name"], "score": score, "stage": stage,
                     "stage_name": STAGE_NAMES[stage], "confidence": 1, "rated": 1,
                     "evidenced": 1, "weight": 1}
                    for d, score in zip(dims, scores, strict=True)
                ],
                "roadmap": [],
            }  # fmt: skip
            rows.append(
                Assessment(
                    factory=f,
                    model=model,
                    status=AssessmentStatus.FINAL,
                    assessed_on=date(year, 6, 1),
                    finalized_at=timezone.now(),
                    result=result,
                    index=index,
                    stage=stage,
                )  # fmt: skip
            )
    bulk.insert(Assessment, rows)
    refresh([f.pk for f in factories])


def users() -> tuple:
    User = get_user_model()
    staff, _ = User.objects.get_or_create(username="bench-staff")
    staff.groups.add(Group.objects.get_or_create(name=COE_STAFF_GROUP)[0])
    member, _ = User.objects.get_or_create(username="bench-member")
    return staff, member


def measure(client: Client, url: str) -> tuple[float, int, int, int, float]:
    """(median server time in ms, queries, bytes, status, median CPU time of this process
    in ms) over RUNS requests after a warm-up. The CPU time leaves out the database and
    time spent waiting for a core: on a shared machine it tells load apart from work."""
    client.get(url, secure=True)
    times, cpu = [], []
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as queries:
            began, began_cpu = time.perf_counter(), time.process_time()
            response = client.get(url, secure=True)
            times.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
    return (
        statistics.median(times),
        len(queries),
        len(response.content),
        response.status_code,
        statistics.median(cpu),
    )


def target_lines(steps: list[int], results: dict) -> list[str]:
    """One line per page and target; a line starting with MISS is a missed target."""
    lines = []
    first, top = steps[0], steps[-1]
    for label, _url in PAGES:
        rows = results[label]
        statuses = {rows[s][3] for s in steps}
        if statuses != {200}:
            lines.append(f"MISS {label}: answered {sorted(statuses)}, not 200")
        counts = {rows[s][1] for s in steps}
        ok = len(counts) == 1
        lines.append(
            f"{'ok  ' if ok else 'MISS'} {label}: queries "
            + " / ".join(str(rows[s][1]) for s in steps)
            + " (constant across steps)"
        )
        if len(steps) > 1 and steps[-2] >= 50:
            ratio = rows[top][2] / rows[steps[-2]][2]
            lines.append(
                f"{'ok  ' if ratio <= 1.5 else 'MISS'} {label}: size {rows[top][2]} B at {top} "
                f"/ {rows[steps[-2]][2]} B at {steps[-2]} = {ratio} (target ≤ 1.5)"
            )
        ratio = rows[top][0] / rows[first][0]
        lines.append(
            f"{'ok  ' if ratio <= 2 else 'MISS'} {label}: time {rows[top][0]} ms at {top} / "
            f"{rows[first][0]} ms at {first} = {ratio} (target ≤ 2)"
        )
    return lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the web server (gunicorn's master and
    workers), this database's PostgreSQL backends and the load generator (this process)."""
    import psutil

    def used(process) -> float:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system

    server = psutil.Process(server_pid)
    name = connection.settings_dict["NAME"]
    backends = [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if (p.info["name"] or "").startswith("postgres")
        and any(name in part.split() for part in p.info["cmdline"] or [])
    ]
    return {
        "web": used(server) + sum(used(child) for child in server.children(recursive=True)),
        "database": sum(used(p) for p in backends),
        "load generator": used(psutil.Process()),
    }


def load_phase(staff, member, slug: str, requests: int = 1000) -> list[str]:
    """Two gunicorn workers (DEBUG=0), httpx at concurrency 8, staff and a member mixed."""
    import httpx

    sessions = {}
    for user in (staff, member):
        client = Client()
        client.force_login(user)
        sessions[user.username] = client.cookies["sessionid"].value
    port = free_port()
    # The same SECRET_KEY as this process: it signs the sessions made above.
    env = {
        **os.environ,
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "coe.settings",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "coe.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health/", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        plan = [
            (RNG.choice(["bench-staff", "bench-member"]), RNG.choice(PAGES))
            for _ in range(requests)
        ]
        timings: dict[str, list[float]] = {}
        errors: list[str] = []

        async def run() -> float:
            queue = asyncio.Queue()
            for item in plan:
                queue.put_nowait(item)
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:

                async def worker():
                    while not queue.empty():
                        who, (label, url) = queue.get_nowait()
                        began = time.perf_counter()
                        response = await client.get(
                            url.format(slug=slug),
                            headers={
                                "X-Forwarded-Proto": "https",
                                "Cookie": f"sessionid={sessions[who]}",
                            },
                        )
                        took = (time.perf_counter() - began) * 1000
                        timings.setdefault(label, []).append(took)
                        if response.status_code >= 500 or (
                            who == "bench-staff" and response.status_code != 200
                        ):
                            errors.append(f"{who} {url}: {response.status_code}")

                began = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(8)))
                return time.perf_counter() - began

        cpu_before = cpu_seconds(server.pid)
        elapsed = asyncio.run(run())
        cpu_after = cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = []
    rate = requests / elapsed
    lines.append(
        f"{'ok  ' if rate >= 50 else 'MISS'} load: {requests} requests in {elapsed} s = "
        f"{rate} requests/s (target ≥ 50), {len(errors)} errors"
    )
    lines.extend(f"MISS load error: {e}" for e in errors[:10])
    # Where the two cores went: CPU per request of each side (on a shared machine the
    # rate moves with whatever else runs; these per-request figures much less).
    spent = {part: (cpu_after[part] - cpu_before[part]) * 1000 / requests for part in cpu_after}
    lines.append(
        "     CPU per request: "
        + ", ".join(f"{part} {ms!r} ms" for part, ms in spent.items())
        + f"; {sum(spent.values())!r} ms in all (load average {os.getloadavg()[0]:.1f})"
    )
    for label, _url in PAGES:
        values = sorted(timings.get(label, [0.0]))
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        lines.append(
            f"{'ok  ' if p95 < 500 else 'MISS'} load {label}: p95 {p95} ms over "
            f"{len(values)} requests (target < 500 ms)"
        )
    return lines


def measure_only(only: str) -> int:
    """The page table on the portfolio as it is (compare two databases' tables by hand)."""
    client = Client()
    client.force_login(users()[0])
    print(f"\n== {Factory.objects.count()} factories (as built)")
    print(
        f"{'page':<24}{'ms (median of 5)':>18}{'queries':>9}{'bytes':>10}{'status':>8}{'CPU ms':>9}"
    )
    for label, url in PAGES:
        if only in label:
            ms, queries, size, status, cpu = measure(client, url.format(slug="plant-0001"))
            print(f"{label:<24}{ms:>18.1f}{queries:>9}{size:>10}{status:>8}{cpu:>9.1f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="10,100,1000")
    parser.add_argument("--load", action="store_true", help="the load phase at the top step")
    parser.add_argument(
        "--load-only", action="store_true", help="only the load phase, on the portfolio built"
    )
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="only measure the pages (once) on the portfolio built; no targets",
    )
    parser.add_argument("--pages", default="", help="with --measure-only: labels containing this")
    args = parser.parse_args()
    steps = sorted(int(s) for s in args.steps.split(","))
    logging.disable(logging.WARNING)  # sign-in and import log lines
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # as a deployment does
    if args.load_only:
        print(f"load phase on {Factory.objects.count()} factories")
        lines = load_phase(*users(), "plant-0001")
        for line in lines:
            print(line)
        return 1 if any(line.startswith("MISS") for line in lines) else 0
    if args.measure_only:
        return measure_only(args.pages)
    reset()
    staff, member = users()
    tools = build_registry()
    client = Client()
    client.force_login(staff)
    results: dict[str, dict[int, tuple]] = {label: {} for label, _url in PAGES}
    grown = 0
    for step in steps:
        began = time.perf_counter()
        grow(grown, step, tools)
        grown = step
        duplicates_detect()
        Membership.objects.get_or_create(
            user=member, factory=Factory.objects.get(slug="plant-0001"), defaults={"role": "member"}
        )
        # Dead rows cleared and planner statistics brought up to date after the bulk build,
        # as autovacuum does in a running deployment (a page measured straight after a
        # bulk load is planned from the statistics of the empty tables, and detection's
        # updates leave a dead version of every finding; this machine's PostgreSQL runs
        # with autovacuum off).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"\n== {step} factories (built in {time.perf_counter() - began:.1f} s)")
        print(
            f"{'page':<24}{'ms (median of 5)':>18}{'queries':>9}{'bytes':>10}{'status':>8}"
            f"{'CPU ms':>9}"
        )
        for label, url in PAGES:
            row = measure(client, url.format(slug="plant-0001"))
            results[label][step] = row
            ms, queries, size, status, cpu = row
            print(f"{label:<24}{ms:>18.1f}{queries:>9}{size:>10}{status:>8}{cpu:>9.1f}")
        print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    lines = target_lines(steps, results)
    if args.load:
        lines += load_phase(staff, member, "plant-0001")
    print("\nTargets")
    for line in lines:
        print(line)
    missed = [line for line in lines if line.startswith("MISS")]
    print(f"\n{len(missed)} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
