"""KPI formulas against hand-computed cases (OEE, DORA, ROI)."""

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from kpis.formulas import KPIInputError, dora_band, dora_series, oee_series, roi


def counters(rows):
    return pd.DataFrame(
        rows,
        columns=[
            "line",
            "period_start",
            "planned_time_s",
            "run_time_s",
            "ideal_cycle_time_s",
            "total_count",
            "good_count",
        ],
    )


def test_oee_of_one_shift_matches_the_hand_calculation():
    # 8 h planned, 7 h run, 2 s ideal cycle, 11 000 parts, 10 780 good:
    # A = 7/8 = 0.875; P = 2 × 11000 / 25200 = 0.873016; Q = 0.98; OEE = 0.748611
    rows = oee_series(
        counters([["L1", datetime(2026, 3, 2, 6), 28800, 25200, 2.0, 11000, 10780]]), "day"
    )
    line = next(r for r in rows if r["line"] == "L1")
    assert (line["availability"], line["performance"], line["quality"]) == (0.875, 0.873, 0.98)
    assert line["oee"] == 0.7486


def test_oee_across_lines_is_weighted_by_summed_counters_not_a_mean_of_ratios():
    # Line A: A=1, P=1, Q=1 over 1 h; line B: A=0.5 over 9 h planned.
    frame = counters(
        [
            ["A", datetime(2026, 3, 2, 6), 3600, 3600, 1.0, 3600, 3600],
            ["B", datetime(2026, 3, 2, 6), 32400, 16200, 1.0, 16200, 16200],
        ]
    )
    factory = next(r for r in oee_series(frame, "day") if r["line"] is None)
    # Summed: run 19800 / planned 36000 = 0.55 (the mean of ratios would say 0.75).
    assert factory["availability"] == 0.55
    assert factory["performance"] == 1.0 and factory["quality"] == 1.0
    assert factory["oee"] == 0.55
    assert factory["planned_time_s"] == 36000 and factory["total_count"] == 19800


def test_oee_weights_performance_by_each_line_ideal_cycle_time():
    frame = counters(
        [
            ["A", datetime(2026, 3, 2), 3600, 3600, 1.0, 1800, 1800],  # P = 0.5
            ["B", datetime(2026, 3, 2), 3600, 3600, 4.0, 900, 900],  # P = 1.0
        ]
    )
    factory = next(r for r in oee_series(frame, "day") if r["line"] is None)
    assert factory["performance"] == 0.75  # (1800 + 3600) / 7200


def test_oee_without_planned_time_or_output_is_no_data_not_zero():
    rows = oee_series(counters([["L1", datetime(2026, 3, 2), 0, 0, 2.0, 0, 0]]), "day")
    assert all(r["oee"] is None and r["availability"] is None for r in rows)


def test_oee_groups_days_into_weeks_starting_monday():
    frame = counters(
        [
            ["L1", datetime(2026, 3, 1, 12), 100, 100, 1.0, 100, 100],  # Sunday: week of Feb 23
            ["L1", datetime(2026, 3, 2, 12), 100, 50, 1.0, 50, 50],  # Monday
            ["L1", datetime(2026, 3, 8, 12), 100, 50, 1.0, 50, 50],  # Sunday
        ]
    )
    weeks = [r for r in oee_series(frame, "week") if r["line"] is None]
    assert [r["period_start"] for r in weeks] == [date(2026, 2, 23), date(2026, 3, 2)]
    assert weeks[1]["availability"] == 0.5


def test_unknown_period_is_refused():
    with pytest.raises(KPIInputError, match="period must be one of"):
        oee_series(counters([["L1", datetime(2026, 3, 2), 1, 1, 1, 1, 1]]), "year")


def deployments(rows):
    return pd.DataFrame(rows, columns=["status", "finished_at", "commit_created_at", "environment"])


def test_dora_metrics_match_the_hand_calculation():
    frame = deployments(
        [
            ["success", "2026-03-02T10:00Z", "2026-03-01T10:00Z", "production"],  # lead 24 h
            ["failed", "2026-03-03T10:00Z", "2026-03-03T08:00Z", "production"],
            [
                "success",
                "2026-03-03T13:00Z",
                "2026-03-03T12:00Z",
                "production",
            ],  # lead 1 h; restores 3 h
            ["success", "2026-03-10T10:00Z", "2026-03-09T22:00Z", "production"],  # lead 12 h
        ]
    )
    (march,) = dora_series(frame, "month")
    assert march["period_start"] == date(2026, 3, 1)
    assert march["deployments"] == 3
    assert march["deployment_frequency_per_day"] == round(3 / 31, 4)
    assert march["lead_time_hours_median"] == 12.0
    assert march["change_failure_rate"] == 0.25
    assert march["time_to_restore_hours_median"] == 3.0
    assert march["band"] == "low"  # 25 % of changes fail


def test_dora_band_is_the_weakest_measured_metric():
    elite = {
        "deployments": 60,
        "deployment_frequency_per_day": 2.0,
        "lead_time_hours_median": 3.0,
        "change_failure_rate": 0.02,
        "time_to_restore_hours_median": 0.5,
    }
    assert dora_band(elite) == "elite"
    assert dora_band({**elite, "time_to_restore_hours_median": None}) == "elite"
    assert dora_band({**elite, "lead_time_hours_median": 100.0}) == "high"
    assert dora_band({**elite, "deployment_frequency_per_day": 0.05}) == "medium"
    assert dora_band({"deployments": 0, "failed": 0}) is None


def test_roi_payback_matches_the_hand_calculation():
    entries = [
        {"date": date(2026, 1, 15), "kind": "investment", "amount": "100000", "currency": "EUR"},
        {"date": date(2026, 2, 10), "kind": "benefit", "amount": "30000", "currency": "EUR"},
        {"date": date(2026, 4, 10), "kind": "benefit", "amount": "40000", "currency": "EUR"},
        {"date": date(2026, 6, 30), "kind": "benefit", "amount": "50000", "currency": "EUR"},
    ]
    result = roi(entries, "EUR")
    assert result.invested == Decimal(100000) and result.benefits == Decimal(120000)
    assert result.net == Decimal(20000) and result.roi_pct == 20.0
    assert result.payback_date == date(2026, 6, 1) and result.payback_months == 5
    assert result.roi_within_6_months is True
    assert [row["month"] for row in result.series][:3] == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    assert result.as_dict()["series"][2] == {
        "month": "2026-03-01",
        "invested": "100000.00",
        "benefits": "30000.00",
    }


def test_roi_not_paid_back_has_no_payback_and_converts_explicitly():
    entries = [
        {"date": date(2026, 1, 1), "kind": "investment", "amount": "1000", "currency": "USD"},
        {"date": date(2026, 9, 1), "kind": "benefit", "amount": "500", "currency": "EUR"},
    ]
    result = roi(entries, "EUR", rates={"USD": Decimal("0.9")})
    assert result.invested == Decimal("900.0") and result.payback_date is None
    assert result.roi_within_6_months is False and result.roi_pct == pytest.approx(-44.44)
    with pytest.raises(KPIInputError, match="no conversion rate from USD"):
        roi(entries, "EUR")
