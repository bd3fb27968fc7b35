"""The connectors API: generic persona tests for every viewset, credentials, sync action."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from connectors.api.views import (
    ConnectorViewSet,
    DeviceViewSet,
    MetricSampleViewSet,
    SyncRunViewSet,
)
from connectors.models import Connector, MetricSample, SyncRun
from connectors.records import DeviceRecord
from tests.api_mixins import APIViewTestCase
from tests.connectors.helpers import ingest, make_connector

pytestmark = pytest.mark.django_db
SECRET = "s3cret-Passw0rd-never-shown"


class TestConnectorAPI(APIViewTestCase):
    basename = "connector"
    viewset = ConnectorViewSet
    write_only_fields = ("credentials",)

    def make_object(self, world, key):
        factory = world.factory_of(key)
        n = Connector.objects.count()
        return make_connector(
            factory, "opcua", name=f"OPC UA {n}", credentials={"password": SECRET}
        )

    def create_payload(self, world):
        return {
            "name": "Line 3 PLCs",
            "kind": "modbus",
            "factory": world.factory_a.slug,
            "settings": {"host": "127.0.0.1", "port": 5020, "unit_id": 3},
            "credentials": {"password": SECRET},
            "schedule": "*/15 * * * *",
        }

    def update_payload(self, world, obj):
        return {"enabled": False, "credentials": {"password": "rotated-" + SECRET}}


class TestSyncRunAPI(APIViewTestCase):
    basename = "sync-run"
    viewset = SyncRunViewSet
    read_only = True

    def make_object(self, world, key):
        connector = make_connector(world.factory_of(key), name=f"c{Connector.objects.count()}")
        return ingest(connector, [DeviceRecord(source_id="1", serial_number="S1")])

    def create_payload(self, world):
        return {"connector": 1}

    def update_payload(self, world, obj):
        return {"status": "failed"}


class TestDeviceAPI(APIViewTestCase):
    basename = "device"
    viewset = DeviceViewSet
    read_only = True
    max_list_queries = 6

    def make_object(self, world, key):
        factory = world.factory_of(key)
        connector = Connector.objects.filter(factory=factory).first() or make_connector(factory)
        n = connector.source_records.count()
        ingest(
            connector, [DeviceRecord(source_id=f"d{n}", serial_number=f"{key}-{n}")], complete=False
        )
        return connector.source_records.get(source_id=f"d{n}").device

    def create_payload(self, world):
        return {"serial_number": "X"}

    def update_payload(self, world, obj):
        return {"firmware": "9"}


class TestMetricAPI(APIViewTestCase):
    basename = "metric"
    viewset = MetricSampleViewSet
    read_only = True

    def make_object(self, world, key):
        at = datetime(2026, 1, 1, tzinfo=UTC)
        n = MetricSample.objects.count()
        return MetricSample.objects.create(
            factory=world.factory_of(key),
            metric="good_count",
            series=str(n),
            period_start=at,
            period_end=at,
            value=n,
            source="modbus",
        )

    def create_payload(self, world):
        return {"metric": "x"}

    def update_payload(self, world, obj):
        return {"value": 3}


def test_credentials_are_never_returned_logged_or_exported(world, caplog, client):
    caplog.set_level(logging.DEBUG)
    staff = world.client("staff")
    created = staff.post(
        reverse("api:connector-list"),
        {
            "name": "Press line",
            "kind": "opcua",
            "factory": world.factory_a.slug,
            "settings": {"endpoint": "opc.tcp://127.0.0.1:4840"},
            "credentials": {"username": "op", "password": SECRET},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    connector = Connector.objects.get(pk=created.json()["id"])
    assert connector.credentials == {"username": "op", "password": SECRET}
    assert SECRET not in connector.credentials_encrypted
    assert created.json()["has_credentials"] is True
    bodies = [
        created.content,
        staff.get(reverse("api:connector-list")).content,
        staff.get(reverse("api:connector-detail", args=[connector.pk])).content,
        staff.get(reverse("api:connector-history", args=[connector.pk])).content,
        staff.get(
            reverse("api:auditlog-list")
            if _has("api:auditlog-list")
            else reverse("api:connector-list")
        ).content,
        world.client("member_a").get(reverse("api:connector-detail", args=[connector.pk])).content,
    ]
    client.force_login(world.users["staff"])
    bodies.append(client.get(reverse("connector-detail", args=[connector.pk])).content)
    bodies.append(client.get(reverse("connector-list")).content)
    for body in bodies:
        assert SECRET.encode() not in body
        assert b'"credentials"' not in body
    assert SECRET not in caplog.text
    from auditlog.models import LogEntry

    assert SECRET not in json.dumps([e.changes for e in LogEntry.objects.all()], default=str)


def _has(name):
    from django.urls import NoReverseMatch

    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def test_bad_settings_are_rejected_per_field(world):
    response = world.client("staff").post(
        reverse("api:connector-list"),
        {
            "name": "x",
            "kind": "modbus",
            "factory": world.factory_a.slug,
            "settings": {"port": 70000},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "settings" in response.json() or "settings" in json.dumps(response.json())


@pytest.mark.parametrize(
    "persona,expected",
    [("staff", 202), ("owner_a", 403), ("member_a", 403), ("member_b", 404), ("anonymous", 401)],
)
def test_only_coe_staff_start_a_sync(world, persona, expected, django_capture_on_commit_callbacks):
    connector = make_connector(world.factory_a, settings={"endpoint": "opc.tcp://127.0.0.1:1"})
    with django_capture_on_commit_callbacks(execute=True):
        response = world.client(persona).post(
            reverse("api:connector-sync", args=[connector.pk]), {}, format="json"
        )
    assert response.status_code == expected, response.content
    if expected == 202:
        body = response.json()
        assert body["connector"] == connector.pk
        # Eager Celery ran it inline: nothing listens on port 1, so the run failed.
        run = SyncRun.objects.get(pk=body["id"])
        assert run.status == "failed" and "unreachable" in run.message


def test_sync_is_refused_for_a_target_outside_the_allowlist(
    world, django_capture_on_commit_callbacks
):
    world.factory_a.network_allowlist = ["10.0.0.0/8"]
    world.factory_a.save()
    connector = make_connector(world.factory_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = world.client("staff").post(
            reverse("api:connector-sync", args=[connector.pk]), {}, format="json"
        )
    run = SyncRun.objects.get(pk=response.json()["id"])
    assert run.status == "failed"
    assert "not on the factory's network allowlist" in run.message


def test_devices_filter_by_vendor_model_firmware_status_and_last_seen(world):
    connector = make_connector(world.factory_a)
    ingest(
        connector,
        [
            DeviceRecord(
                source_id="1",
                serial_number="S1",
                manufacturer="Siemens",
                model="S7-1500",
                firmware="2.9",
            ),
            DeviceRecord(
                source_id="2",
                serial_number="S2",
                manufacturer="Beckhoff",
                model="CX5140",
                firmware="3.1",
            ),
        ],
    )
    api = world.client("member_a")
    url = reverse("api:device-list")

    def serials(**params):
        return sorted(d["serial_number"] for d in api.get(url, params).json()["results"])

    assert serials(vendor="siemens") == ["S1"]
    assert serials(model="CX5140") == ["S2"]
    assert serials(firmware="2.9") == ["S1"]
    assert serials(status="active", factory=world.factory_a.slug) == ["S1", "S2"]
    assert serials(factory_id=world.factory_b.pk) == []
    assert serials(last_seen_after="2000-01-01T00:00:00Z", q="S2") == ["S2"]
    row = api.get(url, {"q": "S1"}).json()["results"][0]
    assert row["sources"][0]["kind"] == "opcua" and row["sources"][0]["source_id"] == "1"


def test_the_device_list_renders_each_device_as_the_device_serializer_does(world):
    """The list renders from column values; one device (the serializer) is the reference,
    sources, a source gone missing and every ordering included."""
    from rest_framework.renderers import JSONRenderer

    from connectors.api.serializers import DeviceSerializer
    from connectors.models import Device

    opcua, mqtt = make_connector(world.factory_a), make_connector(world.factory_a, "mqtt")
    records = [
        DeviceRecord(source_id=str(i), serial_number=f"S{i}", mac=f"00:00:00:00:00:0{i}",
                     manufacturer="Siemens", model="S7", firmware="2.9", name=f"PLC {i}")
        for i in range(4)
    ]  # fmt: skip
    ingest(opcua, records)
    ingest(mqtt, records[:2], complete=True)
    ingest(mqtt, records[:1], complete=True)  # the second goes missing on this source
    ingest(make_connector(world.factory_b), [DeviceRecord(source_id="b", serial_number="B1")])
    for persona in ("staff", "member_a"):
        for params in ({}, {"ordering": "-serial_number"}, {"source": "mqtt"}, {"q": "S1"}):
            body = world.client(persona).get(reverse("api:device-list"), params).json()
            devices = {d.pk: d for d in Device.objects.all()}
            expected = [DeviceSerializer(devices[row["id"]]).data for row in body["results"]]
            assert body["results"] == json.loads(JSONRenderer().render(expected))
            assert body["results"] and body["count"] == len(body["results"])
    missing = [s for d in body["results"] for s in d["sources"] if s["missing_since"] is not None]
    assert len(missing) == 1 and missing[0]["kind"] == "mqtt"
