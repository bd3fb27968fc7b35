"""File imports and push ingestion of metrics, OT counters, finance entries and devices."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from connectors.facts import FinanceEntry, OTCounter
from connectors.models import Device, DeviceSourceRecord, MetricSample

HEADER = (
    "factory,line,period_start,period_end,planned_time_s,run_time_s,"
    "ideal_cycle_time_s,total_count,good_count\n"
)
COUNTERS = (
    HEADER
    + """alpha-plant,L1,2026-03-02T06:00:00Z,2026-03-02T14:00:00Z,28800,25200,2.0,11000,10500
alpha-plant,L2,2026-03-02T06:00:00Z,2026-03-02T14:00:00Z,28800,21600,3.0,6000,5900
"""
)
FINANCE = """factory,date,kind,category,amount,currency,description
alpha-plant,2026-01-15,investment,licences,120000.00,EUR,MES licences
alpha-plant,2026-02-10,benefit,scrap,30000,EUR,less scrap
"""
METRICS = """factory,metric,period_start,period_end,value,unit,source
alpha-plant,energy_kwh,2026-03-02T00:00:00Z,2026-03-03T00:00:00Z,1234.5,kWh,meter
"""


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_import_counters_lands_rows_and_a_second_run_changes_nothing(world, tmp_path):
    path = write(tmp_path, "counters.csv", COUNTERS)
    out = io.StringIO()
    call_command("import_counters", path, stdout=out)
    assert "2 created" in out.getvalue()
    first = list(OTCounter.objects.order_by("line").values_list("line", "updated_at"))
    out = io.StringIO()
    call_command("import_counters", path, stdout=out)
    assert "0 created, 0 updated, 2 unchanged" in out.getvalue()
    assert list(OTCounter.objects.order_by("line").values_list("line", "updated_at")) == first


def test_a_corrected_counter_row_updates_the_stored_one(world, tmp_path):
    call_command("import_counters", write(tmp_path, "a.csv", COUNTERS), stdout=io.StringIO())
    out = io.StringIO()
    call_command(
        "import_counters", write(tmp_path, "b.csv", COUNTERS.replace("10500", "10400")), stdout=out
    )
    assert "0 created, 1 updated, 1 unchanged" in out.getvalue()
    assert OTCounter.objects.get(line="L1").good_count == 10400
    assert OTCounter.objects.count() == 2


def test_a_bad_file_imports_nothing_and_names_every_bad_row(world, tmp_path):
    bad = COUNTERS + (
        "alpha-plant,L3,2026-03-02T06:00:00Z,2026-03-02T05:00:00Z,100,50,1,10,5\n"
        "alpha-plant,L4,yesterday,2026-03-02T14:00:00Z,100,150,1,10,20\n"
        "nowhere,L5,2026-03-02T06:00:00Z,2026-03-02T14:00:00Z,100,50,1,x,5\n"
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_counters", write(tmp_path, "bad.csv", bad), stderr=err)
    lines = err.getvalue().splitlines()
    assert "row 4: period_end: must be after period_start" in lines
    assert any(line.startswith("row 5: period_start: not an ISO 8601") for line in lines)
    assert "row 6: factory: unknown factory 'nowhere'" in lines
    assert "row 6: total_count: not a number: 'x'" in lines
    assert OTCounter.objects.count() == 0


def test_counter_cross_checks_reject_impossible_rows(world, tmp_path):
    bad = COUNTERS.splitlines()[0] + "\nalpha-plant,L1,2026-03-02,2026-03-03,100,150,1,10,20\n"
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_counters", write(tmp_path, "bad.csv", bad), stderr=err)
    assert err.getvalue().splitlines() == [
        "row 2: run_time_s: exceeds planned_time_s",
        "row 2: good_count: exceeds total_count",
    ]


def test_a_duplicate_key_in_one_file_is_an_error(world, tmp_path):
    bad = COUNTERS + COUNTERS.splitlines()[1] + "\n"
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_counters", write(tmp_path, "dup.csv", bad), stderr=err)
    assert "row 4: period_start: duplicate of row 2" in err.getvalue()


def test_import_finance_from_xlsx_defaults_the_currency_to_the_factory(world, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["factory", "date", "kind", "category", "amount", "currency", "description"])
    sheet.append(["alpha-plant", "2026-01-15", "investment", "licences", 1000.5, None, "MES"])
    path = tmp_path / "finance.xlsx"
    book.save(path)
    call_command("import_finance", str(path), stdout=io.StringIO())
    entry = FinanceEntry.objects.get()
    assert (entry.amount, entry.currency, entry.kind) == (Decimal("1000.50"), "EUR", "investment")


def test_import_metrics_lands_factory_samples(world, tmp_path):
    call_command("import_metrics", write(tmp_path, "m.csv", METRICS), stdout=io.StringIO())
    sample = MetricSample.objects.get()
    assert (sample.metric, sample.value, sample.unit, sample.source) == (
        "energy_kwh",
        1234.5,
        "kWh",
        "meter",
    )
    call_command("import_metrics", write(tmp_path, "m.csv", METRICS), stdout=io.StringIO())
    assert MetricSample.objects.count() == 1


def test_missing_columns_are_reported_against_the_header(world, tmp_path):
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_finance", write(tmp_path, "f.csv", "factory,date\n"), stderr=err)
    assert "row 1: kind: missing column" in err.getvalue()


# --- push API ----------------------------------------------------------------------------


def test_member_pushes_json_counters_for_their_factory(world):
    rows = [
        {
            "line": "L1",
            "period_start": "2026-03-02T06:00:00Z",
            "period_end": "2026-03-02T14:00:00Z",
            "planned_time_s": 28800,
            "run_time_s": 25200,
            "ideal_cycle_time_s": 2,
            "total_count": 11000,
            "good_count": 10500,
        }
    ]
    response = world.client("member_a").post(
        "/api/ingest/counters/?factory=alpha-plant", rows, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1
    assert OTCounter.objects.get().source == "api"


def test_member_cannot_push_for_another_factory(world):
    response = world.client("member_b").post(
        "/api/ingest/finance/",
        FINANCE,
        content_type="text/csv",
    )
    assert response.status_code == 400
    assert "row 2: factory: unknown factory 'alpha-plant'" in response.json()["errors"]
    assert FinanceEntry.objects.count() == 0
    hidden = world.client("member_b").post(
        "/api/ingest/finance/?factory=alpha-plant", FINANCE, content_type="text/csv"
    )
    assert hidden.status_code == 404


def test_staff_push_csv_finance_for_any_factory(world):
    response = world.client("staff").post("/api/ingest/finance/", FINANCE, content_type="text/csv")
    assert response.status_code == 200, response.content
    assert FinanceEntry.objects.count() == 2


def test_anonymous_push_is_401_and_wrong_types_are_415(world):
    assert world.client("anonymous").post("/api/ingest/metrics/", []).status_code == 401
    response = world.client("staff").post(
        "/api/ingest/metrics/", "<xml/>", content_type="application/xml"
    )
    assert response.status_code == 415


def test_oversized_push_is_413(world, settings):
    settings.TABLE_MAX_BYTES = 100
    response = world.client("staff").post(
        "/api/ingest/metrics/", METRICS * 5, content_type="text/csv"
    )
    assert response.status_code == 413


def test_pushed_devices_go_through_the_shared_ingest(world):
    rows = [
        {"serial_number": "SN-1", "manufacturer": "Siemens", "model": "S7-1500"},
        {"serial_number": "SN-2", "mac": "00-1B-1B-00-00-02", "name": "press 2"},
    ]
    client = world.client("member_a")
    response = client.post("/api/ingest/devices/?factory=alpha-plant", rows, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 2
    assert Device.objects.filter(factory=world.factory_a).count() == 2
    assert set(DeviceSourceRecord.objects.values_list("source_kind", flat=True)) == {"upload"}
    again = client.post("/api/ingest/devices/?factory=alpha-plant", rows, format="json")
    assert again.json()["unchanged"] == 2


def counter_rows(count: int) -> list[dict]:
    return [
        {
            "factory": "alpha-plant",
            "line": f"L{i % 5}",
            "period_start": f"2026-03-{1 + i // 50:02d}T{(i % 50) // 5 * 2:02d}:00:00Z",
            "period_end": f"2026-03-{1 + i // 50:02d}T{(i % 50) // 5 * 2 + 1:02d}:00:00Z",
            "planned_time_s": 3600,
            "run_time_s": 3000,
            "ideal_cycle_time_s": 2,
            "total_count": 1000,
            "good_count": 990,
        }
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("staff", 200), ("owner_a", 200), ("member_a", 200), ("member_b", 400), ("anonymous", 401)],
)
def test_push_per_persona(world, persona, expected):
    response = world.client(persona).post("/api/ingest/counters/", counter_rows(3), format="json")
    assert response.status_code == expected, response.content
    assert OTCounter.objects.count() == (3 if expected == 200 else 0)


ROLLUP_REFRESH = 11  # kpis.rollups.rebuild of one factory (months and figures)


def test_push_takes_a_constant_number_of_queries(world, django_assert_max_num_queries):
    """Queries do not grow per row: a few lookups, then one INSERT per bulk batch (SQLite
    caps a statement at 999 parameters, i.e. 90 counter rows; PostgreSQL takes 500). With
    no broker the KPI rollups of the touched factory and months are refreshed inline, in
    ROLLUP_REFRESH queries more (with a broker the push enqueues one task instead)."""
    client = world.client("member_a")
    with django_assert_max_num_queries(10 + ROLLUP_REFRESH):
        assert (
            client.post("/api/ingest/counters/", counter_rows(10), format="json").status_code == 200
        )
    with django_assert_max_num_queries(9 + 11 + ROLLUP_REFRESH):
        response = client.post("/api/ingest/counters/", counter_rows(1000), format="json")
    assert response.json() == {
        "kind": "counters",
        "rows": 1000,
        "created": 990,
        "updated": 0,
        "unchanged": 10,
        "factories": ["alpha-plant"],
    }


def test_push_an_xlsx_file_as_multipart(world):
    book = Workbook()
    book.active.append(["metric", "period_start", "period_end", "value"])
    book.active.append(["scrap_rate", "2026-03-01", "2026-03-02", 0.02])
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    data.name = "metrics.xlsx"
    response = world.client("owner_a").post(
        "/api/ingest/metrics/?factory=alpha-plant", {"file": data}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert MetricSample.objects.get().metric == "scrap_rate"
