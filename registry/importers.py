"""CSV/XLSX import of tools and adoptions (formats in CONTRACT.md), all or nothing.

A file is read by the one table reader (:func:`coe.tables.read_table`, bounded), every
row is validated first, and only a clean file is written — in bulk
(``bulk_create``/``bulk_update``), inside one transaction. Errors read
``row N: column: problem`` where row 1 is the header (so N is the spreadsheet row).
The importers also take a DataFrame built in code (the CNCF landscape, benchmarks).
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

import pandas as pd
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from coe import bulk, derived, tables
from coe.changelog import log_bulk
from coe.models import Factory
from registry.choices import AdoptionSource, AdoptionStatus, Ring
from registry.figures import refresh_tool_figures
from registry.models import Adoption, Capability, RingChange, Tool, ToolAlias
from registry.resolution import Resolver, normalize
from registry.selectors import registry_resolver
from registry.taxonomy import IMPORTED_GROUP

TOOL_COLUMNS = [
    "name", "vendor", "capabilities", "ring", "aliases", "annual_cost_per_seat",
    "description", "homepage",
]  # fmt: skip
ADOPTION_COLUMNS = ["factory", "tool", "vendor", "capability", "seats", "annual_cost"]
REQUIRED_TOOL_COLUMNS = {"name"}
REQUIRED_ADOPTION_COLUMNS = {"factory", "tool"}


class ImportRejected(Exception):
    """The file was rejected; ``errors`` holds one ``row N: column: problem`` line each."""

    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unresolved: list[str] = field(default_factory=list)
    capabilities_created: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.created} created, {self.updated} updated"]
        if self.capabilities_created:
            out.append("new capabilities under Imported: " + ", ".join(self.capabilities_created))
        if self.unresolved:
            out.append(f"{len(self.unresolved)} unresolved name(s) (see the unresolved queue):")
            out += [f"  {line}" for line in self.unresolved]
        if self.matched:
            out.append(f"{len(self.matched)} row(s) matched an existing tool by normalised name:")
            out += [f"  {line}" for line in self.matched]
        return out


Table = tables.Rows | pd.DataFrame
Records = list[tuple[int, dict[str, str]]]


def read_file(source: bytes | str | Path | IO[bytes], filename: str = "") -> tables.Rows:
    """A CSV or the first sheet of an XLSX, read by :func:`coe.tables.read_table`.

    An unreadable file is an :class:`ImportRejected` (``row 1: file: …``); a file over a
    reading limit raises :class:`coe.tables.TableTooLarge` (the API answers 413).
    """
    try:
        return tables.read_table(source, filename)
    except tables.TableTooLarge:
        raise
    except tables.TableError as exc:
        raise ImportRejected([f"row 1: file: {exc}"]) from exc


def _cell(value) -> str:
    """A cell as stripped text: XLSX numbers without a spurious ``.0``, dates as ISO."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def table_records(table: Table, required: set[str], known: list[str]) -> Records:
    """``(row number, {column: text})`` for every known column; missing required columns
    reject the file."""
    if isinstance(table, pd.DataFrame):
        table = tables.rows_of_records(table.to_dict("records"))
    missing = sorted(required - set(table.columns))
    if missing:
        raise ImportRejected([f"row 1: {c}: missing column" for c in missing])
    return [(number, {c: _cell(values.get(c)) for c in known}) for number, values in table]


def decimal_amount(value: str, row: int, column: str, errors: list[str]) -> Decimal | None:
    """An amount ≥ 0 from a cell (None when blank; a row error when not one)."""
    if not value:
        return None
    try:
        number = Decimal(value.replace(",", ""))
    except InvalidOperation:
        errors.append(f"row {row}: {column}: '{value}' is not a number")
        return None
    if not number.is_finite():
        errors.append(f"row {row}: {column}: '{value}' is not a finite number")
        return None
    if number < 0:
        errors.append(f"row {row}: {column}: must not be negative")
        return None
    if number >= Decimal("1e10"):  # the columns hold 12 digits, 2 after the point
        errors.append(f"row {row}: {column}: '{value}' is too large")
        return None
    return number


def whole_number(value: str, row: int, column: str, errors: list[str]) -> int | None:
    """A whole number ≥ 0 from a cell (None when blank; a row error when not one)."""
    if not value:
        return None
    try:
        number = Decimal(value.replace(",", ""))
        if not number.is_finite() or number < 0 or number != int(number) or number > 2**31 - 1:
            raise ValueError
    except (InvalidOperation, ValueError):
        errors.append(f"row {row}: {column}: '{value}' is not a whole number ≥ 0")
        return None
    return int(number)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def exact_key(name: str) -> str:
    """A name as compared for "the same name": case-insensitive, whitespace collapsed."""
    return " ".join(name.split()).casefold()


def _targets(rows: list[dict]) -> None:
    """Decide for every row what it writes to, in place (``row["target"]``, ``row["tool"]``).

    - a row whose name is a registry tool's name (ignoring case and spacing) updates it;
    - a row that matches a registry tool or alias only after normalisation
      ("Jenkins Server" → "Jenkins") never renames it or moves its ring: its name (and its
      aliases) are added as aliases of that tool and the summary says so;
    - rows of one new product under different names ("KusionStack", "KusionStack Server")
      create one tool from the first such row; the others become its aliases.
    """
    tools = list(Tool.objects.order_by("pk"))
    by_exact: dict[str, Tool] = {}
    by_key: dict[str, Tool] = {}
    for tool in tools:
        by_exact.setdefault(exact_key(tool.name), tool)
        by_key.setdefault(tool.normalized_name, tool)
    by_pk = {t.pk: t for t in tools}
    for key, tool_id in ToolAlias.objects.values_list("normalized_name", "tool_id"):
        by_key.setdefault(key, by_pk[tool_id])
    claimed: set[int] = set()
    for r in rows:
        tool = by_exact.get(exact_key(r["name"]))
        if tool is not None and tool.pk not in claimed:
            claimed.add(tool.pk)
            r["target"], r["tool"], r["mode"] = f"tool:{tool.pk}", tool, "update"
    first_new: dict[str, dict] = {}
    for r in rows:
        if "mode" in r:
            continue
        tool = by_exact.get(exact_key(r["name"])) or by_key.get(r["key"])
        if tool is not None:
            r["target"], r["tool"], r["mode"] = f"tool:{tool.pk}", tool, "alias"
        elif r["key"] in first_new:
            head = first_new[r["key"]]
            r["target"], r["tool"], r["mode"], r["head"] = head["target"], None, "alias", head
        else:
            first_new[r["key"]] = r
            r["target"], r["tool"], r["mode"] = f"row:{r['row']}", None, "create"


@transaction.atomic
def import_registry(table: Table, *, actor=None, detect: bool = True) -> ImportSummary:
    """Create or update tools by name; capabilities and aliases from the file.

    How a row finds its tool is described in :func:`_targets` (and docs/registry.md).
    """
    records = table_records(table, REQUIRED_TOOL_COLUMNS, TOOL_COLUMNS)
    errors: list[str] = []
    rows: list[dict] = []
    seen_names: dict[str, int] = {}
    for row, record in records:
        name = record["name"]
        if not name:
            errors.append(f"row {row}: name: required")
            continue
        same = exact_key(name)
        if same in seen_names:
            errors.append(f"row {row}: name: '{name}' repeats row {seen_names[same]}")
            continue
        seen_names[same] = row
        ring = (record["ring"] or Ring.ASSESS).lower()
        if ring not in Ring.values:
            errors.append(
                f"row {row}: ring: '{record['ring']}' is not one of {', '.join(Ring.values)}"
            )
        cost = decimal_amount(record["annual_cost_per_seat"], row, "annual_cost_per_seat", errors)
        homepage = record["homepage"]
        if homepage and not homepage.lower().startswith(("http://", "https://")):
            errors.append(f"row {row}: homepage: '{homepage}' is not an http(s) URL")
        rows.append(
            {
                **record, "row": row, "key": normalize(name), "ring": ring, "cost": cost,
                "aliases": _split(record["aliases"]),
            }
        )  # fmt: skip
    _targets(rows)
    alias_owner: dict[str, str] = {}
    existing_aliases = dict(ToolAlias.objects.values_list("normalized_name", "tool_id"))
    for r in rows:
        for alias in r["aliases"]:
            alias_key = normalize(alias)
            if alias_owner.setdefault(alias_key, r["target"]) != r["target"]:
                errors.append(
                    f"row {r['row']}: aliases: '{alias}' is already an alias of another row"
                )
            owner = existing_aliases.get(alias_key)
            if owner is not None and f"tool:{owner}" != r["target"]:
                errors.append(
                    f"row {r['row']}: aliases: '{alias}' is already an alias of another tool"
                )
    if errors:
        raise ImportRejected(errors)

    summary = ImportSummary()
    writers = [r for r in rows if r["mode"] != "alias"]
    capabilities = _capabilities_for(
        {c for r in writers for c in _split(r["capabilities"])}, summary
    )
    taken = set(Tool.objects.values_list("slug", flat=True))
    new_tools, changed, ring_changes, before = [], [], [], {}
    for r in writers:
        tool = r["tool"]
        values = {
            "name": r["name"], "vendor": r["vendor"], "description": r["description"],
            "homepage": r["homepage"], "annual_cost_per_seat": r["cost"],
        }  # fmt: skip
        if tool is None:
            slug = slugify(r["name"])[:180] or "tool"
            base, n = slug, 2
            while slug in taken:
                slug, n = f"{base}-{n}", n + 1
            taken.add(slug)
            tool = r["tool"] = Tool(slug=slug, normalized_name=r["key"], ring=r["ring"], **values)
            new_tools.append(tool)
            ring_changes.append((tool, "", r["ring"]))
        else:
            before[tool.pk] = copy.copy(tool)
            for attr, value in values.items():
                setattr(tool, attr, value)
            tool.normalized_name = r["key"]
            if tool.ring != r["ring"]:
                ring_changes.append((tool, tool.ring, r["ring"]))
                tool.ring = r["ring"]
            changed.append(tool)
    Tool.objects.bulk_create(new_tools, batch_size=500)
    Tool.objects.bulk_update(
        changed,
        ["name", "normalized_name", "vendor", "description", "homepage",
         "annual_cost_per_seat", "ring"],
        batch_size=500,
    )  # fmt: skip
    refresh_tool_figures([t.pk for t in changed])  # a cost per seat counts in the spend
    log_bulk(Tool, new_tools)
    log_bulk(Tool, changed, action="update", before=before)
    for r in rows:
        if r["mode"] == "alias" and r["tool"] is None:
            r["tool"] = r["head"]["tool"]
    through = Tool.capabilities.through
    if changed:
        through.objects.filter(tool__in=[t.pk for t in changed]).delete()
    links = {
        (r["tool"].pk, capabilities[c.lower()].pk)
        for r in writers
        for c in _split(r["capabilities"])
    }
    through.objects.bulk_create(
        [through(tool_id=t, capability_id=c) for t, c in sorted(links)], batch_size=500
    )
    known = set(ToolAlias.objects.values_list("normalized_name", flat=True))
    aliases = []
    for r in rows:
        names = ([r["name"]] if r["mode"] == "alias" else []) + r["aliases"]
        for alias in names:
            alias_key = normalize(alias)
            if alias_key not in known:
                known.add(alias_key)
                aliases.append(ToolAlias(tool=r["tool"], name=alias, normalized_name=alias_key))
        if r["mode"] == "alias":
            summary.matched.append(
                f"row {r['row']}: '{r['name']}' matched existing '{r['tool'].name}': "
                "added as an alias; its name, ring and other columns are unchanged"
            )
    ToolAlias.objects.bulk_create(aliases, batch_size=500)
    log_bulk(ToolAlias, aliases)
    ring_rows = RingChange.objects.bulk_create(
        [
            RingChange(tool=t, from_ring=old, to_ring=new, changed_by=actor, reason="Imported")
            for t, old, new in ring_changes
        ],
        batch_size=500,
    )
    log_bulk(RingChange, ring_rows)
    summary.created, summary.updated = len(new_tools), len(changed)
    if detect:
        after_import()
    return summary


def _capabilities_for(names: set[str], summary: ImportSummary) -> dict[str, Capability]:
    """``{lower name: Capability}``; names the taxonomy lacks are created under Imported."""
    found: dict[str, Capability] = {}
    for cap in Capability.objects.all():
        found[cap.name.lower()] = cap
        found.setdefault(cap.slug, cap)
    missing = sorted({n for n in names if n.lower() not in found and slugify(n) not in found})
    for name in names:
        if name.lower() not in found and slugify(name) in found:
            found[name.lower()] = found[slugify(name)]
    if missing:
        group = found.get(IMPORTED_GROUP.lower()) or Capability.objects.create(
            name=IMPORTED_GROUP, slug=slugify(IMPORTED_GROUP), order=99
        )
        taken = set(Capability.objects.values_list("slug", flat=True))
        created = []
        for name in missing:
            slug = base = slugify(name.replace("/", " "))[:110] or "capability"
            n = 2
            while slug in taken:
                slug, n = f"{base}-{n}", n + 1
            taken.add(slug)
            created.append(Capability(name=name, slug=slug, parent=group))
        Capability.objects.bulk_create(created)
        log_bulk(Capability, created)
        for cap in created:
            found[cap.name.lower()] = cap
        summary.capabilities_created = missing
    return found


@transaction.atomic
def import_adoptions(
    table: Table,
    *,
    source: str = AdoptionSource.IMPORT,
    resolver: Resolver | None = None,
    factories: set[int] | None = None,
    detect: bool = True,
) -> ImportSummary:
    """Create or update adoptions by (factory, normalised declared name).

    ``factories`` limits the factory ids the file may name (an uploader's own factories).
    """
    records = table_records(table, REQUIRED_ADOPTION_COLUMNS, ADOPTION_COLUMNS)
    slugs = {r["factory"] for _row, r in records}
    factory_ids = dict(Factory.objects.filter(slug__in=slugs).values_list("slug", "pk"))
    errors: list[str] = []
    rows = []
    seen: dict[tuple[int, str], int] = {}
    for row, record in records:
        factory_id = factory_ids.get(record["factory"])
        if not record["factory"]:
            errors.append(f"row {row}: factory: required")
        elif factory_id is None or (factories is not None and factory_id not in factories):
            errors.append(f"row {row}: factory: unknown factory '{record['factory']}'")
        if not record["tool"]:
            errors.append(f"row {row}: tool: required")
        seats = whole_number(record["seats"], row, "seats", errors)
        cost = decimal_amount(record["annual_cost"], row, "annual_cost", errors)
        key = normalize(record["tool"])
        if factory_id is not None and record["tool"]:
            if (factory_id, key) in seen:
                errors.append(
                    f"row {row}: tool: '{record['tool']}' repeats row {seen[(factory_id, key)]} "
                    "for this factory"
                )
            seen[(factory_id, key)] = row
        rows.append((row, factory_id, key, record, seats, cost))
    if errors:
        raise ImportRejected(errors)

    resolver = resolver or registry_resolver()
    matches = resolver.resolve_many((r[3]["tool"] for r in rows), keys=(r[2] for r in rows))
    existing = {
        (a.factory_id, a.normalized_name): a
        for a in Adoption.objects.filter(factory_id__in=set(factory_ids.values()))
    }
    now = timezone.now()
    summary = ImportSummary()
    new, changed, before = [], [], {}
    for (row, factory_id, key, record, seats, cost), match in zip(rows, matches, strict=True):
        adoption = existing.get((factory_id, key))
        if adoption is None:
            adoption = Adoption(factory_id=factory_id, normalized_name=key, first_seen=now)
            new.append(adoption)
        else:
            before[adoption.pk] = copy.copy(adoption)
            changed.append(adoption)
        adoption.declared_name = record["tool"]
        adoption.declared_vendor = record["vendor"]
        adoption.declared_capability = record["capability"]
        adoption.seats, adoption.annual_cost = seats, cost
        adoption.source, adoption.status, adoption.last_seen = source, AdoptionStatus.ACTIVE, now
        if match.tool_id is not None:
            adoption.tool_id, adoption.resolution_confidence = match.tool_id, match.confidence
        elif adoption.tool_id is None:
            adoption.resolution_confidence = None
            summary.unresolved.append(f"row {row}: tool: '{record['tool']}' is not in the registry")
    written = [
        "declared_name", "declared_vendor", "declared_capability", "seats", "annual_cost",
        "source", "status", "last_seen", "tool", "resolution_confidence",
    ]  # fmt: skip
    bulk.insert(Adoption, new)
    bulk.update(Adoption, changed, written)
    derived.touch({a.factory_id for a in new + changed}, ())  # their spend changed
    touched = {a.tool_id for a in (*new, *changed)} | {b.tool_id for b in before.values()}
    refresh_tool_figures(touched)
    log_adoptions(factory_ids, new, changed, before, now)
    summary.created, summary.updated = len(new), len(changed)
    if detect:
        after_import(set(factory_ids.values()))
    return summary


def log_adoptions(factory_ids: dict, new: list, changed: list, before: dict, now) -> None:
    """One change-log entry per adoption the import created or changed (in one INSERT);
    new rows carry the ids ``coe.bulk.insert`` returned."""
    if not new and not changed:
        return
    names = dict(Factory.objects.filter(pk__in=factory_ids.values()).values_list("pk", "name"))

    def describe(adoption: Adoption) -> str:
        return f"{names.get(adoption.factory_id, adoption.factory_id)}: {adoption.declared_name}"

    log_bulk(Adoption, new, describe=describe)
    log_bulk(Adoption, changed, action="update", before=before, describe=describe)


def after_import(factories: set[int] | None = None) -> None:
    """Detection runs once the import is committed (a Celery task on the cpu queue): for
    an adoption import only the factories it wrote (their overlaps and the portfolio
    fragmentation of the capabilities they use); for a registry import, all findings."""
    from registry.tasks import queue_detection

    queue_detection(factories=factories, record=False)
