"""Computing and writing the rollups (:mod:`kpis.models`) from the landed facts.

:func:`rebuild` recomputes, for a set of factories and optionally only some months, the
``FactoryMonth`` rows (OEE, DORA, finance by currency) and the ``FactoryFigures`` rows
(ROI, spend, findings) with the same formulas the per-request selectors use
(:mod:`kpis.formulas`), writes them through :mod:`coe.bulk`, and deletes the month rows
whose facts are gone. Factories are handled in chunks so a rebuild of a large portfolio
holds one chunk's facts in memory at a time.

Month of a fact: OT counters by ``period_start``, deployments by ``finished_at``,
incidents by ``created``, finance entries by ``date`` — calendar months in UTC. The DORA
keys of month M are those of the production deployments finished in M and the failures
(failed deployments, incidents) in M, a failure's restore being the next success up to
``RESTORE_LOOKAHEAD`` after M's end: a deployment therefore also touches the month before
it (:func:`months_touched_by_deployment`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
from django.db import transaction
from django.utils import timezone

from coe import bulk, derived
from coe.models import Factory
from connectors.facts import Deployment, FinanceEntry, OTCounter, WorkItem
from kpis.formulas import KPIInputError, dora_series, oee_series, period_start
from kpis.models import FactoryFigures, FactoryMonth
from kpis.selectors import (
    COUNTER_COLUMNS,
    DEFAULT_ENVIRONMENT,
    RESTORE_LOOKAHEAD,
    roi_outcomes,
)
from registry.choices import LIVE_FINDING_STATUSES
from registry.detection import after_detection
from registry.models import Adoption, DuplicateFinding
from registry.selectors import effective_cost

CHUNK = 50  # factories per rebuild step

OEE_FIELDS = ["planned_time_s", "run_time_s", "total_count", "good_count"]
OEE_FIELDS += ["availability", "performance", "quality", "oee"]
DORA_FIELDS = [
    "deployments",
    "failed",
    "deployment_frequency_per_day",
    "lead_time_hours_median",
    "change_failure_rate",
    "time_to_restore_hours_median",
    "band",
]
MONTH_FIELDS = [*OEE_FIELDS, "lines", *DORA_FIELDS, "finance", "refreshed_at"]
FIGURE_FIELDS = [
    "currency",
    "invested",
    "benefits",
    "roi_pct",
    "payback_date",
    "payback_months",
    "roi_within_6_months",
    "has_finance",
    "roi_error",
    "finance_totals",
    "annual_spend",
    "active_adoptions",
    "open_findings",
    "at_stake",
    "refreshed_at",
]


def month_of(value: date | datetime) -> date:
    """The first day of the (UTC) calendar month of a date or an aware datetime."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    return value.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_touched_by_deployment(finished_at: datetime) -> set[date]:
    """A deployment's month and the month whose failures it may restore."""
    return {month_of(finished_at), month_of(finished_at - RESTORE_LOOKAHEAD)}


def _at(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def rebuild(factory_ids: Iterable[int] | None = None, months: Iterable[date] | None = None) -> dict:
    """Recompute the rollups of the factories (all when None) for ``months`` (all months
    of their facts when None) and their figures; returns what was written."""
    if factory_ids is None:
        ids = list(Factory.objects.order_by("pk").values_list("pk", flat=True))
    else:
        ids = sorted(set(factory_ids))
    wanted = sorted({month_of(m) for m in months}) if months is not None else None
    counts = {"factories": 0, "months": 0, "deleted": 0}
    for chunk in _chunks(ids, CHUNK):
        written, deleted = _write_months(chunk, wanted) if wanted != [] else (0, 0)
        _write_figures(chunk)
        counts["factories"] += len(chunk)
        counts["months"] += written
        counts["deleted"] += deleted
    return counts


# --- months --------------------------------------------------------------------------------


def _oee_rows(ids: list[int], lo: date | None, hi: date | None) -> dict[tuple, dict]:
    counters = OTCounter.objects.filter(factory_id__in=ids)
    if lo is not None:
        counters = counters.filter(period_start__gte=_at(lo), period_start__lt=_at(hi))
    columns = ["factory_id", *COUNTER_COLUMNS]
    frame = pd.DataFrame.from_records(
        list(counters.order_by().values_list(*columns)), columns=columns
    )
    rows: dict[tuple, dict] = {}
    if frame.empty:
        return rows
    frame["month"] = period_start(frame["period_start"], "month")
    lines = frame.groupby(["factory_id", "month"])["line"].agg(lambda s: sorted(set(s)))
    for factory_id, group in frame.groupby("factory_id"):
        for row in oee_series(group.drop(columns="month"), "month", by_line=False):
            key = (int(factory_id), row["period_start"])
            rows[key] = {k: row[k] for k in OEE_FIELDS}
            rows[key]["lines"] = lines[(factory_id, row["period_start"])]
    return rows


def _dora_rows(ids: list[int], lo: date | None, hi: date | None) -> dict[tuple, dict]:
    deployments = Deployment.objects.filter(factory_id__in=ids, environment=DEFAULT_ENVIRONMENT)
    incidents = WorkItem.objects.filter(factory_id__in=ids, kind="incident")
    if lo is not None:
        deployments = deployments.filter(
            finished_at__gte=_at(lo), finished_at__lt=_at(hi) + RESTORE_LOOKAHEAD
        )
        incidents = incidents.filter(created__gte=_at(lo), created__lt=_at(hi))
    columns = ["factory_id", "status", "finished_at", "commit_created_at", "environment"]
    records = list(deployments.order_by().values_list(*columns))
    records += [  # incidents count as failures of the environment
        (factory_id, "failed", at, None, DEFAULT_ENVIRONMENT)
        for factory_id, at in incidents.order_by().values_list("factory_id", "created")
    ]
    frame = pd.DataFrame.from_records(records, columns=columns)
    rows: dict[tuple, dict] = {}
    if frame.empty:
        return rows
    frame["finished_at"] = pd.to_datetime(frame["finished_at"], utc=True)
    frame["commit_created_at"] = pd.to_datetime(frame["commit_created_at"], utc=True)
    for factory_id, group in frame.groupby("factory_id"):
        # One call for all months: a failure of month M is restored only by a success up to
        # RESTORE_LOOKAHEAD after M's end, as in a frame of M alone.
        for row in dora_series(group, "month", restore_within=RESTORE_LOOKAHEAD):
            if lo is None or lo <= row["period_start"] < hi:
                rows[(int(factory_id), row["period_start"])] = {k: row[k] for k in DORA_FIELDS}
    return rows


def _finance_rows(ids: list[int], lo: date | None, hi: date | None) -> dict[tuple, dict]:
    entries = FinanceEntry.objects.filter(factory_id__in=ids)
    if lo is not None:
        entries = entries.filter(date__gte=lo, date__lt=hi)
    sums: dict[tuple, dict] = defaultdict(lambda: defaultdict(lambda: defaultdict(Decimal)))
    for factory_id, day, kind, amount, currency in entries.order_by().values_list(
        "factory_id", "date", "kind", "amount", "currency"
    ):
        sums[(factory_id, month_of(day))][(currency or "").upper()][kind] += amount
    return {key: {"finance": _as_json(by_currency)} for key, by_currency in sums.items()}


def _as_json(by_currency: dict) -> dict:
    return {
        currency: {kind: str(amount) for kind, amount in sorted(kinds.items())}
        for currency, kinds in sorted(by_currency.items())
    }


def _write_months(ids: list[int], wanted: list[date] | None) -> tuple[int, int]:
    lo, hi = (wanted[0], next_month(wanted[-1])) if wanted else (None, None)
    parts = [_oee_rows(ids, lo, hi), _dora_rows(ids, lo, hi), _finance_rows(ids, lo, hi)]
    keys = set().union(*parts)
    if wanted is not None:
        keys = {k for k in keys if k[1] in set(wanted)}
    now = timezone.now()
    objs = []
    for factory_id, month in sorted(keys):
        values: dict = {"refreshed_at": now}
        for part in parts:
            values.update(part.get((factory_id, month), {}))
        objs.append(FactoryMonth(factory_id=factory_id, month=month, **values))
    bulk.upsert(FactoryMonth, objs, ["factory", "month"], MONTH_FIELDS)
    stored = FactoryMonth.objects.filter(factory_id__in=ids)
    if wanted is not None:
        stored = stored.filter(month__in=wanted)
    stale = [
        pk
        for pk, factory_id, month in stored.values_list("pk", "factory_id", "month")
        if (factory_id, month) not in keys
    ]
    if stale:
        FactoryMonth.objects.filter(pk__in=stale).delete()
    return len(objs), len(stale)


# --- figures -------------------------------------------------------------------------------


def _finance_totals(entries: list[dict]) -> dict:
    totals: dict = defaultdict(lambda: defaultdict(Decimal))
    for row in entries:
        totals[(row["currency"] or "").upper()][row["kind"]] += row["amount"]
    return _as_json(totals)


def _spend(ids: list[int]) -> tuple[dict, dict]:
    spend: dict[int, Decimal] = defaultdict(Decimal)
    active: dict[int, int] = defaultdict(int)
    for factory_id, cost, seats, per_seat in (
        Adoption.objects.filter(factory_id__in=ids, status="active")
        .order_by()
        .values_list("factory_id", "annual_cost", "seats", "tool__annual_cost_per_seat")
    ):
        spend[factory_id] += effective_cost(cost, seats, per_seat)
        active[factory_id] += 1
    return spend, active


def _findings(ids: list[int]) -> dict[int, dict[int, Decimal]]:
    """Live findings each factory takes part in (as scope or among its factories)."""
    live = DuplicateFinding.objects.filter(status__in=LIVE_FINDING_STATUSES).order_by()
    found: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for pk, scope_id, cost in live.filter(scope_id__in=ids).values_list(
        "pk", "scope_id", "annual_cost_at_stake"
    ):
        found[scope_id][pk] = cost or Decimal("0")
    through = DuplicateFinding.factories.through
    for pk, factory_id, cost in (
        through.objects.filter(factory_id__in=ids, duplicatefinding__in=live)
        .order_by()
        .values_list("duplicatefinding_id", "factory_id", "duplicatefinding__annual_cost_at_stake")
    ):
        found[factory_id][pk] = cost or Decimal("0")
    return found


def _write_figures(ids: list[int]) -> None:
    """The figures of ``ids`` written whole. Their findings are read after a running
    detection's shift commits (``after_detection``, held until this transaction ends). A
    writer's own transaction does not wait for the run (it may hold rows the run needs):
    while one runs, the finding figures are left as they are and built again once the
    writer commits."""
    from kpis.selectors import finance_by_factory

    in_writer = transaction.get_connection().in_atomic_block
    with transaction.atomic(savepoint=False):
        factories = list(Factory.objects.filter(pk__in=ids).only("pk", "currency"))
        entries = finance_by_factory(ids)
        outcomes = roi_outcomes(factories, entries)
        spend, active = _spend(ids)
        findings = _findings(ids) if after_detection(wait=not in_writer) else None
        now = timezone.now()
        objs = []
        for factory in factories:
            outcome = outcomes[factory.pk]
            own = (findings or {}).get(factory.pk, {})
            figures = FactoryFigures(
                factory_id=factory.pk,
                currency=factory.currency,
                finance_totals=_finance_totals(entries.get(factory.pk, [])),
                has_finance=bool(entries.get(factory.pk)),
                annual_spend=spend.get(factory.pk, Decimal("0")),
                active_adoptions=active.get(factory.pk, 0),
                open_findings=len(own),
                at_stake=sum(own.values(), Decimal("0")),
                refreshed_at=now,
            )
            if isinstance(outcome, KPIInputError):
                figures.roi_error = str(outcome)[:300]
            else:
                figures.invested = outcome.invested
                figures.benefits = outcome.benefits
                figures.roi_pct = outcome.roi_pct
                figures.payback_date = outcome.payback_date
                figures.payback_months = outcome.payback_months
                figures.roi_within_6_months = outcome.roi_within_6_months
            objs.append(figures)
        if findings is not None:
            bulk.upsert(FactoryFigures, objs, ["factory"], FIGURE_FIELDS)
            return
        kept = [f for f in FIGURE_FIELDS if f not in _FINDING_FIELDS]
        bulk.upsert(FactoryFigures, objs, ["factory"], kept)
        transaction.on_commit(lambda: derived.touch(ids, ()))


# What a detection run moves by difference (the rest of the figures it leaves alone).
_FINDING_FIELDS = ("open_findings", "at_stake")


def today_utc() -> date:
    return datetime.now(UTC).date()


def last_full_month(today: date | None = None) -> date:
    today = today or today_utc()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)
