"""REST, NetBox and Snipe-IT sources against a local HTTP server serving real-shaped payloads."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response

from connectors.models import Device, DeviceSourceRecord
from connectors.services import connector_create
from connectors.sources.http import HTTPAdapter
from tests.connectors.helpers import run_sync


def netbox_device(pk: int, serial: str, name: str, mac: str = "") -> dict:
    """A device as NetBox 4 returns it from /api/dcim/devices/ (trimmed to what we read)."""
    return {
        "id": pk,
        "url": f"http://netbox.local/api/dcim/devices/{pk}/",
        "display": name,
        "name": name,
        "device_type": {
            "id": 7,
            "url": "http://netbox.local/api/dcim/device-types/7/",
            "display": "MSD 2500",
            "manufacturer": {"id": 3, "name": "Schuler", "slug": "schuler"},
            "model": "MSD 2500",
            "slug": "msd-2500",
        },
        "role": {"id": 1, "name": "Press", "slug": "press"},
        "serial": serial,
        "asset_tag": None,
        "site": {"id": 1, "name": "Stuttgart", "slug": "stuttgart"},
        "status": {"value": "active", "label": "Active"},
        "primary_mac_address": {"id": 9, "mac_address": mac} if mac else None,
        "custom_fields": {},
    }


def snipeit_asset(pk: int, serial: str, name: str) -> dict:
    """A hardware asset as Snipe-IT returns it from /api/v1/hardware (HTML-escaped)."""
    return {
        "id": pk,
        "name": name,
        "asset_tag": f"A-{pk:05d}",
        "serial": serial,
        "model": {"id": 4, "name": "MSD 2500 &quot;Servo&quot;"},
        "manufacturer": {"id": 2, "name": "Schuler &amp; Co"},
        "status_label": {"id": 1, "name": "Ready to Deploy", "status_meta": "deployable"},
        "custom_fields": {
            "MAC Address": {"field": "_snipeit_mac_address_1", "value": f"00:1B:1B:AA:00:{pk:02d}"}
        },
    }


def make(factory, kind: str, settings: dict, name: str = "", **extra):
    return connector_create(
        factory=factory,
        name=name or kind,
        kind=kind,
        settings=settings,
        credentials={"token": "s3cret"},
        **extra,
    )


@pytest.fixture
def no_sleep(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(HTTPAdapter, "sleep", staticmethod(waits.append))
    return waits


def test_netbox_devices_are_read_page_by_page_with_the_token(world, httpserver):
    base = httpserver.url_for("/")
    page2 = f"{base}api/dcim/devices/?limit=1&offset=1"
    httpserver.expect_request(
        "/api/dcim/devices/",
        query_string="limit=1",
        headers={"Authorization": "Token s3cret"},
    ).respond_with_json(
        {"count": 2, "next": page2, "previous": None, "results": [netbox_device(1, "SCH-1", "P1")]}
    )
    httpserver.expect_request(
        "/api/dcim/devices/", query_string="limit=1&offset=1"
    ).respond_with_json(
        {
            "count": 2,
            "next": None,
            "previous": base,
            "results": [netbox_device(2, "SCH-2", "P2", "00:1b:1b:00:00:02")],
        }
    )
    connector = make(world.factory_a, "netbox", {"base_url": base, "page_size": 1})
    run = run_sync(connector)
    assert run.status == "succeeded", run.message
    assert run.created == 2
    device = Device.objects.get(serial_number="SCH-2")
    assert (device.manufacturer, device.model, device.mac, device.name) == (
        "Schuler",
        "MSD 2500",
        "00:1b:1b:00:00:02",
        "P2",
    )


def test_snipeit_assets_are_paged_by_offset_and_unescaped(world, httpserver):
    rows = [snipeit_asset(i, f"SN-{i}", f"Press &lt;{i}&gt;") for i in range(1, 4)]
    for offset in (0, 2):
        httpserver.expect_request(
            "/api/v1/hardware",
            query_string=f"offset={offset}&limit=2&sort=id",
            headers={"Authorization": "Bearer s3cret"},
        ).respond_with_json({"total": 3, "rows": rows[offset : offset + 2]})
    connector = make(
        world.factory_a, "snipeit", {"base_url": httpserver.url_for("/"), "page_size": 2}
    )
    run = run_sync(connector)
    assert run.status == "succeeded", run.message
    assert run.created == 3
    device = Device.objects.get(serial_number="SN-3")
    assert (device.name, device.manufacturer, device.model, device.mac) == (
        "Press <3>",
        "Schuler & Co",
        'MSD 2500 "Servo"',
        "00:1b:1b:aa:00:03",
    )


def test_snipeit_error_envelope_fails_the_run(world, httpserver):
    httpserver.expect_request("/api/v1/hardware").respond_with_json(
        {"status": "error", "messages": "Unauthorized", "payload": None}
    )
    connector = make(
        world.factory_a, "snipeit", {"base_url": httpserver.url_for("/"), "retries": 0}
    )
    run = run_sync(connector)
    assert run.status == "failed"
    assert "refused the credentials" in run.message


def test_one_device_in_opcua_netbox_and_snipeit_is_one_device_with_three_records(
    world, httpserver, transactional_db
):
    from connectors.simulators.opcua_server import OpcUaSimulator, SimDevice, nodeset_dir

    base = httpserver.url_for("/")
    httpserver.expect_request("/api/dcim/devices/").respond_with_json(
        {
            "count": 1,
            "next": None,
            "previous": None,
            "results": [netbox_device(5, "SCH0010", "Press 10")],
        }
    )
    httpserver.expect_request("/api/v1/hardware").respond_with_json(
        {"total": 1, "rows": [snipeit_asset(77, "sch-0010", "Press 10 (asset)")]}
    )
    press = SimDevice("Press 10", "Schuler", "MSD 2500", "SCH-0010", "4.2", "B")
    with OpcUaSimulator([press], load_nodesets=nodeset_dir().exists()) as sim:
        opcua = connector_create(
            factory=world.factory_a, name="opcua", kind="opcua", settings={"endpoint": sim.endpoint}
        )
        assert run_sync(opcua).status == "succeeded"
    assert run_sync(make(world.factory_a, "netbox", {"base_url": base})).status == "succeeded"
    assert run_sync(make(world.factory_a, "snipeit", {"base_url": base})).status == "succeeded"
    device = Device.objects.get(factory=world.factory_a, serial_normalised="SCH0010")
    kinds = sorted(device.source_records.values_list("source_kind", flat=True))
    assert kinds == ["netbox", "opcua", "snipeit"]
    # Firmware comes from the machine itself, the name from the CMDB (field precedence).
    assert (device.firmware, device.name, device.mac) == ("4.2", "Press 10", "00:1b:1b:aa:00:77")
    assert DeviceSourceRecord.objects.filter(device__factory=world.factory_a).count() >= 3


# --- the generic REST adapter ---------------------------------------------------------------


DEVICE_MAPPING = {"source_id": "id", "serial_number": "hw.serial", "name": "label"}


def test_rest_cursor_pagination_with_mapping(world, httpserver):
    httpserver.expect_request("/v2/assets", query_string="kind=plc").respond_with_json(
        {"data": [{"id": 1, "hw": {"serial": "C-1"}, "label": "one"}], "meta": {"next": "abc"}}
    )
    httpserver.expect_request("/v2/assets", query_string="kind=plc&cursor=abc").respond_with_json(
        {"data": [{"id": 2, "hw": {"serial": "C-2"}, "label": "two"}], "meta": {"next": None}}
    )
    settings = {
        "base_url": httpserver.url_for("/"),
        "path": "v2/assets",
        "params": {"kind": "plc"},
        "results_path": "data",
        "mapping": DEVICE_MAPPING,
        "pagination": {"style": "cursor", "cursor_path": "meta.next"},
    }
    run = run_sync(make(world.factory_a, "rest", settings))
    assert run.status == "succeeded", run.message
    assert sorted(Device.objects.values_list("name", flat=True)) == ["one", "two"]


def test_rest_page_pagination_waits_out_429_and_retries_5xx(world, httpserver, no_sleep):
    items = [{"id": i, "hw": {"serial": f"P-{i}"}, "label": f"d{i}"} for i in range(3)]
    httpserver.expect_oneshot_request(
        "/items", query_string="page=1&per_page=2"
    ).respond_with_response(Response("slow down", status=429, headers={"Retry-After": "7"}))
    httpserver.expect_oneshot_request(
        "/items", query_string="page=2&per_page=2"
    ).respond_with_response(Response("oops", status=503))
    httpserver.expect_request("/items", query_string="page=1&per_page=2").respond_with_json(
        items[:2]
    )
    httpserver.expect_request("/items", query_string="page=2&per_page=2").respond_with_json(
        items[2:]
    )
    settings = {
        "base_url": httpserver.url_for("/"),
        "path": "items",
        "mapping": DEVICE_MAPPING,
        "pagination": {"style": "page", "page_size": 2},
    }
    run = run_sync(make(world.factory_a, "rest", settings))
    assert run.status == "succeeded", run.message
    assert run.created == 3
    assert no_sleep == [7.0, 1]  # Retry-After honoured, then backoff for the 503


def test_rest_offset_and_next_link_styles(world, httpserver):
    items = [{"id": i, "hw": {"serial": f"O-{i}"}, "label": f"o{i}"} for i in range(3)]
    httpserver.expect_request("/o", query_string="offset=0&limit=2").respond_with_json(
        {"results": items[:2]}
    )
    httpserver.expect_request("/o", query_string="offset=2&limit=2").respond_with_json(
        {"results": items[2:]}
    )
    base = httpserver.url_for("/")
    httpserver.expect_request("/n", query_string="").respond_with_json(
        {"results": items[:1], "next": f"{base}n?after=1"}
    )
    httpserver.expect_request("/n", query_string="after=1").respond_with_json(
        {"results": items[1:], "next": None}
    )
    offset = {"style": "offset", "page_size": 2}
    common = {"base_url": base, "mapping": DEVICE_MAPPING}
    first = run_sync(
        make(world.factory_a, "rest", {**common, "path": "o", "pagination": offset}, "o")
    )
    assert first.status == "succeeded" and first.created == 3, first.message
    run = run_sync(
        make(world.factory_b, "rest", {**common, "path": "n", "pagination": {"style": "next"}}, "n")
    )
    assert run.status == "succeeded" and run.created == 3


def test_rest_refuses_redirects_and_foreign_next_links(world, httpserver, no_sleep):
    httpserver.expect_request("/moved").respond_with_response(
        Response("", status=302, headers={"Location": "http://evil.example/steal"})
    )
    httpserver.expect_request("/n").respond_with_json(
        {
            "results": [{"id": 1, "hw": {"serial": "X"}, "label": "x"}],
            "next": "http://evil.example/n",
        }
    )
    common = {"base_url": httpserver.url_for("/"), "mapping": DEVICE_MAPPING, "retries": 0}
    moved = run_sync(make(world.factory_a, "rest", {**common, "path": "moved"}, "moved"))
    assert moved.status == "failed" and "not followed" in moved.message
    foreign = run_sync(
        make(world.factory_a, "rest", {**common, "path": "n", "pagination": {"style": "next"}}, "n")
    )
    assert foreign.status == "partial" and "refused" in foreign.message
    assert Device.objects.filter(serial_number="X").exists()


def test_rest_http_error_fails_the_run(world, httpserver, no_sleep):
    httpserver.expect_request("/secret").respond_with_response(
        Response(json.dumps({"detail": "bad token"}), status=401)
    )
    common = {"base_url": httpserver.url_for("/"), "mapping": DEVICE_MAPPING, "retries": 1}
    run = run_sync(make(world.factory_a, "rest", {**common, "path": "secret"}))
    assert run.status == "failed" and "401" in run.message


def test_a_target_off_the_allowlist_is_blocked(world, httpserver):
    world.factory_a.network_allowlist = ["10.0.0.0/8"]
    world.factory_a.save()
    run = run_sync(make(world.factory_a, "netbox", {"base_url": httpserver.url_for("/")}))
    assert run.status == "failed" and "allowlist" in run.message


def test_a_source_slower_than_the_timeout_fails_the_run(world, httpserver, no_sleep):
    import threading

    release = threading.Event()

    def slow(request):
        release.wait(5)  # answers only after the client has given up
        return Response("[]", content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    settings = {
        "base_url": httpserver.url_for("/"),
        "path": "slow",
        "mapping": DEVICE_MAPPING,
        "timeout_s": 1,
        "retries": 1,
    }
    try:
        run = run_sync(make(world.factory_a, "rest", settings))
    finally:
        release.set()
    assert run.status == "failed" and "ReadTimeout" in run.message
    assert no_sleep == [1]  # one backoff before the single retry
