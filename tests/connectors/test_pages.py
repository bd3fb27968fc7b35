"""Pages: connector list and detail, device inventory and detail, the factory panel."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connectors.models import Device, SyncRun
from connectors.records import DeviceRecord
from tests.connectors.helpers import ingest, make_connector
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(world):
    connector = make_connector(world.factory_a, credentials={"password": "never-on-a-page"})
    ingest(
        connector,
        [
            DeviceRecord(
                source_id=f"n{i}", serial_number=f"S{i}", manufacturer="ACME", firmware="1.0"
            )
            for i in range(30)
        ],
    )
    run = ingest(
        connector,
        [
            DeviceRecord(
                source_id=f"n{i}", serial_number=f"S{i}", manufacturer="ACME", firmware="1.1"
            )
            for i in range(25)
        ],
    )
    SyncRun.objects.filter(pk=run.pk).update(errors=[{"source_id": "n99", "message": "bad value"}])
    make_connector(world.factory_b, "mqtt")
    return connector


def login(client, world, persona):
    client.login(request=HttpRequest(), username=world.users[persona].username, password=PASSWORD)


def test_connector_list_shows_last_run_status_of_visible_connectors(
    client, world, plant, django_assert_max_num_queries
):
    login(client, world, "member_a")
    with django_assert_max_num_queries(10):
        response = client.get(reverse("connector-list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert plant.name in body and "succeeded" in body
    assert "mqtt of beta-app" not in body
    assert "never-on-a-page" not in body


def test_connector_detail_shows_run_history_with_errors_and_only_staff_can_sync(
    client, world, plant, django_assert_max_num_queries
):
    login(client, world, "member_a")
    with django_assert_max_num_queries(11):
        response = client.get(reverse("connector-detail", args=[plant.pk]))
    body = response.content.decode()
    assert "bad value" in body and "stale" in body.lower()
    assert "Sync now" not in body
    assert client.post(reverse("connector-sync", args=[plant.pk])).status_code == 403
    login(client, world, "member_b")
    assert client.get(reverse("connector-detail", args=[plant.pk])).status_code == 404


def test_device_inventory_filters_per_factory(client, world, plant, django_assert_max_num_queries):
    login(client, world, "owner_a")
    # 11: the factory filter looks its slug up among the user's factories (one query).
    with django_assert_max_num_queries(13):
        response = client.get(
            reverse("device-list"), {"factory": world.factory_a.slug, "status": "stale"}
        )
    body = response.content.decode()
    assert "5 device(s)" in body
    assert "S29" in body and "S3<" not in body


def test_device_detail_shows_source_records_and_history(
    client, world, plant, django_assert_max_num_queries
):
    device = Device.objects.get(serial_number="S3")
    login(client, world, "member_a")
    with django_assert_max_num_queries(10):
        response = client.get(reverse("device-detail", args=[device.pk]))
    body = response.content.decode()
    assert "n3" in body and "firmware" in body and "1.1" in body
    login(client, world, "member_b")
    assert client.get(reverse("device-detail", args=[device.pk])).status_code == 404


def test_factory_page_has_a_devices_and_connectors_panel(client, world, plant):
    login(client, world, "member_a")
    response = client.get(reverse("factory-detail", args=[world.factory_a.slug]))
    body = response.content.decode()
    assert 'id="panel-devices"' in body
    assert plant.name in body


def test_staff_can_queue_a_sync_from_the_page(
    client, world, plant, django_capture_on_commit_callbacks
):
    login(client, world, "staff")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("connector-sync", args=[plant.pk]))
    assert response.status_code == 302
    assert SyncRun.objects.filter(connector=plant, trigger="user").exists()


def test_the_unfiltered_inventory_counts_from_the_stored_counts_what_each_persona_sees(
    client, world, plant
):
    ingest(
        make_connector(world.factory_b, name="b"),
        [DeviceRecord(source_id="b1", serial_number="B1")],
    )
    for persona, factories in (
        ("staff", None),
        ("owner_a", [world.factory_a]),
        ("member_b", [world.factory_b]),
    ):
        login(client, world, persona)
        devices = (
            Device.objects.all()
            if factories is None
            else Device.objects.filter(factory__in=factories)
        )
        for query in ({}, {"sort": "-name"}, {"page": "1"}):
            with CaptureQueriesContext(connection) as queries:
                body = client.get(reverse("device-list"), query).content.decode()
            assert f"{devices.count()} device(s)" in body, (persona, query)
            assert not [
                q for q in queries if "COUNT(*)" in q["sql"] and "connectors_device" in q["sql"]
            ]
