"""Portfolio ROI: the factories' finance pooled into one currency, by business unit, with
the share paid back within six months set against the survey benchmark (docs/kpis.md).

No second ROI formula: the totals of a group are :func:`kpis.formulas.roi` of the
group's finance totals by currency (the factories' rollup figures) converted into
``PORTFOLIO_CURRENCY``, and the payback figures come from each factory's own ROI (its
rollup figures, in its currency). Sums, counts and medians are taken in SQL: a fixed
number of queries and rows read whatever the number of factories.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Aggregate, Avg, Count, FloatField, Max, Min, Q, QuerySet

from coe.models import Factory
from kpis.formulas import KPIInputError, roi
from kpis.models import FactoryFigures
from kpis.selectors import rates_to

# The seed's survey figure: the share of organisations expecting ROI within six months.
SURVEY_BENCHMARK = {
    "share": 0.27,
    "previous_year_share": 0.42,
    "year": 2026,
    "source": (
        "Industry survey quoted in the CoE seed: 27 % of organisations expected ROI from "
        "their digital investment within six months in 2026, 42 % the year before"
    ),
}


# Totals carry no month: the pooled ROI uses only the sums, never the series.
TOTAL_DATE = date(2000, 1, 1)

# The factories' finance totals by business unit and currency ('' is the factory's own),
# summed over the JSON of their rollup figures ({currency: {kind: amount}}). One set-
# returning function per row, not two: the planner's estimate of two nested ones (100 ×
# 100 rows a factory) made PostgreSQL JIT-compile the query, ~0.9 s for 1,000 factories.
_TOTALS_SQL = {
    "postgresql": (
        "SELECT f.business_unit, COALESCE(NULLIF(c.key, ''), f.currency), "
        "SUM(COALESCE((c.value ->> 'investment')::numeric, 0)), "
        "SUM(COALESCE((c.value ->> 'benefit')::numeric, 0)) "
        "FROM {figures} ff JOIN {factory} f ON f.id = ff.factory_id "
        "CROSS JOIN LATERAL jsonb_each(ff.finance_totals) c "
        "WHERE ff.factory_id IN ({ids}) {skip} GROUP BY 1, 2"
    ),
    "sqlite": (
        "SELECT f.business_unit, COALESCE(NULLIF(c.key, ''), f.currency), "
        "SUM(COALESCE(CAST(json_extract(c.value, '$.investment') AS TEXT), 0)), "
        "SUM(COALESCE(CAST(json_extract(c.value, '$.benefit') AS TEXT), 0)) "
        "FROM {figures} ff JOIN {factory} f ON f.id = ff.factory_id, "
        "json_each(ff.finance_totals) c "
        "WHERE ff.factory_id IN ({ids}) {skip} GROUP BY 1, 2"
    ),
}
# Factories with an entry in a currency outside ``%s`` (the convertible ones).
_FOREIGN_SQL = {
    "postgresql": (
        "SELECT DISTINCT ff.factory_id FROM {figures} ff JOIN {factory} f ON f.id = "
        "ff.factory_id CROSS JOIN LATERAL jsonb_each(ff.finance_totals) c "
        "WHERE ff.factory_id IN ({ids}) AND NOT (UPPER(COALESCE(NULLIF(c.key, ''), "
        "f.currency)) = ANY(%s))"
    ),
    "sqlite": (
        "SELECT DISTINCT ff.factory_id FROM {figures} ff JOIN {factory} f ON f.id = "
        "ff.factory_id, json_each(ff.finance_totals) c WHERE ff.factory_id IN ({ids}) "
        "AND UPPER(COALESCE(NULLIF(c.key, ''), f.currency)) NOT IN (SELECT value FROM "
        "json_each(%s))"
    ),
}


def _money(value) -> str:
    return f"{value:.2f}"


class _Median(Aggregate):
    """The median (``percentile_cont(0.5)``) of a group, on PostgreSQL."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _number(value):
    """A median as ``statistics.median`` gives it: an int when the middle is one row."""
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else value


def _payback_stats(factories: QuerySet[Factory]) -> dict[str | None, dict]:
    """Per business unit (and None: all), the payback figures of the factories with an
    investment and a ROI in their own currency: median, mean, min and max months of those
    that paid back, how many have not yet, and the share paid back within six months."""
    own = (
        FactoryFigures.objects.filter(factory__in=factories.values("pk"), roi_error="")
        .exclude(invested=0)
        .order_by()
    )
    paid = Q(payback_months__isnull=False)
    numbers = {
        "n": Count("id"),
        "paid": Count("id", filter=paid),
        "within": Count("id", filter=Q(roi_within_6_months=True)),
        "mean": Avg("payback_months", filter=paid),
        "low": Min("payback_months", filter=paid),
        "high": Max("payback_months", filter=paid),
    }
    postgres = connection.vendor == "postgresql"
    if postgres:
        numbers["median"] = _Median("payback_months", filter=paid)
        rows = _by_unit_and_all(own.values("factory__business_unit").annotate(**numbers))
    else:
        rows = {
            row["factory__business_unit"]: row
            for row in own.values("factory__business_unit").annotate(**numbers)
        }
        rows[None] = own.aggregate(**numbers)
    if not postgres:  # SQLite: the months of the paid-back factories, sorted, per unit
        months: dict[str | None, list[int]] = defaultdict(list)
        for unit, value in (
            own.filter(paid)
            .values_list("factory__business_unit", "payback_months")
            .order_by("payback_months")
        ):
            months[unit].append(value)
            months[None].append(value)
        for unit, row in rows.items():
            values = sorted(months.get(unit, []))
            row["median"] = statistics.median(values) if values else None
    return {unit: _payback_of(row) for unit, row in rows.items()}


def _by_unit_and_all(grouped: QuerySet) -> dict[str | None, dict]:
    """The rows of ``grouped`` (one per business unit) and their total (None), in one
    scan: PostgreSQL's ``GROUP BY ROLLUP``. A business unit is never NULL, so the row
    whose unit is NULL is the total."""
    try:
        sql, params = grouped.query.sql_with_params()
    except EmptyResultSet:  # a user of no factory
        return {None: dict(NO_PAYBACK)}
    head, sep, keys = sql.rpartition(" GROUP BY ")
    if not sep or " ORDER BY " in keys or " HAVING " in keys:
        raise ValueError(f"unexpected grouping: {sql}")
    with connection.cursor() as cursor:
        cursor.execute(f"{head} GROUP BY ROLLUP ({keys})", params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    out = {row["factory__business_unit"]: row for row in rows}
    if None not in out:  # no factory at all: the aggregate of nothing
        out[None] = dict(NO_PAYBACK)
    return out


NO_PAYBACK = {"n": 0, "paid": 0, "within": 0, "mean": None, "low": None, "high": None}


def _payback_of(row: dict) -> dict:
    """The payback figures of a group from its SQL counts (``NO_PAYBACK``: none)."""
    n, within = row["n"], row["within"]
    share = round(within / n, 4) if n else None
    return {
        "payback_months": {
            "median": _number(row.get("median")),
            "mean": round(float(row["mean"]), 2) if row["mean"] is not None else None,
            "min": row["low"],
            "max": row["high"],
            "paid_back": row["paid"],
            "not_yet": n - row["paid"],
        },
        "paid_back_within_6_months": {
            "count": within,
            "of": n,
            "share": share,
            "vs_benchmark": (
                round(share - SURVEY_BENCHMARK["share"], 4) if share is not None else None
            ),
        },
    }


def _ids_sql(factories: QuerySet[Factory]) -> tuple[str, tuple]:
    """The SQL selecting the ids of ``factories`` (a user of no factory: none)."""
    try:
        return factories.values("pk").query.sql_with_params()
    except EmptyResultSet:
        return "SELECT 0 WHERE 1 = 0", ()


def _sql(template: str, ids_sql: str, skip: str = "") -> str:
    return template.format(
        figures=FactoryFigures._meta.db_table,
        factory=Factory._meta.db_table,
        ids=ids_sql,
        skip=skip,
    )


def _excluded(factories: QuerySet[Factory], currency: str, rates: dict) -> tuple[list, list]:
    """The factories with a finance entry in a currency that has no rate into ``currency``
    (named with the reason :func:`kpis.formulas.roi` gives) and their ids, in one query
    plus one for their rows."""
    ids_sql, ids_params = _ids_sql(factories)
    known = sorted({currency, *rates})
    vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    param = known if vendor == "postgresql" else json.dumps(known)
    with connection.cursor() as cursor:
        cursor.execute(_sql(_FOREIGN_SQL[vendor], ids_sql), [*ids_params, param])
        ids = [row[0] for row in cursor.fetchall()]
    excluded, excluded_ids = [], []
    if not ids:
        return excluded, excluded_ids
    rows = FactoryFigures.objects.filter(factory_id__in=ids).select_related("factory")
    for row in rows.order_by("factory__business_unit", "factory__name", "factory_id"):
        entries = [
            {
                "date": TOTAL_DATE,
                "kind": kind,
                "amount": amount,
                "currency": c or row.factory.currency,
            }
            for c, kinds in row.finance_totals.items()
            for kind, amount in kinds.items()
        ]
        try:
            roi(entries, currency, rates)
        except KPIInputError as exc:
            # Totals carry no entry date: the reason names the currencies only.
            excluded.append(
                {"factory": row.factory.slug, "reason": str(exc).split(" (entry of", 1)[0]}
            )
            excluded_ids.append(row.factory_id)
    return excluded, excluded_ids


def _pooled(factories: QuerySet[Factory], skip: list[int]) -> dict[str, list[dict]]:
    """Per business unit, the finance totals of its factories by currency and kind (the
    excluded factories ``skip`` left out), as entries for :func:`kpis.formulas.roi`."""
    ids_sql, ids_params = _ids_sql(factories)
    vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    skip_sql = f"AND ff.factory_id NOT IN ({', '.join(['%s'] * len(skip))})" if skip else ""
    with connection.cursor() as cursor:
        cursor.execute(_sql(_TOTALS_SQL[vendor], ids_sql, skip_sql), [*ids_params, *skip])
        rows = cursor.fetchall()
    pooled: dict[str, list[dict]] = defaultdict(list)
    for unit, entry_currency, invested, benefits in rows:
        for kind, amount in (("investment", invested), ("benefit", benefits)):
            pooled[unit].append(
                {
                    "date": TOTAL_DATE,
                    "kind": kind,
                    "amount": Decimal(str(amount)),
                    "currency": entry_currency,
                }
            )
    return pooled


def _totals(entries: list[dict], currency: str, rates: dict) -> dict:
    total = roi(entries, currency, rates)
    return {
        "invested": _money(total.invested),
        "benefits": _money(total.benefits),
        "net": _money(total.net),
        "roi": total.roi_pct,
    }


def portfolio_roi(factories: QuerySet[Factory], currency: str | None = None) -> dict:
    """ROI of ``factories`` (already scoped to the user) in one currency, and by business
    unit, aggregated in SQL over the factories' rollup figures: a fixed number of queries
    and rows whatever the number of factories. A factory with an entry that cannot be
    converted (no rate) is left out of the money totals and named in ``excluded``; its
    payback still counts (own currency)."""
    currency = (currency or settings.PORTFOLIO_CURRENCY).upper()
    factories = factories.order_by()
    rates = rates_to({currency}).get(currency, {})
    pooled, excluded = _pooled(factories, []), []
    known = {currency, *rates}
    if any(e["currency"].upper() not in known for rows in pooled.values() for e in rows):
        # Only then may a factory be left out (a scan of every factory's figures): the
        # totals are summed again without the factories excluded.
        excluded, skip = _excluded(factories, currency, rates)
        pooled = _pooled(factories, skip) if skip else pooled
    counts = dict(factories.values_list("business_unit").annotate(n=Count("id")).order_by())
    payback = _payback_stats(factories)
    empty = _payback_of(NO_PAYBACK)

    def group(unit: str | None, entries: list[dict]) -> dict:
        return {
            "factories": sum(counts.values()) if unit is None else counts[unit],
            **_totals(entries, currency, rates),
            **payback.get(unit, empty),
        }

    return {
        "currency": currency,
        **group(None, [e for rows in pooled.values() for e in rows]),
        "survey_benchmark": dict(SURVEY_BENCHMARK),
        "by_business_unit": [
            {"business_unit": unit, **group(unit, pooled.get(unit, []))} for unit in sorted(counts)
        ],
        "excluded": excluded,
    }
