"""Reads of the registry worth naming: the resolver snapshot, effective costs, scoped lists."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth

from coe import generations
from coe.generations import query_key
from coe.scoping import restrict_through
from registry.models import Adoption, DuplicateFinding, Tool, ToolAlias
from registry.resolution import Resolver, ToolEntry


def registry_resolver() -> Resolver:
    """A resolver over the whole registry (two queries)."""
    aliases: dict[int, list[str]] = defaultdict(list)
    for tool_id, name in ToolAlias.objects.values_list("tool_id", "name"):
        aliases[tool_id].append(name)
    return Resolver(
        ToolEntry(id=pk, name=name, vendor=vendor, aliases=tuple(aliases.get(pk, ())))
        for pk, name, vendor in Tool.objects.values_list("pk", "name", "vendor")
    )


def effective_cost(annual_cost, seats, cost_per_seat) -> Decimal:
    """An adoption's annual cost: declared, else seats × cost per seat, else 0."""
    if annual_cost is not None:
        return Decimal(annual_cost)
    if seats and cost_per_seat is not None:
        return Decimal(cost_per_seat) * seats
    return Decimal("0")


def adoptions_visible(user) -> QuerySet[Adoption]:
    """Adoptions of the user's factories (all of them for CoE staff)."""
    from coe.scoping import restrict

    return restrict(Adoption.objects.all(), user)


def findings_visible(user) -> QuerySet[DuplicateFinding]:
    """Findings scoped to one of the user's factories, or portfolio-wide findings that
    involve one of them (a member sees the fragmentation their factory takes part in)."""
    return restrict_through(DuplicateFinding.objects.all(), user, "scope", "factories")


def unresolved_names(adoptions: QuerySet[Adoption], *, with_candidates: bool = True) -> list[dict]:
    """The unresolved queue: one row per normalised declared name, most adoptions first,
    with the factories that use it and the resolver's best (rejected) guess."""
    groups: dict[str, dict] = {}
    for key, name, slug in (
        adoptions.filter(tool__isnull=True, status="active")
        .order_by("normalized_name", "declared_name")
        .values_list("normalized_name", "declared_name", "factory__slug")
    ):
        row = groups.setdefault(
            key,
            {"normalized_name": key, "declared_name": name, "adoptions": 0, "factories": []},
        )
        row["adoptions"] += 1
        if slug not in row["factories"]:
            row["factories"].append(slug)
    rows = sorted(groups.values(), key=lambda r: (-r["adoptions"], r["normalized_name"]))
    if with_candidates and rows:
        resolver = registry_resolver()
        names = dict(Tool.objects.values_list("pk", "slug"))
        for row in rows:
            match = resolver.resolve_key(row["normalized_name"], row["declared_name"])
            row["candidate"] = names.get(match.candidate_id or match.tool_id)
            row["candidate_confidence"] = match.confidence
    for row in rows:
        row.setdefault("candidate", None)
        row.setdefault("candidate_confidence", 0.0)
    return rows


def cost_now(prefix: str = "") -> Coalesce:
    """An adoption's effective annual cost in SQL (as :func:`effective_cost`)."""
    return Coalesce(
        f"{prefix}annual_cost",
        F(f"{prefix}seats") * F(f"{prefix}tool__annual_cost_per_seat"),
        Value(Decimal("0")),
        output_field=DecimalField(max_digits=16, decimal_places=2),
    )


def at_stake_total(findings: QuerySet[DuplicateFinding]) -> Decimal:
    """The annual cost at stake in the live ``findings``, each adoption counted once
    however many findings cover it (one aggregate query over the stake rows)."""
    from registry.choices import LIVE_FINDING_STATUSES
    from registry.models import FindingStake

    live = findings.filter(status__in=LIVE_FINDING_STATUSES).values("pk")
    covered = FindingStake.objects.filter(at_stake=True, finding__in=live).values("adoption_id")
    adoptions = Adoption.objects.filter(pk__in=covered)

    def total() -> Decimal:
        return adoptions.aggregate(total=Sum(cost_now()))["total"] or Decimal("0")

    # Memoised until the registry is written (coe.generations): ~55,000 stake rows at
    # 1,000 factories, read by the cockpit and the duplicates page.
    return generations.memoised("registry", ("at_stake_total", *query_key(adoptions)), total)


def savings_overview(
    findings: QuerySet[DuplicateFinding], factory_ids: set[int] | None = None
) -> dict:
    """Realised savings of ``findings`` for the portfolio, per business unit and the
    cumulative trend by month of detection, added up in the database from the stake
    rows (what :func:`registry.consolidation.savings_summary` computes row by row);
    ``factory_ids`` limits the amounts to those factories. Memoised until the registry
    is written (:mod:`coe.generations`)."""
    from registry.models import FindingStake

    stakes = FindingStake.objects.filter(baseline_cost__isnull=False)
    if findings.query.where or findings.query.is_sliced:  # some findings: their stakes
        stakes = stakes.filter(finding__in=findings.values("pk"))
    if factory_ids is not None:
        stakes = stakes.filter(factory_id__in=sorted(factory_ids))
    return generations.memoised(
        "registry", ("savings_overview", *query_key(stakes)), lambda: _savings_of(stakes)
    )


def _saved_since_detection() -> ExpressionWrapper:
    """A stake row's realised saving in SQL: its baseline cost minus the adoption's cost
    now (0 once it is retired)."""
    from registry.choices import AdoptionStatus

    money = DecimalField(max_digits=16, decimal_places=2)
    now = Case(
        When(adoption__status=AdoptionStatus.ACTIVE, then=cost_now("adoption__")),
        default=Value(Decimal("0")),
        output_field=money,
    )
    return ExpressionWrapper(F("baseline_cost") - now, output_field=money)


def _savings_of(stakes: QuerySet) -> dict:
    from registry.consolidation import money

    saved = _saved_since_detection()
    # One pass over the stake rows, by business unit (none: no factory) and month.
    rows = (
        stakes.annotate(
            month=TruncMonth("finding__first_detected"), unit=F("factory__business_unit")
        )
        .values("unit", "month")
        .annotate(amount=Sum(saved))
        .order_by("unit", "month")
    )
    by_unit: dict[str, Decimal] = {}
    by_month: dict = defaultdict(Decimal)
    for row in rows:
        amount = row["amount"] or Decimal("0")
        if row["unit"] is not None:
            by_unit[row["unit"]] = by_unit.get(row["unit"], Decimal("0")) + amount
        by_month[row["month"]] += amount
    trend, running = [], Decimal("0")
    for month in sorted(by_month):
        running += by_month[month]
        trend.append({"month": month.strftime("%Y-%m"), "realised_savings": money(running)})
    return {
        "portfolio": {"realised_savings": money(running)},
        "by_business_unit": [
            {"business_unit": unit, "realised_savings": money(amount)}
            for unit, amount in by_unit.items()
        ],
        "trend": trend,
    }


def realised_by_finding(finding_ids: list[int]) -> dict[int, Decimal]:
    """``{finding id: realised annual saving}``: the baseline cost of each adoption the
    finding covered when first detected minus its cost now (0 once retired or deleted) —
    what ``registry.consolidation.finding_savings`` adds up from ``baseline``, in one
    aggregate over the stake rows. Findings without a baseline are left out."""
    from registry.models import FindingStake

    if not finding_ids:
        return {}
    saved = _saved_since_detection()
    rows = (
        FindingStake.objects.filter(finding_id__in=finding_ids, baseline_cost__isnull=False)
        .values("finding_id")
        .annotate(amount=Sum(saved))
        .values_list("finding_id", "amount")
        .order_by()
    )
    # Memoised until the registry is written: a fragmentation finding covers thousands
    # of adoptions.
    return generations.memoised(
        "registry", ("realised_by_finding", *query_key(rows)), lambda: dict(rows)
    )
