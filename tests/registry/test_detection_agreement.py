"""Scoped detection agrees with a full run: after any sequence of adoption changes, each
followed by the scoped run its import queues (that factory only), the live findings are
exactly those a full run computes — and the full run then changes nothing (no finding
created, resolved, reopened or rewritten: ids and rows stay as they are). Every run leaves
the factories' finding figures, which it moves by difference, as a full rebuild computes
them."""

import os
from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpis.models import FactoryFigures
from kpis.rollups import rebuild
from registry.detection import duplicates_detect
from registry.detection_load import load_full
from registry.duplicates import detect
from registry.models import Adoption, DuplicateFinding, FindingStake, ToolRingOverride
from tests.registry.builders import adoption, capability, tool

N_FACTORIES, N_TOOLS = 4, 6

# One change: (factory, what, tool or None for an unresolved name, capability, cents, seats)
change = st.tuples(
    st.integers(0, N_FACTORIES - 1),
    st.sampled_from(["add", "add", "delete", "retire", "cost", "declare"]),
    st.one_of(st.none(), st.integers(0, N_TOOLS - 1)),
    st.integers(0, 2),
    st.one_of(st.none(), st.integers(0, 500_000)),
    st.one_of(st.none(), st.integers(0, 20)),
)


def stored() -> dict:
    """Every finding as the database holds it (id included)."""
    return {
        f.key: (
            f.pk, f.kind, f.status, f.annual_cost_at_stake, f.suggested_standard_id,
            f.capability_id, f.scope_id, f.detail, f.cost_at_detection,
            f.baseline,
            sorted(t.pk for t in f.tools.all()), sorted(x.pk for x in f.factories.all()),
        )
        for f in DuplicateFinding.objects.prefetch_related("tools", "factories")
    }  # fmt: skip


def at_stake_now() -> dict[str, set]:
    """The adoptions each finding a full run detects now has at stake (computed from the
    adoptions, not from what is stored)."""
    loaded = load_full()
    recs = detect(loaded.tools, loaded.adoptions, factory_kinds=loaded.kinds)
    return {rec.key: set(rec.at_stake_ids()) for rec in recs}


def stakes() -> set:
    """Every stake row, checked against what its finding holds: at stake exactly the
    adoptions its ``detail`` lists (a live fragmentation finding, which keeps them in its
    rows only: those a full run computes now), a baseline cost exactly for those of its
    ``baseline``."""
    rows = set(
        FindingStake.objects.values_list("finding_id", "adoption_id", "factory_id", "at_stake",
                                         "baseline_cost")
    )  # fmt: skip
    # A resolved finding keeps the rows of adoptions deleted since (factory as written).
    factory_of = {(f, a): fac for f, a, fac, _s, _c in rows}
    factory_of |= {a: fac for a, fac in Adoption.objects.values_list("pk", "factory_id")}
    now = at_stake_now()
    wanted = set()
    for f in DuplicateFinding.objects.all():
        live = set(f.detail.get("adoptions_at_stake", []))
        if f.kind == "fragmentation":
            if f.status == "resolved":  # as its last detection left them
                live = {a for fid, a, _fac, at_stake, _c in rows if fid == f.pk and at_stake}
            else:
                live = now[f.key]
        base = {int(pk): (fac, Decimal(cost)) for pk, (fac, cost) in (f.baseline or {}).items()}
        for pk in live | base.keys():
            factory = base[pk][0] if pk in base else factory_of.get(pk, factory_of.get((f.pk, pk)))
            wanted.add((f.pk, pk, factory, pk in live, base[pk][1] if pk in base else None))
    assert rows == wanted
    return rows


def figures_agree() -> None:
    """The finding figures the runs moved equal those a full rebuild computes."""

    def read() -> dict:
        rows = FactoryFigures.objects.values_list("factory_id", "open_findings", "at_stake")
        return {factory: (n, cost) for factory, n, cost in rows}

    moved = read()
    rebuild(None, [])
    assert read() == moved


def tag(n: int) -> str:
    """Letters only (digits are version numbers to name normalisation)."""
    return "q" + "".join(chr(97 + int(d)) for d in str(n))


def apply(factories, tools, caps, step, n: int) -> None:
    factory_no, what, tool_no, cap_no, cents, seats = step
    factory = factories[factory_no]
    mine = list(Adoption.objects.filter(factory=factory).order_by("pk"))
    cost = Decimal(cents) / 100 if cents is not None else None
    if what == "add" or not mine:
        used = tools[tool_no] if tool_no is not None else None
        adoption(factory, used, name=f"name {tag(n)}" if used is None else f"{used.name} {tag(n)}",
                 cost=cost, seats=seats, declared_capability=caps[cap_no].name)  # fmt: skip
        return
    target = mine[(tool_no or 0) % len(mine)]
    if what == "delete":
        target.delete()
    elif what == "retire":
        target.status = "retired" if target.status == "active" else "active"
        target.save()
    elif what == "cost":
        target.annual_cost, target.seats = cost, seats
        target.save()
    else:
        target.declared_capability = caps[cap_no].slug if cap_no else ""
        target.save()


@settings(
    max_examples=int(os.environ.get("AGREEMENT_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rings=st.lists(st.sampled_from(["adopt", "trial", "assess", "hold"]), min_size=N_TOOLS,
                   max_size=N_TOOLS),
    initial=st.lists(change, max_size=10),
    changes=st.lists(change, min_size=1, max_size=6),
)  # fmt: skip
def test_scoped_runs_after_random_changes_leave_what_a_full_run_finds(
    world, rings, initial, changes
):
    with transaction.atomic():
        caps = [capability(f"agree-{i}", name=f"Agree {i}") for i in range(3)]
        tools = [
            tool(f"Agree Tool {tag(i)}", caps=[caps[i % 3], *([caps[(i + 1) % 3]] * (i >= 4))],
                 ring=rings[i], annual_cost_per_seat=Decimal("12.50") if i % 2 else None)
            for i in range(N_TOOLS)
        ]  # fmt: skip
        ToolRingOverride.objects.create(tool=tools[1], factory_kind="software", ring="adopt")
        factories = [world.factory_a, world.factory_b] + [
            type(world.factory_a).objects.create(
                slug=f"agree-{i}", name=f"Agree {i}", kind="software", business_unit="X"
            )
            for i in range(N_FACTORIES - 2)
        ]
        for n, step in enumerate(initial):
            apply(factories, tools, caps, step, n)
        duplicates_detect()
        figures_agree()
        for n, step in enumerate(changes, start=len(initial)):
            apply(factories, tools, caps, step, n)
            duplicates_detect(factories={factories[step[0]].pk})
            figures_agree()
        scoped, scoped_stakes = stored(), stakes()
        summary = duplicates_detect()
        assert (summary.created, summary.reopened, summary.resolved) == (0, 0, 0)
        assert stored() == scoped
        assert stakes() == scoped_stakes
        transaction.set_rollback(True)


def test_a_scoped_run_writes_only_the_stake_rows_that_changed(world):
    """A factory leaving and joining a capability changes its fragmentation finding's
    rows one by one: a row with a baseline is kept (no longer at stake), one without goes,
    a new one is added; the rows always match the finding (as a full run leaves them)."""
    cap = capability("frag-x", name="Frag X")
    std, b, c = (tool(f"Frag Tool {tag(i)}", caps=[cap], ring=r)
                 for i, r in enumerate(["adopt", "assess", "assess"]))  # fmt: skip
    third = type(world.factory_a).objects.create(
        slug="frag-3", name="Frag 3", kind="software", business_unit="X"
    )
    adoption(world.factory_a, std, cost="100")
    adoption(world.factory_b, b, cost="200")
    c_use = adoption(third, c, cost="300")
    duplicates_detect()
    finding = DuplicateFinding.objects.get(key=f"fragmentation:{cap.pk}")
    first = {pk for _f, pk, *_rest in stakes() if _f == finding.pk}
    c_use.status = "retired"  # in the baseline: its row stays, no longer at stake
    c_use.save()
    duplicates_detect(factories={third.pk})
    row = FindingStake.objects.get(finding=finding, adoption=c_use)
    assert (row.at_stake, row.baseline_cost) == (False, Decimal("300.00"))
    later = adoption(third, b, cost="50")  # new at stake: one row added
    duplicates_detect(factories={third.pk})
    assert FindingStake.objects.get(finding=finding, adoption=later).at_stake
    later.status = "retired"  # not in the baseline: its row goes
    later.save()
    duplicates_detect(factories={third.pk})
    assert not FindingStake.objects.filter(finding=finding, adoption=later).exists()
    after = stakes()
    assert {pk for _f, pk, *_rest in after if _f == finding.pk} == first
    duplicates_detect()
    assert stakes() == after


def test_a_scoped_run_reads_the_cost_and_factory_of_another_factorys_unresolved_adoption(world):
    """Another factory's overlap that a change re-detects can cover unresolved names (they
    count where they declare the capability): the scoped run reads their cost and factory
    for the finding's baseline and stake rows as a full run does (it once read only
    adoptions of registry tools, leaving such stake rows without a factory)."""
    from registry.detection_load import load_scoped

    cap = capability("agree-unresolved", name="Agree unresolved")
    used = tool("Agree Tool known", caps=[cap])
    adoption(world.factory_a, used, cost="10")
    theirs = adoption(world.factory_b, None, name="homegrown x", cost="250.50",
                      declared_capability=cap.name)  # fmt: skip
    loaded = load_scoped({world.factory_a.pk}, set())
    assert loaded.cost(theirs.pk) is None  # not the scoped factory's: read on demand
    loaded.read_costs({theirs.pk})
    assert loaded.cost(theirs.pk) == (world.factory_b.pk, Decimal("250.50"))
