"""Tool-request benchmark: policy-check latency (the live preview) on a large portfolio,
its query count, and the throughput of the whole workflow.

Run: ``.venv/bin/python benchmarks/bench_requests.py`` (SQLite in a temporary file unless
``DATABASE_URL`` is set; the database is migrated first). ``BENCH_SCALE`` (default 1.0)
shrinks the sizes: 5,000 tools over 100 capabilities, 1,000 factories × 20 adoptions.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coe.settings")
os.environ.setdefault("DEBUG", "1")
_TMP = tempfile.mkdtemp(prefix="coe-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_TMP}/bench.sqlite3")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from coe.choices import Role  # noqa: E402
from coe.models import Factory, Membership  # noqa: E402
from coe.services import user_set_coe_staff  # noqa: E402
from registry.models import Adoption, Capability, Tool  # noqa: E402
from registry.resolution import normalize  # noqa: E402
from tool_requests.checks import policy_checks  # noqa: E402
from tool_requests.services import tool_request_create, tool_request_transition  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
TOOLS, CAPS = int(5000 * SCALE) or 50, 100
FACTORIES, PER_FACTORY = int(1000 * SCALE) or 10, 20
RINGS = ["adopt", "trial", "assess", "hold", "retired"]
WORDS = ["data", "flow", "line", "cloud", "edge", "twin", "vision", "scan", "metric"]


def code(i: int) -> str:
    """A letters-only suffix (names must stay distinct after version numbers are dropped)."""
    out = "z"
    while True:
        i, r = divmod(i, 26)
        out += "abcdefghijklmnopqrstuvwxyz"[r]
        if not i:
            return out


def build() -> tuple[list[Factory], list[Tool]]:
    rnd = random.Random(7)
    caps = Capability.objects.bulk_create(
        Capability(name=f"Capability {i}", slug=f"bench-cap-{i}") for i in range(CAPS)
    )
    tools = []
    for i in range(TOOLS):
        name = f"{rnd.choice(WORDS).title()}{rnd.choice(WORDS)} {code(i)}"
        tools.append(
            Tool(
                name=name,
                slug=f"bench-tool-{i}",
                normalized_name=normalize(name),
                vendor=f"Vendor {i % 700}",
                ring=RINGS[i % 5],
                annual_cost_per_seat=Decimal(rnd.randint(10, 900)),
            )
        )
    tools = Tool.objects.bulk_create(tools, batch_size=500)
    through = Tool.capabilities.through
    through.objects.bulk_create(
        (through(tool_id=t.pk, capability_id=caps[i % CAPS].pk) for i, t in enumerate(tools)),
        batch_size=500,
    )
    factories = Factory.objects.bulk_create(
        Factory(slug=f"bench-f-{i}", name=f"Bench {i}", kind=("software", "manufacturing")[i % 2])
        for i in range(FACTORIES)
    )
    adoptions = []
    for f in factories:
        for t in rnd.sample(tools, PER_FACTORY):
            adoptions.append(
                Adoption(
                    factory=f,
                    tool=t,
                    declared_name=t.name,
                    normalized_name=t.normalized_name,
                    seats=5,
                    resolution_confidence=1.0,
                )
            )
    Adoption.objects.bulk_create(adoptions, batch_size=500)
    return factories, tools


def timed(fn, runs: int) -> tuple[float, float, int]:
    """Median and p95 in milliseconds, and the query count of one run."""
    with CaptureQueriesContext(connection) as ctx:
        fn(0)
    queries = len(ctx.captured_queries)
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], queries


def main() -> None:
    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    factories, tools = build()
    print(
        f"portfolio: {len(tools)} tools, {CAPS} capabilities, {len(factories)} factories, "
        f"{len(factories) * PER_FACTORY} adoptions ({time.perf_counter() - t0:.1f} s to build)"
    )
    rnd = random.Random(11)
    picks = [(rnd.choice(factories), rnd.choice(tools)) for _ in range(200)]

    def registry_tool(i):
        f, t = picks[i % len(picks)]
        policy_checks(factory=f, tool=t, seats=10)

    def new_tool(i):
        f, t = picks[i % len(picks)]
        policy_checks(factory=f, proposed_name=t.name[:-1] + "x", capability=None)

    for label, fn in (("registry tool", registry_tool), ("proposed new tool", new_tool)):
        median, p95, queries = timed(fn, 100)
        print(f"checks, {label}: median {median:.1f} ms, p95 {p95:.1f} ms, {queries} queries")

    User = get_user_model()
    owner = User.objects.create(username="bench-owner")
    member = User.objects.create(username="bench-member")
    staff = User.objects.create(username="bench-staff")
    user_set_coe_staff(user=staff, is_staff=True)
    runs = 100
    Membership.objects.bulk_create(
        [Membership(user=owner, factory=f, role=Role.BUSINESS_OWNER) for f in factories[:runs]]
        + [Membership(user=member, factory=f, role=Role.MEMBER) for f in factories[:runs]]
    )
    start = time.perf_counter()
    for i in range(runs):
        req = tool_request_create(
            factory=factories[i], requester=member, tool=tools[i * 7 % len(tools)],
            justification="bench", seats=3,
        )  # fmt: skip
        for action, actor, extra in (
            ("submit", member, {}),
            ("approve", owner, {}),
        ):
            req = tool_request_transition(
                tool_request=req, action=action, actor=actor, notify=False, **extra
            )
        if req.status == "owner_approved":
            exception = None
            if any(c["result"] == "block" for c in req.checks if c["check"] == "ring"):
                import datetime as dt

                exception = dt.date.today() + dt.timedelta(days=30)
            req = tool_request_transition(
                tool_request=req, action="approve", actor=staff, notify=False,
                exception_expires_on=exception,
            )  # fmt: skip
        tool_request_transition(tool_request=req, action="provision", actor=staff, notify=False)
    elapsed = time.perf_counter() - start
    print(
        f"workflow: {runs} requests created → provisioned in {elapsed:.1f} s "
        f"({elapsed / runs * 1000:.0f} ms per request, checks recomputed at each step)"
    )


if __name__ == "__main__":
    main()
