"""File and push imports of facts: metrics, OT counters, finance entries and devices.

One path serves the commands, the push API and the upload page: rows (from a CSV/XLSX
file, a CSV body or a JSON list) are checked whole — every problem is a
``row N: column: problem`` line and a file with any bad row writes nothing — then
written in bulk inside one transaction. Natural keys make re-imports idempotent: rows
equal to what is stored are counted ``unchanged`` and not written again.

Devices go through the shared ingest step (``connectors.ingest.IngestSession``) under the
factory's push connector (kind ``upload``), so they reconcile with every other source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

from django.db import transaction

from coe import bulk, derived
from coe import tables as table_reader
from coe.changelog import log_summary
from coe.models import Factory
from coe.tables import RowError
from connectors import tables
from connectors.facts import FinanceEntry, FinanceKind, OTCounter
from connectors.models import Connector, MetricSample
from connectors.records import DEVICE_FIELDS, DeviceRecord

FORMATS: dict[str, list[str]] = {
    "metrics": ["factory", "metric", "period_start", "period_end", "value", "unit", "source"],
    "counters": [
        "factory",
        "line",
        "period_start",
        "period_end",
        "planned_time_s",
        "run_time_s",
        "ideal_cycle_time_s",
        "total_count",
        "good_count",
    ],
    "finance": ["factory", "date", "kind", "category", "amount", "currency", "description"],
    "devices": ["factory", *DEVICE_FIELDS],
}
# Columns a row may leave out (or leave empty).
OPTIONAL = {
    "metrics": {"unit", "source"},
    "counters": set(),
    "finance": {"category", "currency", "description"},
    "devices": {
        "source_id",
        "serial_number",
        "mac",
        "manufacturer",
        "model",
        "firmware",
        "hardware_revision",
        "name",
    },
}
UPLOAD_CONNECTOR_NAME = "Uploads"


class ImportRejected(Exception):
    """The rows have problems; nothing was written. ``errors`` holds one line per problem."""

    def __init__(self, errors: list[RowError | str]):
        self.errors = [str(e) for e in errors]
        super().__init__(f"{len(self.errors)} problem(s); nothing imported")


@dataclass
class ImportResult:
    """What an import did."""

    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    factories: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "factories": self.factories,
        }


# --- checking -----------------------------------------------------------------------------


def _factory_resolver(
    rows: list[tuple[int, dict]], default: Factory | None, allowed: set[int] | None
) -> Callable[[object], Factory]:
    slugs = {str(r.get("factory") or "").strip() for _, r in rows} - {""}
    known = {f.slug: f for f in Factory.objects.filter(slug__in=slugs)}

    def resolve(value) -> Factory:
        slug = str(value or "").strip()
        if not slug:
            if default is None:
                raise ValueError("required (or give ?factory=)")
            factory = default
        else:
            factory = known.get(slug)
        # A factory the user may not push for looks the same as an unknown one.
        if factory is None or (allowed is not None and factory.pk not in allowed):
            raise ValueError(f"unknown factory {slug!r}" if slug else "not one of your factories")
        return factory

    return resolve


def _check_rows(
    kind: str,
    rows: list[tuple[int, dict]],
    *,
    default_factory: Factory | None,
    allowed: set[int] | None,
) -> list[tuple[int, dict]]:
    """The parsed rows of a ``kind`` table; ImportRejected listing every problem."""
    if kind not in FORMATS:
        raise ValueError(f"unknown import kind {kind!r}")
    required = [c for c in FORMATS[kind] if c not in OPTIONAL[kind]]
    if default_factory is not None:
        required = [c for c in required if c != "factory"]
    missing = table_reader.require_columns(rows, required)
    if missing:
        raise ImportRejected([f"row 1: {c}: missing column" for c in missing])
    resolve = _factory_resolver(rows, default_factory, allowed)
    parsers = _parsers(kind, resolve)
    errors: list[RowError] = []
    parsed: list[tuple[int, dict]] = []
    keys: dict[tuple, int] = {}
    for number, raw in rows:
        values: dict = {}
        row_errors = []
        for column, parse in parsers.items():
            try:
                values[column] = parse(raw.get(column))
            except ValueError as exc:
                row_errors.append(RowError(number, column, str(exc)))
        if not row_errors:
            row_errors = _cross_check(kind, number, values)
        if not row_errors:
            key = _key(kind, values)
            if key in keys:
                row_errors = [RowError(number, _key_column(kind), f"duplicate of row {keys[key]}")]
            keys[key] = number
        errors.extend(row_errors)
        if not row_errors:
            parsed.append((number, values))
    if errors:
        raise ImportRejected(errors)
    return parsed


def _parsers(kind: str, resolve: Callable) -> dict[str, Callable]:
    if kind == "metrics":
        return {
            "factory": resolve,
            "metric": lambda v: tables.text(v, 120, required=True),
            "period_start": tables.moment,
            "period_end": tables.moment,
            "value": lambda v: tables.number(v, minimum=float("-inf")),
            "unit": lambda v: tables.text(v, 40),
            "source": lambda v: tables.text(v, 40) or "upload",
        }
    if kind == "counters":
        return {
            "factory": resolve,
            "line": lambda v: tables.text(v, 120, required=True),
            "period_start": tables.moment,
            "period_end": tables.moment,
            "planned_time_s": tables.number,
            "run_time_s": tables.number,
            "ideal_cycle_time_s": tables.number,
            "total_count": tables.count,
            "good_count": tables.count,
        }
    if kind == "finance":
        return {
            "factory": resolve,
            "date": tables.day,
            "kind": tables.choice(tuple(FinanceKind.values)),
            "category": lambda v: tables.text(v, 120),
            "amount": tables.money,
            "currency": tables.currency,
            "description": lambda v: tables.text(v, 300),
        }
    return {
        "factory": resolve,
        "source_id": lambda v: tables.text(v, 300),
        "serial_number": lambda v: tables.text(v, 120),
        "mac": lambda v: tables.text(v, 40),
        "manufacturer": lambda v: tables.text(v, 200),
        "model": lambda v: tables.text(v, 200),
        "firmware": lambda v: tables.text(v, 120),
        "hardware_revision": lambda v: tables.text(v, 120),
        "name": lambda v: tables.text(v, 200),
    }


def _cross_check(kind: str, number: int, v: dict) -> list[RowError]:
    errors = []
    if kind in ("metrics", "counters") and v["period_end"] <= v["period_start"]:
        errors.append(RowError(number, "period_end", "must be after period_start"))
    if kind == "counters":
        if v["run_time_s"] > v["planned_time_s"]:
            errors.append(RowError(number, "run_time_s", "exceeds planned_time_s"))
        if v["good_count"] > v["total_count"]:
            errors.append(RowError(number, "good_count", "exceeds total_count"))
    if kind == "finance" and not v["currency"]:
        v["currency"] = v["factory"].currency
    if kind == "devices":
        if not v["source_id"]:
            v["source_id"] = v["serial_number"] or v["mac"]
        if not v["source_id"]:
            errors.append(RowError(number, "source_id", "give source_id, serial_number or mac"))
    return errors


def _key(kind: str, v: dict) -> tuple:
    factory_id = v["factory"].pk
    if kind == "metrics":
        return (factory_id, v["metric"], v["period_start"], v["source"])
    if kind == "counters":
        return (factory_id, v["line"], v["period_start"])
    if kind == "finance":
        return (factory_id, v["date"], v["kind"], v["category"], v["description"])
    return (factory_id, v["source_id"])


def _key_column(kind: str) -> str:
    return {"metrics": "period_start", "counters": "period_start", "finance": "description"}.get(
        kind, "source_id"
    )


# --- writing ------------------------------------------------------------------------------

COUNTER_FIELDS = [
    "period_end",
    "planned_time_s",
    "run_time_s",
    "ideal_cycle_time_s",
    "total_count",
    "good_count",
    "source",
]
FINANCE_FIELDS = ["amount", "currency", "source"]
METRIC_FIELDS = ["period_end", "value", "unit"]


def _split(
    model, rows: list[dict], key_fields: list[str], value_fields: list[str], existing: Iterable
) -> tuple[list[dict], list[dict], int]:
    """(new rows, changed rows, unchanged count) against the stored rows' values."""
    stored = {tuple(row[k] for k in key_fields): row for row in existing}
    new, changed, unchanged = [], [], 0
    for row in rows:
        current = stored.get(tuple(row[k] for k in key_fields))
        if current is None:
            new.append(row)
        elif any(current[f] != row[f] for f in value_fields):
            changed.append(row)
        else:
            unchanged += 1
    return new, changed, unchanged


def _upsert(model, rows: list[dict], unique: list[str], update: list[str]) -> list[int]:
    """``INSERT … ON CONFLICT (natural key) DO UPDATE`` of ``rows`` (dicts of attnames;
    columns they leave out get their defaults) through the project's bulk-write module;
    the ids written, in order."""
    names = {f.name for f in model._meta.concrete_fields}
    refresh = [*update, *(["updated_at"] if "updated_at" in names else [])]
    return bulk.upsert(model, [model(**row) for row in rows], unique, refresh)


def _write_counters(rows: list[dict], source: str, result: ImportResult) -> None:
    clean = [
        {
            "factory_id": r["factory"].pk,
            **{k: r[k] for k in ("line", "period_start", *COUNTER_FIELDS[:-1])},
            "source": source,
        }
        for r in rows
    ]
    key = ["factory_id", "line", "period_start"]
    existing = OTCounter.objects.filter(
        factory_id__in={r["factory_id"] for r in clean},
        period_start__gte=min(r["period_start"] for r in clean),
        period_start__lte=max(r["period_start"] for r in clean),
        line__in={r["line"] for r in clean},
    ).values(*key, *COUNTER_FIELDS)
    new, changed, result.unchanged = _split(OTCounter, clean, key, COUNTER_FIELDS[:-1], existing)
    _upsert(OTCounter, new + changed, ["factory", "period_start", "line"], COUNTER_FIELDS)
    result.created, result.updated = len(new), len(changed)


def _write_finance(rows: list[dict], source: str, result: ImportResult) -> None:
    key = ["factory_id", "date", "kind", "category", "description"]
    clean = [
        {
            "factory_id": r["factory"].pk,
            **{k: r[k] for k in key[1:]},
            "amount": r["amount"],
            "currency": r["currency"],
            "source": source,
        }
        for r in rows
    ]
    existing = FinanceEntry.objects.filter(
        factory_id__in={r["factory_id"] for r in clean},
        date__gte=min(r["date"] for r in clean),
        date__lte=max(r["date"] for r in clean),
    ).values(*key, *FINANCE_FIELDS)
    new, changed, result.unchanged = _split(
        FinanceEntry, clean, key, ["amount", "currency"], existing
    )
    _upsert(FinanceEntry, new + changed, ["factory", *key[1:]], FINANCE_FIELDS)
    result.created, result.updated = len(new), len(changed)


def _write_metrics(rows: list[dict], result: ImportResult) -> None:
    key = ["factory_id", "metric", "period_start", "series", "source"]
    clean = [
        {
            "factory_id": r["factory"].pk,
            "metric": r["metric"],
            "series": "",
            "period_start": r["period_start"],
            "period_end": r["period_end"],
            "value": r["value"],
            "unit": r["unit"],
            "source": r["source"],
        }
        for r in rows
    ]
    existing = MetricSample.objects.filter(
        factory_id__in={r["factory_id"] for r in clean},
        metric__in={r["metric"] for r in clean},
        period_start__gte=min(r["period_start"] for r in clean),
        period_start__lte=max(r["period_start"] for r in clean),
        series="",
    ).values(*key, *METRIC_FIELDS)
    new, changed, result.unchanged = _split(MetricSample, clean, key, METRIC_FIELDS, existing)
    _upsert(MetricSample, new + changed, ["factory", *key[1:]], METRIC_FIELDS)
    result.created, result.updated = len(new), len(changed)


def upload_connector(factory: Factory) -> Connector:
    """The factory's push connector (kind ``upload``): the source of pushed devices."""
    connector = Connector.objects.filter(factory=factory, kind="upload").order_by("pk").first()
    if connector is not None:
        return connector
    name = UPLOAD_CONNECTOR_NAME
    if Connector.objects.filter(factory=factory, name=name).exists():
        name = f"{UPLOAD_CONNECTOR_NAME} (push)"
    return Connector.objects.create(factory=factory, name=name, kind="upload", settings={})


def _write_devices(rows: list[dict], result: ImportResult) -> None:
    from connectors.ingest import IngestSession

    by_factory: dict[int, list[dict]] = {}
    for row in rows:
        by_factory.setdefault(row["factory"].pk, []).append(row)
    for factory_rows in by_factory.values():
        session = IngestSession(connector=upload_connector(factory_rows[0]["factory"]))
        for r in factory_rows:
            session.add(
                DeviceRecord(
                    source_id=r["source_id"],
                    serial_number=r["serial_number"],
                    mac=r["mac"],
                    manufacturer=r["manufacturer"],
                    model=r["model"],
                    firmware=r["firmware"],
                    hardware_revision=r["hardware_revision"],
                    name=r["name"],
                )
            )
        session.flush()
        if session.errors:
            raise ImportRejected([f"{e['source_id']}: {e['message']}" for e in session.errors])
        result.created += session.counts["created"]
        result.updated += session.counts["updated"]
        result.unchanged += session.counts["unchanged"]


@transaction.atomic
def facts_import(
    *,
    kind: str,
    rows: list[tuple[int, dict]],
    default_factory: Factory | None = None,
    allowed_factory_ids: set[int] | None = None,
    source: str = "upload",
    file_name: str = "",
) -> ImportResult:
    """Check and land ``rows`` of a ``kind`` table (metrics, counters, finance, devices).

    ``allowed_factory_ids`` limits the factories rows may name (None = any: CoE staff and
    commands). Raises ImportRejected (nothing written) when any row is bad. An import that
    wrote rows leaves one change-log entry with ``file_name`` and its counts.
    """
    parsed = _check_rows(kind, rows, default_factory=default_factory, allowed=allowed_factory_ids)
    result = ImportResult(kind=kind, rows=len(parsed))
    values = [v for _, v in parsed]
    result.factories = sorted({v["factory"].slug for v in values})
    if not values:
        return result
    if kind == "counters":
        _write_counters(values, source, result)
        if result.created or result.updated:
            derived.touch({v["factory"].pk for v in values}, {v["period_start"] for v in values})
    elif kind == "finance":
        _write_finance(values, source, result)
        if result.created or result.updated:
            # A corrected entry keeps its date (its key): only the rows' months change.
            derived.touch({v["factory"].pk for v in values}, {v["date"] for v in values})
    elif kind == "metrics":
        _write_metrics(values, result)
    else:
        _write_devices(values, result)
    log_import(result, file_name or source)
    return result


def log_import(result: ImportResult, name: str) -> None:
    """One change-log entry for the fact rows an import wrote (none when it wrote none)."""
    if not result.created and not result.updated:
        return
    from connectors.models import Device

    model = {"metrics": MetricSample, "counters": OTCounter, "finance": FinanceEntry}.get(
        result.kind, Device
    )
    log_summary(
        model,
        text=(
            f"Import of {result.kind} from {name}: {result.created} created, "
            f"{result.updated} updated, {result.unchanged} unchanged"
        ),
        summary={"file": name, **result.as_dict()},
        action="create" if result.created else "update",
    )


def facts_import_file(
    *,
    kind: str,
    data: bytes | IO[bytes],
    name: str = "",
    default_factory: Factory | None = None,
    allowed_factory_ids: set[int] | None = None,
    source: str = "upload",
) -> ImportResult:
    """``facts_import`` of a CSV/XLSX file (bytes or a binary file object, read streaming).

    ImportRejected when unreadable or bad; :class:`coe.tables.TableTooLarge` when the file
    goes over a reading limit.
    """
    try:
        rows = table_reader.read_table(data, name)
    except table_reader.TableTooLarge:
        raise
    except table_reader.TableError as exc:
        raise ImportRejected([f"row 1: file: {exc}"]) from exc
    return facts_import(
        kind=kind,
        rows=rows,
        default_factory=default_factory,
        allowed_factory_ids=allowed_factory_ids,
        source=source,
        file_name=name,
    )
