"""Global search: factories, tools by name and alias, processes, devices by serial, MAC or
name, and requests; scoped to what the user may see; bounded per kind."""

from __future__ import annotations

import pytest
from django.utils import timezone

from coe.search import PER_KIND
from connectors.models import Device
from registry.models import Process, ToolAlias
from tests.pages.helpers import signed_in
from tests.registry.builders import tool
from tests.tool_requests.request_helpers import make_request

pytestmark = pytest.mark.django_db


def _section(page: str, key: str) -> str:
    start = page.find(f'id="search-{key}"')
    if start < 0:
        return ""
    end = page.find("</section>", start)
    return page[start:end]


def test_header_has_a_search_input_labelled_search(world):
    page = signed_in(world, "member_a").get("/").content.decode()
    assert '<label for="site-search" class="sr-only">Search</label>' in page
    assert 'action="/search/"' in page


def test_finds_factories_only_among_visible_ones(world):
    staff = signed_in(world, "staff").get("/search/", {"q": "plant"}).content.decode()
    assert "Alpha Plant" in _section(staff, "factories")
    member_b = signed_in(world, "member_b").get("/search/", {"q": "alpha"}).content.decode()
    assert _section(member_b, "factories") == ""
    assert "Nothing matches" in member_b


def test_finds_tools_by_alias_and_processes(world):
    grafana = tool("Grafana", vendor="Grafana Labs")
    ToolAlias.objects.create(tool=grafana, name="Graphana OSS")
    Process.objects.create(name="Release train", slug="release-train")
    page = signed_in(world, "member_a").get("/search/", {"q": "graphana"}).content.decode()
    tools = _section(page, "tools")
    assert "Grafana" in tools and "also known as Graphana OSS" in tools
    page = signed_in(world, "member_a").get("/search/", {"q": "release"}).content.decode()
    assert "#process-release-train" in _section(page, "processes")


def test_finds_devices_by_serial_mac_and_name_in_visible_factories(world):
    device = Device.objects.create(
        factory=world.factory_a,
        name="Press 7",
        serial_number="SN-4711",
        mac="aa:bb:cc:dd:ee:ff",
        first_seen=timezone.now(),
        last_seen=timezone.now(),
        updated_at=timezone.now(),
    )
    client = signed_in(world, "member_a")
    for query in ("SN-4711", "AA-BB-CC-DD-EE-FF", "aabbccddeeff", "press 7"):
        page = client.get("/search/", {"q": query}).content.decode()
        assert device.get_absolute_url() in _section(page, "devices"), query
    other = signed_in(world, "member_b").get("/search/", {"q": "SN-4711"}).content.decode()
    assert _section(other, "devices") == ""


def test_finds_requests_by_tool_and_number_scoped(world):
    req = make_request(world)
    client = signed_in(world, "member_a")
    for query in ("datadog", f"#{req.pk}"):
        page = client.get("/search/", {"q": query}).content.decode()
        assert req.get_absolute_url() in _section(page, "requests"), query
    other = signed_in(world, "member_b").get("/search/", {"q": "datadog"}).content.decode()
    assert _section(other, "requests") == ""


def test_results_are_bounded_per_kind_and_short_queries_refused(world):
    for i in range(PER_KIND + 3):
        tool(f"Widget {i:02d}")
    page = signed_in(world, "staff").get("/search/", {"q": "widget"}).content.decode()
    tools = _section(page, "tools")
    assert tools.count("<li>") == PER_KIND
    assert "refine the search" in tools
    short = signed_in(world, "staff").get("/search/", {"q": "w"}).content.decode()
    assert "at least 2 characters" in short


def test_search_query_count_is_constant(world, django_assert_max_num_queries):
    client = signed_in(world, "staff")
    for i in range(3):
        tool(f"Gadget {i}")
    with django_assert_max_num_queries(20) as few:
        client.get("/search/", {"q": "gadget"})
    for i in range(3, 12):
        tool(f"Gadget {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/search/", {"q": "gadget"})
