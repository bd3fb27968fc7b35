"""Reads behind the KPI and ROI answers: bounded frames per factory and range.

Each selector loads only one factory's rows in the asked range with ``.values()`` into a
pandas frame, and hands it to the pure formulas of :mod:`kpis.formulas`. Nothing is
computed row by row in Python over whole tables.

Money: ROI is reported in ``Factory.currency``. A finance entry in another currency is
converted with the :class:`~connectors.facts.CurrencyRate` from its currency to the
factory's (kept by CoE staff in the admin); without one the ROI is an explicit error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
from django.db.models import CharField, DateTimeField, QuerySet, Value

from coe.models import Factory
from coe.validation import in_range
from connectors.facts import CurrencyRate, Deployment, FinanceEntry, OTCounter, WorkItem
from kpis.formulas import PERIODS, KPIInputError, ROIResult, dora_series, oee_series, roi

# Default look-back per period, and the longest range one request may ask for.
DEFAULT_SPAN = {
    "day": timedelta(days=30),
    "week": timedelta(weeks=26),
    "month": timedelta(days=365),
}
MAX_SPAN = {
    "day": timedelta(days=366),
    "week": timedelta(days=3 * 366),
    "month": timedelta(days=10 * 366),
}
# A failure near the end of the range is restored by a deployment after it: look this far on.
RESTORE_LOOKAHEAD = timedelta(days=30)
DEFAULT_ENVIRONMENT = "production"


@dataclass(frozen=True)
class KPIRange:
    """A period size and a date range ``[start, end)`` (``end`` exclusive)."""

    period: str
    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time.min, tzinfo=UTC)


def kpi_range(
    period: str | None = None, start: str | None = None, end: str | None = None, today=None
) -> KPIRange:
    """The range of a request: ``period`` (default month), ``from`` and ``to`` (inclusive,
    ISO dates; default the period's usual look-back up to today). ValueError when invalid."""
    period = period or "month"
    if period not in PERIODS:
        raise ValueError(f"period: one of {', '.join(PERIODS)}")
    today = today or datetime.now(UTC).date()
    try:
        last = date.fromisoformat(end) if end else today
        in_range(last)
        first = date.fromisoformat(start) if start else last - DEFAULT_SPAN[period]
        in_range(first)
    except ValueError as exc:
        raise ValueError(f"from/to: ISO dates (YYYY-MM-DD): {exc}") from None
    if first > last:
        raise ValueError("from: after to")
    if last - first > MAX_SPAN[period]:
        raise ValueError(f"to: at most {MAX_SPAN[period].days} days per {period} request")
    return KPIRange(period=period, start=first, end=last + timedelta(days=1))


def _iso(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["period_start"] = row["period_start"].isoformat()
    return rows


# --- OEE ----------------------------------------------------------------------------------

COUNTER_COLUMNS = [
    "line",
    "period_start",
    "planned_time_s",
    "run_time_s",
    "ideal_cycle_time_s",
    "total_count",
    "good_count",
]


def counters_frame(factory_id: int, rng: KPIRange) -> pd.DataFrame:
    """The factory's OT counters starting in the range, one row per line and shift."""
    rows = OTCounter.objects.filter(
        factory_id=factory_id, period_start__gte=rng.start_at, period_start__lt=rng.end_at
    ).values_list(*COUNTER_COLUMNS)
    return pd.DataFrame.from_records(list(rows), columns=COUNTER_COLUMNS)


def oee_for_factory(factory: Factory, rng: KPIRange) -> list[dict]:
    """OEE per period, per line and for the whole factory (``line`` None), with inputs."""
    return _iso(oee_series(counters_frame(factory.pk, rng), rng.period))


# --- DORA ---------------------------------------------------------------------------------

DORA_KEYS = [
    "period_start",
    "deployments",
    "deployment_frequency_per_day",
    "lead_time_hours_median",
    "change_failure_rate",
    "time_to_restore_hours_median",
    "band",
]


def deployments_frame(factory_id: int, rng: KPIRange, environment: str) -> pd.DataFrame:
    """Deployments of one environment finished in the range (plus a look-ahead for restores),
    with the factory's incidents in the range as failures of that environment."""
    columns = ["status", "finished_at", "commit_created_at", "environment"]
    deployments = Deployment.objects.filter(
        factory_id=factory_id,
        environment=environment,
        finished_at__gte=rng.start_at,
        finished_at__lt=rng.end_at + RESTORE_LOOKAHEAD,
    ).values_list(*columns)
    incidents = WorkItem.objects.filter(
        factory_id=factory_id,
        kind="incident",
        created__gte=rng.start_at,
        created__lt=rng.end_at,
    ).values_list("created", flat=True)
    records = list(deployments) + [("failed", at, None, environment) for at in incidents]
    return pd.DataFrame.from_records(records, columns=columns)


def dora_for_factory(
    factory: Factory, rng: KPIRange, environment: str = DEFAULT_ENVIRONMENT
) -> list[dict]:
    """The four DORA metrics and the band per period (periods with deployments or failures)."""
    rows = dora_series(deployments_frame(factory.pk, rng, environment), rng.period)
    last = rng.end - timedelta(days=1)
    return _iso([{k: row[k] for k in DORA_KEYS} for row in rows if row["period_start"] <= last])


def kpis_for_factory(
    factory: Factory, rng: KPIRange, environment: str = DEFAULT_ENVIRONMENT
) -> dict:
    """The ``/api/factories/{slug}/kpis/`` answer: OEE and DORA series of the range."""
    return {
        "factory": factory.slug,
        "period": rng.period,
        "oee": oee_for_factory(factory, rng),
        "dora": dora_for_factory(factory, rng, environment),
    }


# --- flow (Jira / GitLab issues) ----------------------------------------------------------


def flow_for_factory(factory: Factory, rng: KPIRange) -> list[dict]:
    """Throughput (issues resolved) and median cycle time (hours) per period and team."""
    rows = WorkItem.objects.filter(
        factory_id=factory.pk,
        kind="issue",
        resolved__gte=rng.start_at,
        resolved__lt=rng.end_at,
    ).values_list("team", "created", "resolved")
    frame = pd.DataFrame.from_records(list(rows), columns=["team", "created", "resolved"])
    if frame.empty:
        return []
    from kpis.formulas import period_start

    frame["bucket"] = period_start(frame["resolved"], rng.period)
    frame["cycle_h"] = (
        pd.to_datetime(frame["resolved"], utc=True) - pd.to_datetime(frame["created"], utc=True)
    ).dt.total_seconds() / 3600
    grouped = frame.groupby(["bucket", "team"], sort=True)["cycle_h"].agg(["count", "median"])
    return [
        {
            "period_start": bucket.isoformat(),
            "team": team,
            "throughput": int(values["count"]),
            "cycle_time_hours_median": round(float(values["median"]), 2),
        }
        for (bucket, team), values in grouped.iterrows()
    ]


# --- ROI ----------------------------------------------------------------------------------


def rates_to(currencies: set[str]) -> dict[str, dict[str, Decimal]]:
    """``{to currency: {from currency: rate}}`` for the given target currencies."""
    table: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for source, target, rate in CurrencyRate.objects.filter(to_currency__in=currencies).values_list(
        "from_currency", "to_currency", "rate"
    ):
        table[target][source] = rate
    return table


def roi_for_factory(factory: Factory) -> ROIResult:
    """The factory's ROI from all its finance entries (KPIInputError when a rate is missing)."""
    entries = list(
        FinanceEntry.objects.filter(factory_id=factory.pk).values(
            "date", "kind", "amount", "currency"
        )
    )
    return roi(entries, factory.currency, rates_to({factory.currency}).get(factory.currency, {}))


def finance_by_factory(factory_ids: list[int]) -> dict[int, list[dict]]:
    """All finance entries of the factories, per factory id (one query)."""
    entries: dict[int, list[dict]] = defaultdict(list)
    for row in FinanceEntry.objects.filter(factory_id__in=factory_ids).values(
        "factory_id", "date", "kind", "amount", "currency"
    ):
        entries[row["factory_id"]].append(row)
    return entries


def roi_outcomes(
    factories: list[Factory], entries: dict[int, list[dict]]
) -> dict[int, ROIResult | KPIInputError]:
    """Each factory's ROI of its ``entries``, or the error that prevents it (a missing
    rate); the rates are read only where an entry is in another currency (one query)."""
    foreign = {
        f.currency
        for f in factories
        if any((row["currency"] or f.currency).upper() != f.currency for row in entries[f.pk])
    }
    rates = rates_to(foreign) if foreign else {}
    results: dict[int, ROIResult | KPIInputError] = {}
    for factory in factories:
        try:
            results[factory.pk] = roi(
                entries.get(factory.pk, []), factory.currency, rates.get(factory.currency, {})
            )
        except KPIInputError as exc:
            results[factory.pk] = exc
    return results


def roi_by_factory(factories: QuerySet[Factory] | list[Factory]) -> dict[int, ROIResult | None]:
    """ROI per factory (None where a conversion rate is missing), computed from the raw
    finance entries in one query (two when an entry is in another currency than its
    factory's). Pages read the rollups instead (:mod:`kpis.reads`)."""
    factories = list(factories)
    entries = finance_by_factory([f.pk for f in factories])
    return {
        pk: (None if isinstance(result, KPIInputError) else result)
        for pk, result in roi_outcomes(factories, entries).items()
    }


def payback_share(factories: QuerySet[Factory] | list[Factory]) -> dict:
    """Share of the factories with an investment that paid back within six months.

    ``{"factories": with an investment, "within_6_months": how many paid back in ≤ 6
    months, "paid_back": how many paid back at all, "share": within / factories or None}``.
    """
    return payback_summary(roi_by_factory(factories).values())


def payback_summary(results: Iterable[ROIResult | None]) -> dict:
    """:func:`payback_share` of ROI results already computed (e.g. by :func:`roi_by_factory`)."""
    results = [r for r in results if r is not None and r.invested]
    within = sum(1 for r in results if r.roi_within_6_months)
    return {
        "factories": len(results),
        "within_6_months": within,
        "paid_back": sum(1 for r in results if r.payback_date is not None),
        "share": round(within / len(results), 4) if results else None,
    }


def latest_kpis_by_factory(factories: QuerySet[Factory] | list[Factory], today=None) -> dict:
    """Per factory id, the last full month's whole-factory OEE and DORA band (portfolio
    columns), in two queries whatever the number of factories."""
    today = today or datetime.now(UTC).date()
    month_end = today.replace(day=1)
    month_start = (month_end - timedelta(days=1)).replace(day=1)
    rng = KPIRange(period="month", start=month_start, end=month_end)
    ids = [f.pk for f in factories]
    counters = pd.DataFrame.from_records(
        list(
            OTCounter.objects.filter(
                factory_id__in=ids, period_start__gte=rng.start_at, period_start__lt=rng.end_at
            ).values_list("factory_id", *COUNTER_COLUMNS)
        ),
        columns=["factory_id", *COUNTER_COLUMNS],
    )
    columns = ["factory_id", "status", "finished_at", "commit_created_at", "environment"]
    deployments = (
        Deployment.objects.filter(
            factory_id__in=ids,
            environment=DEFAULT_ENVIRONMENT,
            finished_at__gte=rng.start_at,
            finished_at__lt=rng.end_at + RESTORE_LOOKAHEAD,
        )
        .order_by()
        .values_list(*columns)
    )
    # Incidents count as failures of the environment: the same columns, one UNION ALL query.
    incidents = (
        WorkItem.objects.filter(
            factory_id__in=ids, kind="incident", created__gte=rng.start_at, created__lt=rng.end_at
        )
        .order_by()
        .annotate(
            as_status=Value("failed", output_field=CharField()),
            no_commit=Value(None, output_field=DateTimeField()),
            as_environment=Value(DEFAULT_ENVIRONMENT, output_field=CharField()),
        )
        .values_list("factory_id", "as_status", "created", "no_commit", "as_environment")
    )
    frame = pd.DataFrame.from_records(list(deployments.union(incidents, all=True)), columns=columns)
    summary = {pk: {"oee": None, "dora_band": None, "month": month_start.isoformat()} for pk in ids}
    for factory_id, group in counters.groupby("factory_id"):
        whole = [r for r in oee_series(group, "month", by_line=False) if r["line"] is None]
        summary[factory_id]["oee"] = whole[0]["oee"] if whole else None
    for factory_id, group in frame.groupby("factory_id"):
        rows = [r for r in dora_series(group, "month") if r["period_start"] == month_start]
        summary[factory_id]["dora_band"] = rows[0]["band"] if rows else None
    return summary
