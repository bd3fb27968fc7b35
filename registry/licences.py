"""Licence / SAM exports: seats and annual cost of the adoptions the registry already has.

Format (CSV with a header row, or the first sheet of an XLSX):
``factory,tool,seats,annual_cost`` and optionally ``currency``. ``factory`` is a slug;
``tool`` is the name the licence tool uses. A row updates exactly one existing adoption of
that factory: the one whose declared name is the same (normalised), else the one whose
resolved registry tool is the tool the name resolves to (by name, alias or similarity, the
resolver of :mod:`registry.importers`). A licence export never creates an adoption: an
unknown factory, a name the registry cannot resolve, a tool the factory has not adopted, or
a name that fits two adoptions is a row error. A blank ``seats`` or ``annual_cost`` keeps
the current value; ``annual_cost`` is in the factory's currency (a ``currency`` that
differs is an error — nothing is converted silently).

The file is checked whole first and written only when clean, in one transaction, with
``bulk_update``; errors read ``row N: column: problem`` (row 1 is the header).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from coe import derived
from coe.changelog import log_bulk
from coe.models import Factory
from registry.figures import refresh_tool_figures
from registry.importers import (
    ImportRejected,
    Table,
    after_import,
    decimal_amount,
    table_records,
    whole_number,
)
from registry.models import Adoption
from registry.resolution import Resolver
from registry.selectors import registry_resolver

LICENCE_COLUMNS = ["factory", "tool", "seats", "annual_cost", "currency"]
REQUIRED_LICENCE_COLUMNS = {"factory", "tool", "seats", "annual_cost"}


@dataclass
class LicenceSummary:
    """What a licence import changed."""

    updated: int = 0
    unchanged: int = 0

    def lines(self) -> list[str]:
        return [f"{self.updated} adoption(s) updated, {self.unchanged} unchanged"]


def _describe(adoptions: list[Adoption]) -> str:
    return ", ".join(f"'{a.declared_name}'" for a in adoptions)


@transaction.atomic
def import_licences(
    table: Table,
    *,
    resolver: Resolver | None = None,
    factories: set[int] | None = None,
    detect: bool = True,
) -> LicenceSummary:
    """Update the seats and annual cost of existing adoptions from a licence export.

    ``factories`` limits the factory ids the file may name. Raises :class:`ImportRejected`
    with every row error; writes nothing then. Queries: factories, the registry resolver
    (two), the named factories' adoptions, and the bulk update.
    """
    records = table_records(table, REQUIRED_LICENCE_COLUMNS, LICENCE_COLUMNS)
    known = {
        slug: (pk, currency)
        for slug, pk, currency in Factory.objects.filter(
            slug__in={r["factory"] for _row, r in records}
        ).values_list("slug", "pk", "currency")
    }
    if factories is not None:
        known = {slug: v for slug, v in known.items() if v[0] in factories}
    errors: list[str] = []
    parsed = []
    for row, record in records:
        factory = known.get(record["factory"])
        if not record["factory"]:
            errors.append(f"row {row}: factory: required")
        elif factory is None:
            errors.append(f"row {row}: factory: unknown factory '{record['factory']}'")
        if not record["tool"]:
            errors.append(f"row {row}: tool: required")
        seats = whole_number(record["seats"], row, "seats", errors)
        cost = decimal_amount(record["annual_cost"], row, "annual_cost", errors)
        if not record["seats"] and not record["annual_cost"]:
            errors.append(f"row {row}: seats: seats or annual_cost required")
        currency = record["currency"].upper()
        if factory is not None and currency and currency != factory[1]:
            errors.append(
                f"row {row}: currency: {currency} is not the factory's currency "
                f"({factory[1]}); convert the amount first"
            )
        parsed.append((row, factory[0] if factory else None, record["tool"], seats, cost))

    resolver = resolver or registry_resolver()
    matches = resolver.resolve_many(p[2] for p in parsed)
    by_name: dict[tuple[int, str], Adoption] = {}
    by_tool: dict[tuple[int, int], list[Adoption]] = defaultdict(list)
    for adoption in Adoption.objects.filter(
        factory_id__in={p[1] for p in parsed if p[1] is not None}
    ).order_by("pk"):
        by_name[(adoption.factory_id, adoption.normalized_name)] = adoption
        if adoption.tool_id is not None:
            by_tool[(adoption.factory_id, adoption.tool_id)].append(adoption)

    chosen: dict[int, int] = {}  # adoption id → the row that set it
    updates: list[tuple[Adoption, int | None, Decimal | None]] = []
    for (row, factory_id, name, seats, cost), match in zip(parsed, matches, strict=True):
        if factory_id is None or not name:
            continue
        adoption = by_name.get((factory_id, match.key))
        if adoption is None and match.tool_id is None:
            errors.append(f"row {row}: tool: '{name}' is not in the registry")
            continue
        if adoption is None:
            candidates = by_tool.get((factory_id, match.tool_id), [])
            if not candidates:
                errors.append(
                    f"row {row}: tool: the factory has no adoption of '{name}' "
                    "(licences update adoptions; declare the adoption first)"
                )
                continue
            if len(candidates) > 1:
                errors.append(
                    f"row {row}: tool: '{name}' fits {len(candidates)} adoptions of the "
                    f"factory ({_describe(candidates)}); use one of those names"
                )
                continue
            adoption = candidates[0]
        if adoption.pk in chosen:
            errors.append(
                f"row {row}: tool: '{name}' repeats row {chosen[adoption.pk]} "
                f"(adoption '{adoption.declared_name}')"
            )
            continue
        chosen[adoption.pk] = row
        updates.append((adoption, seats, cost))
    if errors:
        raise ImportRejected(errors)

    summary = LicenceSummary()
    changed, before = [], {}
    for adoption, seats, cost in updates:
        new_seats = adoption.seats if seats is None else seats
        new_cost = adoption.annual_cost if cost is None else cost
        if new_seats == adoption.seats and new_cost == adoption.annual_cost:
            summary.unchanged += 1
            continue
        before[adoption.pk] = copy.copy(adoption)
        adoption.seats, adoption.annual_cost = new_seats, new_cost
        changed.append(adoption)
    Adoption.objects.bulk_update(changed, ["seats", "annual_cost"], batch_size=1000)
    derived.touch({a.factory_id for a in changed}, ())  # their annual spend changed
    refresh_tool_figures({a.tool_id for a in changed})
    names = (
        dict(
            Factory.objects.filter(pk__in={a.factory_id for a in changed}).values_list("pk", "name")
        )
        if changed
        else {}
    )
    log_bulk(
        Adoption,
        changed,
        action="update",
        before=before,
        describe=lambda a: f"{names.get(a.factory_id)}: {a.declared_name}",
    )
    summary.updated = len(changed)
    if detect and changed:
        # Duplicate findings carry the annual cost at stake: recompute them after commit.
        after_import({a.factory_id for a in changed})
    return summary
