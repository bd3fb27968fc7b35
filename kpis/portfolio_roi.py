"""Portfolio ROI: the factories' finance pooled into one currency, by business unit, with
the share paid back within six months set against the survey benchmark (docs/kpis.md).

No second ROI formula: the totals of a group are :func:`kpis.formulas.roi` of the
group's finance totals by currency (the factories' rollup figures) converted into
``PORTFOLIO_CURRENCY``, and the payback figures come from each factory's own ROI (its
rollup figures, in its currency). Two queries whatever the number of factories.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date

from django.conf import settings

from coe.models import Factory
from kpis.formulas import KPIInputError, ROIResult, roi
from kpis.reads import figures_by_factory, roi_of_figures
from kpis.selectors import payback_summary, rates_to

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


def _payback_months(results: list[ROIResult | None]) -> dict:
    """Payback in months of the factories that paid back (and how many have not yet)."""
    invested = [r for r in results if r is not None and r.invested]
    months = sorted(r.payback_months for r in invested if r.payback_months is not None)
    return {
        "median": statistics.median(months) if months else None,
        "mean": round(statistics.fmean(months), 2) if months else None,
        "min": months[0] if months else None,
        "max": months[-1] if months else None,
        "paid_back": len(months),
        "not_yet": len(invested) - len(months),
    }


def _within_6(results: list[ROIResult | None]) -> dict:
    summary = payback_summary(results)
    share = summary["share"]
    return {
        "count": summary["within_6_months"],
        "of": summary["factories"],
        "share": share,
        "vs_benchmark": round(share - SURVEY_BENCHMARK["share"], 4) if share is not None else None,
    }


def _money(value) -> str:
    return f"{value:.2f}"


def _group(factories: list[Factory], results: dict, entries: dict, currency: str, rates) -> dict:
    pooled = [row for f in factories if f.pk in entries for row in entries[f.pk]]
    total = roi(pooled, currency, rates)
    own = [results.get(f.pk) for f in factories]
    return {
        "factories": len(factories),
        "invested": _money(total.invested),
        "benefits": _money(total.benefits),
        "net": _money(total.net),
        "roi": total.roi_pct,
        "payback_months": _payback_months(own),
        "paid_back_within_6_months": _within_6(own),
    }


def portfolio_roi(factories: list[Factory], currency: str | None = None) -> dict:
    """ROI of ``factories`` (already scoped to the user) in one currency, and by business
    unit. A factory with an entry that cannot be converted (no rate) is left out of the
    money totals and named in ``excluded``; its payback still counts (own currency)."""
    currency = (currency or settings.PORTFOLIO_CURRENCY).upper()
    figures = figures_by_factory(factories)
    results = {f.pk: roi_of_figures(figures.get(f.pk), f) for f in factories}
    rates = rates_to({currency}).get(currency, {})
    entries: dict[int, list[dict]] = defaultdict(list)
    for factory_id, row in figures.items():
        for entry_currency, kinds in row.finance_totals.items():
            for kind, amount in kinds.items():
                entries[factory_id].append(
                    {"date": TOTAL_DATE, "kind": kind, "amount": amount, "currency": entry_currency}
                )
    excluded = []
    for factory in factories:
        rows = [
            {**row, "currency": row["currency"] or factory.currency}
            for row in entries.get(factory.pk, [])
        ]
        try:
            roi(rows, currency, rates)
            entries[factory.pk] = rows
        except KPIInputError as exc:
            entries.pop(factory.pk, None)
            # Totals carry no entry date: the reason names the currencies only.
            reason = str(exc).split(" (entry of", 1)[0]
            excluded.append({"factory": factory.slug, "reason": reason})
    units: dict[str, list[Factory]] = defaultdict(list)
    for factory in factories:
        units[factory.business_unit].append(factory)
    return {
        "currency": currency,
        **_group(factories, results, entries, currency, rates),
        "survey_benchmark": dict(SURVEY_BENCHMARK),
        "by_business_unit": [
            {"business_unit": unit, **_group(members, results, entries, currency, rates)}
            for unit, members in sorted(units.items())
        ],
        "excluded": excluded,
    }
