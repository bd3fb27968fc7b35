"""The OEE, DORA and payback signals read hand-built facts; without data, or for the
wrong kind of factory, they say "not measured"."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from assessments.signals import SIGNALS, measure
from connectors.facts import CurrencyRate, Deployment, FinanceEntry, OTCounter

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
OEE = {"key": "oee", "direction": "higher", "thresholds": [0.4, 0.55, 0.7, 0.85]}
PAYBACK = {"key": "roi_payback_months", "direction": "lower", "thresholds": [36, 24, 12, 6]}


def counter(factory, line, start, planned, run, cycle, total, good, source="csv"):
    return OTCounter.objects.create(
        factory=factory,
        line=line,
        period_start=start,
        period_end=start + dt.timedelta(hours=8),
        planned_time_s=planned,
        run_time_s=run,
        ideal_cycle_time_s=cycle,
        total_count=total,
        good_count=good,
        source=source,
    )


def test_oee_sums_the_counters_of_the_last_30_days_across_lines(world):
    plant = world.factory_a
    day = NOW - dt.timedelta(days=2)
    # Line 1: A = 0.9, P = 1 × 2700 / 27000 ... computed from the sums below.
    counter(plant, "L1", day, 28800, 25920, 10, 2400, 2352)
    counter(plant, "L2", day, 28800, 14400, 5, 2000, 1800, source="opcua")
    counter(plant, "L1", NOW - dt.timedelta(days=40), 28800, 0, 10, 0, 0)  # before the window
    counter(plant, "L1", NOW - dt.timedelta(hours=4), 28800, 28800, 1, 1, 1)  # still running
    found = SIGNALS["oee"](plant, NOW)
    # Σ planned 57600, Σ run 40320, Σ ideal output 24000 + 10000, Σ total 4400, Σ good 4152
    expected = (40320 / 57600) * (34000 / 40320) * (4152 / 4400)
    assert found.measured and round(found.value, 4) == round(expected, 4)
    assert "2 shifts on 2 line(s)" in found.detail
    assert found.source == "connectors: OT counters (csv, opcua)"
    assert found.measured_at == day + dt.timedelta(hours=8)
    assert measure(OEE, plant, NOW).suggested_rating == 3  # 0.5573: ≥ 0.55, < 0.7


def test_oee_is_not_measured_without_counters_or_for_a_software_factory(world):
    assert not SIGNALS["oee"](world.factory_a, NOW).measured
    counter(world.factory_b, "L1", NOW - dt.timedelta(days=1), 100, 90, 1, 80, 80)
    found = SIGNALS["oee"](world.factory_b, NOW)
    assert not found.measured and "manufacturing" in found.detail
    counter(world.factory_a, "L1", NOW - dt.timedelta(days=1), 0, 0, 1, 0, 0)
    idle = measure(OEE, world.factory_a, NOW)
    assert not idle.measured and idle.suggested_rating is None and "no planned time" in idle.detail


def deployment(factory, n, status, finished, lead_hours=None, environment="production"):
    return Deployment.objects.create(
        factory=factory,
        source_id=str(n),
        environment=environment,
        status=status,
        finished_at=finished,
        commit_created_at=finished - dt.timedelta(hours=lead_hours) if lead_hours else None,
    )


def test_dora_signals_measure_the_last_complete_month(world):
    app = world.factory_b
    october = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    # October: 3 successes (lead 2 h, 4 h, 30 h), 1 failure restored 3 h later.
    deployment(app, 1, "success", october + dt.timedelta(days=2), lead_hours=2)
    deployment(app, 2, "failed", october + dt.timedelta(days=10))
    deployment(app, 3, "success", october + dt.timedelta(days=10, hours=3), lead_hours=4)
    deployment(app, 4, "success", october + dt.timedelta(days=20), lead_hours=30)
    deployment(app, 5, "success", october + dt.timedelta(days=21), environment="staging")
    deployment(app, 6, "success", NOW - dt.timedelta(days=1), lead_hours=1)  # this month
    values = {key: SIGNALS[key](app, NOW) for key in SIGNALS if key.startswith("dora_")}
    assert all(m.measured for m in values.values())
    assert round(values["dora_deployment_frequency"].value, 4) == round(3 / 31, 4)
    assert values["dora_lead_time_hours"].value == 4.0
    assert values["dora_change_failure_rate"].value == 0.25
    assert values["dora_time_to_restore_hours"].value == 3.0
    assert "October 2026" in values["dora_lead_time_hours"].detail
    assert "DORA band low" in values["dora_lead_time_hours"].detail  # 25 % failures
    assert values["dora_lead_time_hours"].measured_at == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    lead = {"key": "dora_lead_time_hours", "direction": "lower", "thresholds": [720, 168, 24, 1]}
    assert measure(lead, app, NOW).suggested_rating == 4


def test_dora_is_not_measured_without_deployments_or_for_a_plant(world):
    app = world.factory_b
    deployment(app, 1, "success", NOW - dt.timedelta(days=90), lead_hours=5)  # too old
    found = SIGNALS["dora_deployment_frequency"](app, NOW)
    assert not found.measured and "October 2026" in found.detail
    deployment(app, 2, "success", dt.datetime(2026, 10, 5, tzinfo=dt.UTC), lead_hours=5)
    restore = SIGNALS["dora_time_to_restore_hours"](app, NOW)  # no failure to restore from
    assert not restore.measured and "nothing to measure" in restore.detail
    assert SIGNALS["dora_change_failure_rate"](app, NOW).value == 0.0
    plant = SIGNALS["dora_lead_time_hours"](world.factory_a, NOW)
    assert not plant.measured and "software" in plant.detail


def money(factory, day, kind, amount, currency="EUR"):
    return FinanceEntry.objects.create(
        factory=factory, date=day, kind=kind, amount=Decimal(amount), currency=currency
    )


def test_payback_months_when_paid_back(world):
    plant = world.factory_a
    money(plant, dt.date(2026, 1, 10), "investment", 100000)
    money(plant, dt.date(2026, 3, 28), "benefit", 60000)
    money(plant, dt.date(2026, 5, 28), "benefit", 50000)
    money(plant, dt.date(2026, 12, 28), "benefit", 500000)  # after "now": left out
    found = SIGNALS["roi_payback_months"](plant, NOW)
    assert found.measured and found.value == 4.0 and not found.lower_bound
    assert "within six months" in found.detail and "ROI +10.0 %" in found.detail
    assert found.measured_at.date() == dt.date(2026, 5, 28)
    assert measure(PAYBACK, plant, NOW).suggested_rating == 5


def test_payback_not_reached_suggests_a_rating_only_past_every_threshold(world):
    plant = world.factory_a
    money(plant, dt.date(2026, 3, 1), "investment", 100000)
    money(plant, dt.date(2026, 4, 1), "benefit", 1000)
    found = SIGNALS["roi_payback_months"](plant, NOW)
    assert found.lower_bound and found.value == 9.0 and "Not paid back yet" in found.detail
    reading = measure(PAYBACK, plant, NOW)
    assert not reading.measured and reading.suggested_rating is None
    assert "payback ≥ 9 months" in reading.detail
    old = world.factory_b
    money(old, dt.date(2023, 1, 1), "investment", 100000)
    late = measure(PAYBACK, old, NOW)
    assert late.measured and late.value == 47.0 and late.suggested_rating == 1


def test_payback_is_not_measured_without_investment_or_rate(world):
    plant = world.factory_a
    assert not SIGNALS["roi_payback_months"](plant, NOW).measured
    money(plant, dt.date(2026, 2, 1), "benefit", 500)
    assert "No investment" in SIGNALS["roi_payback_months"](plant, NOW).detail
    money(plant, dt.date(2026, 1, 1), "investment", 1000, currency="USD")
    found = SIGNALS["roi_payback_months"](plant, NOW)
    assert not found.measured and "no conversion rate from USD" in found.detail
    CurrencyRate.objects.create(from_currency="USD", to_currency="EUR", rate=Decimal("0.5"))
    assert SIGNALS["roi_payback_months"](plant, NOW).measured


def test_signal_queries_are_bounded(world, django_assert_max_num_queries):
    for n in range(50):
        counter(world.factory_a, f"L{n}", NOW - dt.timedelta(days=3), 100, 90, 1, 80, 80)
        deployment(world.factory_b, n, "success", dt.datetime(2026, 10, 3, tzinfo=dt.UTC), 5)
    with django_assert_max_num_queries(2):
        assert SIGNALS["oee"](world.factory_a, NOW).measured
    with django_assert_max_num_queries(2):
        assert SIGNALS["dora_lead_time_hours"](world.factory_b, NOW).measured
