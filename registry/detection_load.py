"""What duplicate detection reads: plain records (``registry.duplicates``) from the database.

A full run reads every tool and active adoption. A scoped run (an import or an adoption
change of a few factories) reads the records of those factories, and the portfolio's use
of the capabilities they touch as one aggregate query (on PostgreSQL per tool and declared
capability: adoption ids, factories and cost in cents, gathered and summed by the
database) folded straight into per-capability, per-tool totals
(:class:`registry.duplicates.CapUse`), without building a record per adoption. What the
scoped run then computes, compares and writes is what the touched factories and
capabilities hold.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils.text import slugify

from coe.models import Factory
from registry import tool_use
from registry.choices import AdoptionStatus, FindingKind
from registry.duplicates import AdoptionRec, CapUse, ToolRec
from registry.models import (
    Adoption,
    Capability,
    DuplicateFinding,
    Tool,
    ToolAlias,
    ToolRingOverride,
)
from registry.resolution import normalize
from registry.selectors import effective_cost

_MISSING = object()


@dataclass
class Loaded:
    tools: list[ToolRec]
    adoptions: list[AdoptionRec]
    kinds: dict[int, str]
    costs: dict[int, tuple[int, Decimal]]  # adoption id → (factory id, annual cost)
    usage: dict[int, CapUse] | None = None  # scoped: the concerned capabilities' use
    concerned: set[int] = field(default_factory=set)
    registry: _Registry | None = None  # scoped: the tools' capabilities, read once

    def cost(self, pk: int) -> tuple[int, Decimal] | None:
        """(factory id, annual cost) of an adoption read, for a finding's baseline."""
        return self.costs.get(pk)

    def read_costs(self, ids: set[int]) -> None:
        """Make :meth:`cost` know these adoptions too (a scoped run reads the costs of
        other factories' adoptions only for the baselines of findings new to it)."""
        missing = sorted(set(ids) - self.costs.keys())
        array = connection.vendor == "postgresql"  # one array parameter
        step = max(len(missing), 1) if array else 5000  # SQLite's limit on parameters
        for start in range(0, len(missing), step):
            chunk = missing[start : start + step]
            marks = ", ".join(["%s"] * len(chunk))
            sql, params = _rows_sql("a.id = ANY(%s::bigint[])" if array else f"a.id IN ({marks})")
            with connection.cursor() as cursor:
                cursor.execute(sql, [*params, chunk] if array else [*params, *chunk])
                for pk, factory_id, _tool, _declared, cents in cursor.fetchall():
                    self.costs[pk] = (factory_id, Decimal(cents).scaleb(-2))


class _Registry:
    """Tools (as records), their capabilities and the declared-capability lookup."""

    def __init__(self):
        self.tool_caps: dict[int, list[int]] = defaultdict(list)
        links = Tool.capabilities.through._meta.db_table
        with connection.cursor() as cursor:  # thousands of pairs: no model layer per row
            cursor.execute(f"SELECT tool_id, capability_id FROM {connection.ops.quote_name(links)}")
            for tool_id, cap_id in cursor.fetchall():
                self.tool_caps[tool_id].append(cap_id)
        self.cap_by_name: dict[str, int] = {}
        for pk, name, slug in Capability.objects.values_list("pk", "name", "slug"):
            self.cap_by_name[name.lower()] = pk
            self.cap_by_name[slug] = pk
        self._declared: dict[str | None, int | None] = {}

    @staticmethod
    def tool_records(
        ids: set[int] | None = None, rings: dict[int, str] | None = None
    ) -> list[ToolRec]:
        """Every tool with its aliases and vendor (a full run: same_tool needs them), or
        the tools ``ids`` with their rings only (what picking a standard reads; ``rings``:
        already read)."""
        aliases: dict[int, list[str]] = defaultdict(list)
        overrides: dict[int, list[tuple[str, str]]] = defaultdict(list)
        if ids is None:
            for tool_id, key in ToolAlias.objects.values_list("tool_id", "normalized_name"):
                aliases[tool_id].append(key)
        for tool_id, kind, ring in ToolRingOverride.objects.order_by().values_list(
            "tool_id", "factory_kind", "ring"
        ):
            overrides[tool_id].append((kind, ring))
        if rings is not None:
            return [
                ToolRec(pk, "", ring=rings[pk], ring_overrides=tuple(overrides[pk]))
                for pk in sorted(ids)
                if pk in rings
            ]
        if ids is not None:  # one narrow read of the registry beats a long IN list
            return [
                ToolRec(pk, "", ring=ring, ring_overrides=tuple(overrides[pk]))
                for pk, ring in Tool.objects.values_list("pk", "ring")
                if pk in ids
            ]
        return [
            ToolRec(pk, key, normalize(vendor), homepage, ring, tuple(aliases[pk]),
                    tuple(overrides[pk]))
            for pk, key, vendor, homepage, ring in Tool.objects.values_list(
                "pk", "normalized_name", "vendor", "homepage", "ring"
            )
        ]  # fmt: skip

    def declared_cap(self, declared: str | None) -> int | None:
        """The capability a declared name means (by name or slug); each name looked up once."""
        cap = self._declared.get(declared, _MISSING)
        if cap is _MISSING:
            text = declared or ""
            cap = self._declared[declared] = self.cap_by_name.get(
                text.strip().lower()
            ) or self.cap_by_name.get(slugify(text.replace("/", " ")))
        return cap

    def caps_of(self, tool_id: int, declared: str | None) -> list[int]:
        """What a factory uses a tool for: the capability it names when the tool offers it
        (a suite used for one purpose overlaps only there), else all the tool's."""
        caps = self.tool_caps.get(tool_id, [])
        declared_cap = self.declared_cap(declared) if declared else None
        if declared_cap is not None and declared_cap in caps:
            return [declared_cap]
        return caps

    def records(self, rows, kinds: dict[int, str]) -> list[AdoptionRec]:
        out = []
        for pk, factory_id, tool_id, cost, seats, declared, name, kind, per_seat in rows:
            kinds[factory_id] = kind
            if tool_id is None:  # unresolved: counts where it declares a capability
                declared_cap = self.declared_cap(declared) if declared else None
                if declared_cap is not None:
                    out.append(
                        AdoptionRec(pk, factory_id, None, effective_cost(cost, seats, None),
                                    (declared_cap,), name)
                    )  # fmt: skip
                continue
            out.append(
                AdoptionRec(pk, factory_id, tool_id,
                            effective_cost(cost, seats, per_seat),
                            tuple(self.caps_of(tool_id, declared)))
            )  # fmt: skip
        return out


_COLUMNS = (
    "pk", "factory_id", "tool_id", "annual_cost", "seats", "declared_capability",
    "normalized_name", "factory__kind", "tool__annual_cost_per_seat",
)  # fmt: skip


def load_full() -> Loaded:
    """Every tool (with aliases) and every active adoption."""
    registry = _Registry()
    kinds: dict[int, str] = {}
    rows = Adoption.objects.filter(status=AdoptionStatus.ACTIVE).values_list(*_COLUMNS)
    adoptions = registry.records(rows, kinds)
    costs = {a.id: (a.factory_id, a.cost) for a in adoptions}
    return Loaded(registry.tool_records(), adoptions, kinds, costs)


def load_scoped(factories: set[int], capabilities: set[int]) -> Loaded:
    """The active adoptions of ``factories``, and the use of every capability they touch
    (or that is named in ``capabilities``) across the portfolio, counted: per capability
    and tool the factories using it and their cost (:func:`_counts`), no adoption ids
    (:func:`load_usage` adds them for the capabilities that need them)."""
    registry = _Registry()
    kinds: dict[int, str] = {}
    own_rows = Adoption.objects.filter(status=AdoptionStatus.ACTIVE, factory_id__in=factories)
    own = registry.records(own_rows.values_list(*_COLUMNS), kinds)
    concerned = set(capabilities) | {c for a in own for c in a.capability_ids}
    # A capability a factory stopped using (an adoption deleted, retired or re-declared)
    # is named by the fragmentation finding that still lists the factory.
    concerned.update(
        DuplicateFinding.objects.filter(
            kind=FindingKind.FRAGMENTATION, factories__in=factories
        ).values_list("capability_id", flat=True)
    )
    rings: dict[int, str] | None = {} if connection.vendor == "postgresql" else None
    usage = _counts(registry, concerned, rings)
    costs = {a.id: (a.factory_id, a.cost) for a in own}
    used = {t for use in usage.values() for t in use.cost}
    if rings is None:
        used.update(a.tool_id for a in own if a.tool_id is not None)
    # (PostgreSQL: the rings of the tools counted came with the counts. A tool of the
    # factories' own that offers no concerned capability offers none at all, and picking a
    # standard never looks at it.)
    tools = registry.tool_records(used, rings)
    return Loaded(tools, own, kinds, costs, usage, concerned, registry=registry)


def load_usage(loaded: Loaded, capabilities: set[int]) -> None:
    """Replace the counted use of ``capabilities`` in a scoped ``loaded`` with their whole
    use (factories and adoption ids per tool: :func:`_usage`), for the fragmentation
    findings a scoped run recomputes in full."""
    if capabilities:
        loaded.usage.update(_usage(loaded.registry, set(capabilities)))


def load_overlaps(loaded: Loaded, pairs: set[tuple[int, int]]) -> None:
    """Add to a scoped ``loaded`` what re-detecting the overlaps ``pairs`` (factory,
    capability) of other factories reads: each factory's active adoptions of the tools
    someone uses for the pair's capability (its candidates and what it counts for the
    capability: a tool the factory uses for it is one of those) and its unresolved
    adoptions (which count where they declare the capability)."""
    if not pairs:
        return
    usage = loaded.usage or {}
    of_cap = {cap: set(usage[cap].tools()) for _factory, cap in pairs if cap in usage}
    allowed: dict[int, set[int]] = {}  # per factory: the tools that count
    for factory, cap in pairs:
        found = of_cap.get(cap, set())
        allowed[factory] = allowed[factory] | found if factory in allowed else found
    tools = sorted(set().union(*of_cap.values()))
    factories = sorted(allowed)
    if connection.vendor == "postgresql":
        # The pairs as two arrays: per pair the factory's adoptions of tools offering the
        # pair's capability (a superset of those that count, narrowed below), and the
        # factories' unresolved adoptions; not every adoption of the factories.
        qn = connection.ops.quote_name
        tables = (Adoption, Factory, Tool, Tool.capabilities.through)
        adoption, factory, tool, offers = (qn(m._meta.db_table) for m in tables)
        columns = (
            "a.id, a.factory_id, a.tool_id, a.annual_cost, a.seats, a.declared_capability, "
            "a.normalized_name, f.kind, t.annual_cost_per_seat"
        )
        joins = f"JOIN {factory} f ON f.id = a.factory_id LEFT JOIN {tool} t ON t.id = a.tool_id"
        ordered = sorted(pairs)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT ON (a.id) {columns} FROM unnest(%s::bigint[], %s::bigint[]) "
                f"AS p (f, c) JOIN {adoption} a ON a.factory_id = p.f JOIN {offers} o "
                f"ON o.tool_id = a.tool_id AND o.capability_id = p.c {joins} "
                f"WHERE a.status = %s UNION ALL SELECT {columns} FROM {adoption} a {joins} "
                "WHERE a.status = %s AND a.factory_id = ANY(%s::bigint[]) AND a.tool_id IS NULL",
                [
                    [f for f, _c in ordered],
                    [c for _f, c in ordered],
                    AdoptionStatus.ACTIVE,
                    AdoptionStatus.ACTIVE,
                    factories,
                ],
            )
            rows = cursor.fetchall()
    else:
        rows = Adoption.objects.filter(
            Q(tool_id__in=tools) | Q(tool_id__isnull=True),
            status=AdoptionStatus.ACTIVE,
            factory_id__in=factories,
        ).values_list(*_COLUMNS)
    rows = [row for row in rows if row[2] is None or row[2] in allowed[row[1]]]
    records = loaded.registry.records(rows, loaded.kinds)
    loaded.adoptions = loaded.adoptions + records
    loaded.costs.update((a.id, (a.factory_id, a.cost)) for a in records)


_CENTS = (
    "CAST(ROUND(COALESCE(a.annual_cost, CASE WHEN a.seats > 0 THEN "
    "a.seats * t.annual_cost_per_seat END, 0) * 100) AS BIGINT)"
)


def _rows_sql(where: str, columns: str | None = None, tail: str = "") -> tuple[str, list]:
    """Active adoptions as (id, factory, tool, declared capability, cost in cents), the
    cost computed by the database exactly as ``effective_cost``: declared, else seats ×
    the tool's cost per seat, else 0 (or ``columns`` of them, then ``tail``). Unresolved
    adoptions (no tool) are read too: they count in overlaps where they declare the
    capability, so a scoped run reads their costs and factories for its stake rows."""
    qn = connection.ops.quote_name
    adoption, tool = qn(Adoption._meta.db_table), qn(Tool._meta.db_table)
    columns = columns or f"a.id, a.factory_id, a.tool_id, a.declared_capability, {_CENTS}"
    sql = (
        f"SELECT {columns} FROM {adoption} a LEFT JOIN {tool} t ON t.id = a.tool_id "
        f"WHERE a.status = %s AND {where} {tail}"
    )
    return sql, [AdoptionStatus.ACTIVE]


def _offering(registry: _Registry, concerned: set[int]) -> list[int]:
    """The tools offering any of the ``concerned`` capabilities."""
    return sorted({t for t, caps in registry.tool_caps.items() if concerned.intersection(caps)})


def _groups(registry: _Registry, concerned: set[int]):
    """The concerned capabilities' adoptions as (tool, declared capability, adoption ids,
    factory ids, cents): on PostgreSQL one group per (tool, declared capability), summed
    and gathered by the database (one narrow aggregate, a few hundred rows, not one row
    per adoption); elsewhere one row per adoption."""
    offering = _offering(registry, concerned)
    if not offering:
        return
    if connection.vendor == "postgresql":  # the tool list as one array parameter
        sql, params = _rows_sql(
            "a.tool_id = ANY(%s::bigint[])",
            "a.tool_id, a.declared_capability, array_agg(a.id), array_agg(a.factory_id), "
            f"SUM({_CENTS})",
            "GROUP BY a.tool_id, a.declared_capability",
        )
        params.append(offering)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            yield from cursor.fetchall()
        return
    links = connection.ops.quote_name(Tool.capabilities.through._meta.db_table)
    marks = ", ".join(["%s"] * len(concerned))
    sql, params = _rows_sql(
        f"a.tool_id IN (SELECT tool_id FROM {links} WHERE capability_id IN ({marks}))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *sorted(concerned)])
        for pk, factory_id, tool_id, declared, cents in cursor.fetchall():
            yield tool_id, declared, [pk], [factory_id], cents


def _usage(registry: _Registry, concerned: set[int]) -> dict[int, CapUse]:
    """``{capability: CapUse}`` of the ``concerned`` capabilities across the portfolio
    (:func:`_groups`): per (capability, tool) the factories, adoption ids and cents. An
    adoption counts for the capability it declares when its tool offers it, else for each
    of its tool's capabilities (as :meth:`_Registry.caps_of`)."""
    named: dict[tuple[int, int], tuple[set, list, list]] = {}
    for tool_id, declared, ids, factory_ids, cents in _groups(registry, concerned):
        for cap in registry.caps_of(tool_id, declared or None):
            if cap not in concerned:
                continue
            entry = named.get((cap, tool_id))
            if entry is None:
                entry = named[(cap, tool_id)] = (set(), [], [0])
            entry[0].update(factory_ids)
            entry[1].extend(ids)
            entry[2][0] += int(cents)
    usage: dict[int, CapUse] = {}
    for (cap, tool_id), (factory_ids, ids, cents) in named.items():
        use = usage.setdefault(cap, CapUse())
        use.factories[tool_id], use.ids[tool_id] = factory_ids, ids
        use.cost[tool_id] = Decimal(cents[0]).scaleb(-2)
    return usage


def _counts(
    registry: _Registry, concerned: set[int], rings: dict[int, str] | None = None
) -> dict[int, CapUse]:
    """``{capability: CapUse}`` of the ``concerned`` capabilities across the portfolio,
    counted (``CapUse.uses``: factories per tool) and costed per tool, without adoption
    ids: on PostgreSQL one row per (tool, declared capability) — distinct factories, the
    declared costs and the seats priced by the tool — as the database keeps them while
    adoptions change (``registry.tool_use``), not one row per adoption. A tool whose
    adoptions count for one capability through two declared names (one naming it, one
    naming nothing) needs its factories, not two counts: those few tools' (tool, declared,
    factory) are read too.
    ``rings`` (PostgreSQL) gets each counted tool's ring."""
    if not concerned:
        return {}
    groups: list[tuple[int, str, int | set[int], Decimal]] = []
    if connection.vendor == "postgresql":  # counted as adoptions change (registry.tool_use)
        with connection.cursor() as cursor:
            cursor.execute(tool_use.counted_sql(), [sorted(concerned)])
            for tool_id, declared, n, total, ring in cursor.fetchall():
                if rings is not None:
                    rings[tool_id] = ring
                groups.append((tool_id, declared, n, total))
    else:
        sets: dict[tuple[int, str], set[int]] = defaultdict(set)
        cents: dict[tuple[int, str], int] = defaultdict(int)
        for tool_id, declared, _ids, factory_ids, total in _groups(registry, concerned):
            sets[(tool_id, declared or "")].update(factory_ids)
            cents[(tool_id, declared or "")] += int(total)
        groups = [(t, d, sets[(t, d)], Decimal(cents[(t, d)]).scaleb(-2)) for t, d in sets]
    per_pair: dict[tuple[int, int], list] = {}
    tool_caps = registry.tool_caps
    for tool_id, declared, users, total in groups:
        caps = registry.caps_of(tool_id, declared) if declared else tool_caps.get(tool_id, ())
        for cap in caps:
            if cap in concerned:
                parts = per_pair.get((cap, tool_id))
                if parts is None:
                    per_pair[(cap, tool_id)] = [(declared, users, total)]
                else:
                    parts.append((declared, users, total))
    shared = sorted(
        {
            t
            for (_c, t), parts in per_pair.items()
            if len(parts) > 1 and isinstance(parts[0][1], int)
        }
    )
    factories_of: dict[tuple[int, str], set[int]] = defaultdict(set)
    if shared:
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT tool_id, declared_capability, factory_id FROM "
                f"{qn(Adoption._meta.db_table)} WHERE status = %s AND tool_id = ANY(%s::bigint[])",
                [AdoptionStatus.ACTIVE, shared],
            )
            for tool_id, declared, factory_id in cursor.fetchall():
                factories_of[(tool_id, declared or "")].add(factory_id)
    usage: dict[int, CapUse] = {}
    for (cap, tool_id), parts in per_pair.items():
        use = usage.get(cap)
        if use is None:
            use = usage[cap] = CapUse(uses={})
        if len(parts) == 1 and isinstance(parts[0][1], int):
            use.uses[tool_id] = parts[0][1]
            use.cost[tool_id] = parts[0][2]
            continue
        users: set[int] = set()
        for declared, found, _total in parts:
            users |= found if isinstance(found, set) else factories_of[(tool_id, declared)]
        use.uses[tool_id] = len(users)
        use.cost[tool_id] = sum((total for _d, _u, total in parts), Decimal("0"))
    return usage
