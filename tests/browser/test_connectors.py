"""CoE staff open the connectors and the device inventory in a browser and queue a sync."""

import pytest

from connectors.models import SyncRun
from connectors.records import DeviceRecord
from tests.connectors.helpers import ingest, make_connector
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_browse_connectors_devices_and_queue_a_sync(world, login, live_server):
    connector = make_connector(world.factory_a, name="Press shop OPC UA")
    ingest(
        connector,
        [
            DeviceRecord(source_id=f"n{i}", serial_number=f"SN-{i}", manufacturer="Schuler")
            for i in range(3)
        ],
    )
    page = login("staff", PASSWORD)
    page.get_by_role("link", name="Connectors").first.click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("link", name="Press shop OPC UA").click()
    page.wait_for_load_state("networkidle")
    assert "Succeeded" in page.locator("#runs").inner_text()
    page.get_by_role("button", name="Sync now").click()
    page.wait_for_load_state("networkidle")
    assert "Sync #" in page.content()
    assert SyncRun.objects.filter(connector=connector).count() == 2
    page.goto(f"{live_server.url}/devices/?factory=alpha-plant")
    assert "3 device(s)" in page.content()
    page.get_by_role("link", name="SN-1").click()
    page.wait_for_load_state("networkidle")
    assert "n1" in page.locator("#sources").inner_text()
