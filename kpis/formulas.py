"""Productivity and value KPIs: OEE, DORA and ROI, as pure functions on bounded frames.

Plain data (pandas DataFrames or lists of dicts) in, plain results out, no ORM: the
selectors load the rows for one factory and one date range, these functions compute.
Every result carries its inputs so a user can verify a number by hand.

- OEE = Availability × Performance × Quality, with Availability = run time / planned
  time, Performance = ideal cycle time × total count / run time, Quality = good count /
  total count. Across lines or days the *counters* are summed first (a weighted
  aggregate), never the ratios averaged. A ratio whose denominator is zero is ``None``
  ("no data"), never 0 or 1.
- DORA over one environment's deployments that finished in the period: deployments =
  successful ones; frequency = deployments / days in the period; lead time = a successful
  deployment's finish minus its commit's creation (median, hours); change failure rate =
  failed / (successful + failed); time to restore = from a failed deployment to the next
  successful one of the same environment (median, hours); band from the thresholds below.
- ROI by month: cumulative investment and benefits, net, ROI %, the payback month (first
  month whose cumulative benefits reach the cumulative investment) and whole months from
  the first investment's month to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

PERIODS = {"day": "D", "week": "W-MON", "month": "MS"}

OEE_COUNTERS = ["planned_time_s", "run_time_s", "total_count", "good_count"]


class KPIInputError(ValueError):
    """The input cannot give a KPI (unknown period, missing column, mixed currency…)."""


def _ratio(numerator: float, denominator: float) -> float | None:
    if denominator is None or denominator == 0 or pd.isna(denominator):
        return None
    return float(numerator) / float(denominator)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), digits)


def period_start(timestamps: pd.Series, period: str) -> pd.Series:
    """The first day of the day/week (Monday)/month each timestamp falls in, as dates."""
    if period not in PERIODS:
        raise KPIInputError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    ts = pd.to_datetime(timestamps, utc=True).dt.tz_convert(None)
    if period == "day":
        starts = ts.dt.floor("D")
    elif period == "week":
        starts = (ts - pd.to_timedelta(ts.dt.day_of_week, unit="D")).dt.floor("D")
    else:
        starts = ts.dt.to_period("M").dt.start_time
    return starts.dt.date


# --- OEE ----------------------------------------------------------------------------


def oee_from_counters(
    planned_time_s: float,
    run_time_s: float,
    ideal_output_s: float,
    total_count: float,
    good_count: float,
) -> dict:
    """OEE of summed counters. ``ideal_output_s`` = Σ ideal cycle time × total count."""
    availability = _ratio(run_time_s, planned_time_s)
    performance = _ratio(ideal_output_s, run_time_s)
    quality = _ratio(good_count, total_count)
    parts = (availability, performance, quality)
    oee = None if any(p is None for p in parts) else availability * performance * quality
    return {
        "availability": _round(availability),
        "performance": _round(performance),
        "quality": _round(quality),
        "oee": _round(oee),
    }


def oee_series(counters: pd.DataFrame, period: str = "day", *, by_line: bool = True) -> list[dict]:
    """OEE per period for each line (``by_line``) and for the whole factory (``line`` None).

    ``counters`` has one row per line and shift: ``line, period_start (datetime),
    planned_time_s, run_time_s, ideal_cycle_time_s, total_count, good_count``.
    """
    missing = [
        c
        for c in ["line", "period_start", "ideal_cycle_time_s", *OEE_COUNTERS]
        if c not in counters.columns
    ]
    if missing:
        raise KPIInputError(f"counters lack column(s): {', '.join(missing)}")
    if counters.empty:
        return []
    frame = counters.copy()
    frame["bucket"] = period_start(frame["period_start"], period)
    frame["ideal_output_s"] = frame["ideal_cycle_time_s"].astype(float) * frame[
        "total_count"
    ].astype(float)
    sums = ["planned_time_s", "run_time_s", "ideal_output_s", "total_count", "good_count"]
    groups = [("bucket", None)]
    if by_line:
        groups.append((["bucket", "line"], "line"))
    rows: list[dict] = []
    for keys, line_key in groups:
        summed = frame.groupby(keys, sort=True, observed=True)[sums].sum().reset_index()
        for record in summed.to_dict("records"):
            result = oee_from_counters(
                record["planned_time_s"],
                record["run_time_s"],
                record["ideal_output_s"],
                record["total_count"],
                record["good_count"],
            )
            rows.append(
                {
                    "period_start": record["bucket"],
                    "line": record[line_key] if line_key else None,
                    **result,
                    "planned_time_s": float(record["planned_time_s"]),
                    "run_time_s": float(record["run_time_s"]),
                    "total_count": int(record["total_count"]),
                    "good_count": int(record["good_count"]),
                }
            )
    rows.sort(key=lambda r: (r["period_start"], r["line"] is not None, r["line"] or ""))
    return rows


# --- DORA ---------------------------------------------------------------------------

BANDS = ["elite", "high", "medium", "low"]

# Thresholds of the DORA State of DevOps report (2023): a metric's band is the first
# whose limit it meets; the factory's band is the weakest of its measured metrics.
DORA_THRESHOLDS = {
    # deployments per day, at least
    "deployment_frequency_per_day": [("elite", 1.0), ("high", 1 / 7), ("medium", 1 / 30)],
    # hours, at most
    "lead_time_hours_median": [("elite", 24.0), ("high", 24.0 * 7), ("medium", 24.0 * 30)],
    # hours, at most
    "time_to_restore_hours_median": [("elite", 1.0), ("high", 24.0), ("medium", 24.0 * 7)],
    # share, at most
    "change_failure_rate": [("elite", 0.05), ("high", 0.10), ("medium", 0.15)],
}


def dora_band(metrics: dict) -> str | None:
    """The weakest band among the measured metrics; ``None`` with no deployment at all."""
    if not metrics.get("deployments") and not metrics.get("failed"):
        return None
    worst = 0
    for key, limits in DORA_THRESHOLDS.items():
        value = metrics.get(key)
        if value is None:
            continue
        band = len(BANDS) - 1
        for index, (_name, limit) in enumerate(limits):
            meets = value >= limit if key == "deployment_frequency_per_day" else value <= limit
            if meets:
                band = index
                break
        worst = max(worst, band)
    return BANDS[worst]


def _days_in(start: date, period: str) -> int:
    if period == "day":
        return 1
    if period == "week":
        return 7
    return pd.Period(start, freq="M").days_in_month


def _period_ends(buckets: pd.Series, period: str) -> pd.Series:
    """The (exclusive, UTC) end of each period starting on ``buckets`` (dates)."""
    starts = pd.to_datetime(buckets).dt.tz_localize("UTC")
    if period == "month":
        return starts + pd.offsets.MonthBegin(1)
    return starts + pd.Timedelta(days=1 if period == "day" else 7)


def dora_series(
    deployments: pd.DataFrame, period: str = "month", restore_within: timedelta | None = None
) -> list[dict]:
    """The four DORA metrics per period for one environment's deployments.

    ``restore_within``: a failure counts as restored only by a success before the end of
    its period plus this much — what a frame of one period with that look-ahead gives
    (the rollups compute many periods in one call and must match it).

    ``deployments``: ``status`` (success | failed), ``finished_at`` (datetime),
    ``commit_created_at`` (datetime, may be missing for failed ones), ``environment``.
    """
    missing = [
        c
        for c in ["status", "finished_at", "commit_created_at", "environment"]
        if c not in deployments.columns
    ]
    if missing:
        raise KPIInputError(f"deployments lack column(s): {', '.join(missing)}")
    if deployments.empty:
        return []
    frame = deployments.copy()
    frame["finished_at"] = pd.to_datetime(frame["finished_at"], utc=True)
    frame["commit_created_at"] = pd.to_datetime(frame["commit_created_at"], utc=True)
    frame = frame[frame["status"].isin(["success", "failed"])].sort_values("finished_at")
    frame["bucket"] = period_start(frame["finished_at"], period)
    frame["lead_h"] = (frame["finished_at"] - frame["commit_created_at"]).dt.total_seconds() / 3600
    # Time to restore: each failure to the next success of the same environment.
    frame["restore_h"] = math.nan
    for _env, env_rows in frame.groupby("environment", sort=False):
        next_success = env_rows["finished_at"].where(env_rows["status"] == "success").bfill()
        # A success at the very same instant as the failure does not restore it.
        failed = env_rows["status"] == "failed"
        restored_at = next_success[failed]
        if restore_within is not None:
            ends = _period_ends(env_rows.loc[failed, "bucket"], period)
            restored_at = restored_at.where(restored_at < ends + restore_within)
        frame.loc[env_rows.index[failed], "restore_h"] = (
            restored_at - env_rows.loc[failed, "finished_at"]
        ).dt.total_seconds() / 3600
    rows = []
    for bucket, group in frame.groupby("bucket", sort=True):
        ok = group[group["status"] == "success"]
        failed = group[group["status"] == "failed"]
        restores = failed["restore_h"].dropna()
        leads = ok["lead_h"].dropna()
        metrics = {
            "period_start": bucket,
            "deployments": int(len(ok)),
            "failed": int(len(failed)),
            "deployment_frequency_per_day": _round(len(ok) / _days_in(bucket, period)),
            "lead_time_hours_median": _round(leads.median()) if len(leads) else None,
            "change_failure_rate": _round(_ratio(len(failed), len(ok) + len(failed))),
            "time_to_restore_hours_median": _round(restores.median()) if len(restores) else None,
        }
        metrics["band"] = dora_band(metrics)
        rows.append(metrics)
    return rows


# --- ROI ----------------------------------------------------------------------------


def _cents(amount: Decimal) -> str:
    return str(Decimal(amount).quantize(Decimal("0.01")))


@dataclass(frozen=True)
class ROIResult:
    currency: str
    invested: Decimal
    benefits: Decimal
    net: Decimal
    roi_pct: float | None
    payback_date: date | None
    payback_months: int | None
    roi_within_6_months: bool
    series: list[dict]

    def as_dict(self) -> dict:
        """JSON-ready; money as strings with exactly two decimals (converted amounts carry
        the rate's precision until here, so the totals are rounded once, at the end)."""
        return {
            "currency": self.currency,
            "invested": _cents(self.invested),
            "benefits": _cents(self.benefits),
            "net": _cents(self.net),
            "roi_pct": self.roi_pct,
            "payback_date": self.payback_date.isoformat() if self.payback_date else None,
            "payback_months": self.payback_months,
            "roi_within_6_months": self.roi_within_6_months,
            "series": [
                {
                    **row,
                    "month": row["month"].isoformat(),
                    "invested": _cents(row["invested"]),
                    "benefits": _cents(row["benefits"]),
                }
                for row in self.series
            ],
        }


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + (end.month - start.month)


def roi(entries: list[dict], currency: str, rates: dict[str, Decimal] | None = None) -> ROIResult:
    """ROI of finance entries ``{date, kind (investment | benefit), amount, currency}``.

    Amounts in another currency are converted with ``rates`` (units of ``currency`` per
    unit of the other); an entry in a currency without a rate is an error, never guessed.
    The series is cumulative by month, from the first entry's month to the last one's.
    """
    rates = rates or {}
    monthly: dict[date, dict[str, Decimal]] = {}
    for entry in entries:
        amount = Decimal(str(entry["amount"]))
        entry_currency = (entry.get("currency") or currency).upper()
        if entry_currency != currency:
            if entry_currency not in rates:
                raise KPIInputError(
                    f"no conversion rate from {entry_currency} to {currency} "
                    f"(entry of {entry['date']})"
                )
            amount = amount * Decimal(str(rates[entry_currency]))
        if entry["kind"] not in ("investment", "benefit"):
            raise KPIInputError(f"kind must be investment or benefit, not {entry['kind']!r}")
        month = date(entry["date"].year, entry["date"].month, 1)
        bucket = monthly.setdefault(month, {"investment": Decimal(0), "benefit": Decimal(0)})
        bucket[entry["kind"]] += amount
    if not monthly:
        return ROIResult(currency, Decimal(0), Decimal(0), Decimal(0), None, None, None, False, [])
    first, last = min(monthly), max(monthly)
    invested_months = [m for m, v in monthly.items() if v["investment"]]
    first_investment = min(invested_months) if invested_months else None
    series, cum_invested, cum_benefits = [], Decimal(0), Decimal(0)
    payback: date | None = None
    month = first
    while month <= last:
        values = monthly.get(month, {"investment": Decimal(0), "benefit": Decimal(0)})
        cum_invested += values["investment"]
        cum_benefits += values["benefit"]
        if payback is None and cum_invested > 0 and cum_benefits >= cum_invested:
            payback = month
        series.append({"month": month, "invested": cum_invested, "benefits": cum_benefits})
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    net = cum_benefits - cum_invested
    payback_months = (
        _months_between(first_investment, payback) if payback and first_investment else None
    )
    return ROIResult(
        currency=currency,
        invested=cum_invested,
        benefits=cum_benefits,
        net=net,
        roi_pct=_round(float(net / cum_invested * 100), 2) if cum_invested else None,
        payback_date=payback,
        payback_months=payback_months,
        roi_within_6_months=payback_months is not None and payback_months <= 6,
        series=series,
    )
