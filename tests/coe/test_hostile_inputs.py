"""Malformed and oversized input gets a 4xx, never a 500 (issue 12's table), and costs
no more than its endpoint's limit."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from assessments.services import assessment_create
from coe.limits import LimitedUploadHandler, RequestTooLarge
from connectors.models import MetricSample
from registry.models import Adoption


class Unreadable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise AssertionError("the body was read")


def claims(size: int) -> dict:
    """WSGI extras of a request that announces ``size`` bytes and must not be read."""
    return {"CONTENT_LENGTH": str(size), "wsgi.input": Unreadable()}


# --- body limits ---------------------------------------------------------------------------


def test_a_large_anonymous_body_to_the_token_endpoint_is_413_unread(db):
    response = Client().generic(
        "POST", "/api/auth/token/", b"", content_type="application/json", **claims(48 << 20)
    )
    assert response.status_code == 413
    assert "larger than 16384 bytes" in response.json()["detail"]


def test_json_endpoints_take_small_bodies_only(world):
    response = world.client("staff").generic(
        "POST", "/api/adoptions/", b"", content_type="application/json", **claims(2 << 20)
    )
    assert response.status_code == 413


def test_upload_endpoints_take_larger_bodies_but_not_past_their_limit(world, settings):
    client = world.client("staff")
    assert settings.REQUEST_BODY_LIMITS["api:ingest-metrics"] > settings.TABLE_MAX_BYTES
    over = settings.REQUEST_BODY_LIMITS["api:ingest-metrics"] + 1
    for path in ("/api/ingest/metrics/", "/api/imports/adoptions/", "/api/imports/registry/"):
        response = client.generic("POST", path, b"", content_type="text/csv", **claims(over))
        assert response.status_code == 413, path
    body = b"value\n" + (b"x" * 100 + b"\n") * 30_000  # 3 MB: more than a JSON body may be
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = client.post("/api/ingest/metrics/", body, content_type="text/csv")
    assert response.status_code == 400  # read whole, then judged: the columns are missing
    assert response.json()["errors"][0] == "row 1: factory: missing column"


MULTIPART = "multipart/form-data; boundary=x"


def test_upload_pages_refuse_oversized_bodies_unread(world, settings):
    client = Client()
    client.force_login(world.users["staff"])
    over = settings.REQUEST_BODY_LIMITS["fact-upload"] + 1
    for name in ("fact-upload", "registry-import"):
        response = client.generic(
            "POST", reverse(name), b"", content_type=MULTIPART, **claims(over)
        )
        assert response.status_code == 413, name


def test_the_upload_handler_stops_a_stream_at_the_limit():
    handler = LimitedUploadHandler(10)
    assert handler.receive_data_chunk(b"12345", 0) == b"12345"
    with pytest.raises(RequestTooLarge):
        handler.receive_data_chunk(b"123456", 5)
    with pytest.raises(RequestTooLarge):
        LimitedUploadHandler(10).handle_raw_input(None, {}, 11, b"x")


def test_a_multipart_upload_is_counted_as_it_streams(world, settings):
    settings.REQUEST_BODY_LIMITS = {**settings.REQUEST_BODY_LIMITS, "api:import-adoptions": 2000}
    upload = io.BytesIO(b"factory,tool\n" + b"alpha-plant,Jenkins\n" * 200)
    upload.name = "a.csv"
    response = world.client("staff").post(
        reverse("api:import-adoptions"), {"file": upload}, format="multipart"
    )
    assert response.status_code == 413
    assert Adoption.objects.count() == 0


# --- JSON ----------------------------------------------------------------------------------


def test_json_nested_100k_deep_is_400(world):
    body = "[" * 100_000 + "]" * 100_000
    for path in ("/api/adoptions/", "/api/ingest/metrics/", "/api/auth/token/"):
        client = world.client("staff")
        response = client.generic("POST", path, body, content_type="application/json")
        assert response.status_code in (400, 413), (path, response.status_code)
    response = world.client("staff").generic(
        "POST", "/api/adoptions/", "[" * 1000 + "]" * 1000, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested deeper than 64" in response.json()["detail"]


def test_json_with_nan_or_a_nul_is_400(world):
    client = world.client("staff")
    for body in ('{"factory": NaN}', '{"factory": "a\\u0000b"}', '{"fa\\u0000": 1}'):
        response = client.generic("POST", "/api/adoptions/", body, content_type="application/json")
        assert response.status_code == 400, body


def test_a_json_list_to_create_an_adoption_is_400(world):
    for persona in ("staff", "owner_a"):
        response = world.client(persona).post(
            "/api/adoptions/", [{"factory": "alpha-plant"}], format="json"
        )
        assert response.status_code in (400, 403), (persona, response.status_code)
    response = world.client("staff").post("/api/adoptions/", [1, 2], format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        [1, "x", None, []],
        [{"criterion": ["strategy.vision"], "rating": 3}],
        [{"criterion": {"a": 1}, "rating": "3"}],
        [{"criterion": "strategy.vision", "rating": 3.5, "links": {"a": 1}}],
        [{"criterion": "strategy.vision", "rating": True, "evidence": 5, "comment": []}],
        [{"criterion": "strategy.vision", "rating": 3, "evidence_date": {"y": 1}}],
        [{"criterion": "strategy.vision", "rating": 3, "evidence_date": "0001-01-01"}],
        [{"criterion": "strategy.vision", "rating": 3, "evidence_date": "9999-12-31"}],
        [{"criterion": "strategy.vision", "rating": 10**400}],
        [{"criterion": "strategy.vision", "rating": 3, "evidence": "a\x00b"}],
        [{"criterion": "strategy.vision", "rating": 3, "links": ["http://a\x00b"]}],
        {"answers": "x"},
        "just text",
        {"answers": [None]},
    ],
)
def test_malformed_answer_bodies_are_400(world, body):
    assessment = assessment_create(factory=world.factory_b)
    response = world.client("staff").post(
        reverse("api:assessment-answers", args=[assessment.pk]), body, format="json"
    )
    assert response.status_code == 400, response.content
    assert assessment.answers.count() == 0


def test_a_nul_in_the_query_string_is_400(world):
    response = world.client("staff").get("/api/adoptions/?q=a%00b")
    assert response.status_code == 400
    assert Client().get("/login/?next=%00").status_code == 400


# --- tables --------------------------------------------------------------------------------

JSON = "application/json"
METRIC_HEADER = "factory,metric,period_start,period_end,value,unit\n"


def test_a_nul_byte_in_an_ingest_body_is_400(world):
    client = world.client("staff")
    body = METRIC_HEADER + "alpha-plant,lead\x00time,2024-01-01,2024-01-02,1,h\n"
    response = client.post("/api/ingest/metrics/", body, content_type="text/csv")
    assert response.status_code == 400
    assert "NUL" in response.json()["errors"][0]
    rows = [{"factory": "alpha-plant", "metric": "a\x00b", "period_start": "2024-01-01"}]
    response = client.post("/api/ingest/metrics/", json.dumps(rows), content_type=JSON)
    assert response.status_code == 400
    assert MetricSample.objects.count() == 0


@pytest.mark.parametrize("start", ["0001-01-01", "1899-12-31", "2101-01-01", "9999-12-31"])
def test_a_period_start_outside_1900_2100_is_a_row_error(world, start):
    body = METRIC_HEADER + f"alpha-plant,lead_time,{start},2024-01-02,1,h\n"
    response = world.client("staff").post("/api/ingest/metrics/", body, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["errors"][0].startswith("row 2: period_start: outside the years")
    assert MetricSample.objects.count() == 0


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf", "1e999"])
def test_non_finite_numbers_are_row_errors_in_ingest(world, value):
    body = METRIC_HEADER + f"alpha-plant,lead_time,2024-01-01,2024-01-02,{value},h\n"
    response = world.client("staff").post("/api/ingest/metrics/", body, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["errors"] == ["row 2: value: not a finite number"]


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", "1e30"])
def test_a_non_finite_annual_cost_in_an_adoptions_import_is_a_row_error(world, value):
    upload = io.BytesIO(f"factory,tool,annual_cost\nalpha-plant,Jenkins,{value}\n".encode())
    upload.name = "a.csv"
    response = world.client("staff").post(
        reverse("api:import-adoptions"), {"file": upload}, format="multipart"
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0].startswith("row 2: annual_cost:")
    assert Adoption.objects.count() == 0


def test_a_non_zip_xlsx_is_a_clear_400_everywhere(world):
    client = world.client("staff")
    for path in ("/api/imports/adoptions/", "/api/imports/registry/", "/api/ingest/metrics/"):
        upload = io.BytesIO(b"factory,tool\nalpha-plant,Jenkins\n")
        upload.name = "a.xlsx"
        response = client.post(path, {"file": upload}, format="multipart")
        assert response.status_code == 400, (path, response.content)
        assert "not an XLSX workbook" in response.json()["errors"][0]
    response = client.post("/api/ingest/metrics/", b"not a zip", content_type=XLSX)
    assert response.status_code == 400
    assert "not an XLSX workbook" in response.json()["errors"][0]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_too_many_rows_in_an_upload_is_413(world, settings):
    settings.TABLE_MAX_ROWS = 10
    body = METRIC_HEADER + "alpha-plant,lead_time,2024-01-01,2024-01-02,1,h\n" * 11
    response = world.client("staff").post("/api/ingest/metrics/", body, content_type="text/csv")
    assert response.status_code == 413
    upload = io.BytesIO(("factory,tool\n" + "alpha-plant,Jenkins\n" * 11).encode())
    upload.name = "a.csv"
    response = world.client("staff").post(
        reverse("api:import-adoptions"), {"file": upload}, format="multipart"
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "query", ["from=9999-12-30", "from=9999-12-30&to=9999-12-31", "to=0001-01-02", "from=x"]
)
def test_kpi_ranges_outside_1900_2100_are_400(world, query):
    response = world.client("staff").get(f"/api/factories/alpha-plant/kpis/?{query}")
    assert response.status_code == 400, response.content


def test_api_model_dates_outside_1900_2100_are_400(world):
    from registry.models import DuplicateFinding

    finding = DuplicateFinding.objects.create(key="k", kind="fragmentation")
    response = world.client("staff").post(
        reverse("api:duplicate-waive", args=[finding.pk]),
        {"reason": "vendor lock", "expires_on": "0001-01-01"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "outside the years 1900–2100" in response.json()["expires_on"][0]


def test_every_endpoint_with_its_own_body_limit_exists(settings):
    from django.urls import NoReverseMatch

    for name in settings.REQUEST_BODY_LIMITS:
        try:
            reverse(name)
        except NoReverseMatch:
            reverse(name, args=[1])
