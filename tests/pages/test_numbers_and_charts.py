"""One way to show money and numbers; the registry list and the tool page agree on a
tool's annual spend; charts that tell the truth (numbered radar blips, report labels)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils.html import escape

from registry.charts import number_blips, radar_html
from tests.pages.helpers import final_audit, signed_in
from tests.registry.builders import adoption, capability, tool


@pytest.mark.parametrize(
    "expr,value,expected",
    [
        ('value|money:"EUR"', Decimal("600000.00"), "600,000 EUR"),
        ("value|money", None, "—"),
        ('value|money_cents:"USD"', Decimal("1234.5"), "1,234.50 USD"),
        ("value|number", 1234567, "1,234,567"),
        ("value|number:1", -0.04, "0.0"),
        ("value|hours", 998.2871, "998.3 h"),
        ("value|percent:1", 42.25, "42.2 %"),
        ("value|ratio_percent", 0.873, "87 %"),
        ("value|months", 1, "1 month"),
        ("value|months", Decimal("14.5"), "14.5 months"),
        ("value|number", "not a number", "—"),
    ],
)
def test_format_filters(expr, value, expected):
    rendered = Template("{{ " + expr + " }}").render(Context({"value": value}))
    assert rendered == expected


@pytest.mark.django_db
def test_registry_list_and_tool_page_show_the_same_annual_spend(world):
    jira = tool("Jira", annual_cost_per_seat=Decimal("7.50"))
    adoption(world.factory_a, jira, cost=7000)  # declared
    adoption(world.factory_b, jira, seats=1400)  # seats × cost per seat = 10,500
    adoption(world.factory_b, jira, name="Jira old", cost=999, status="retired")
    client = signed_in(world, "staff")
    listing = client.get("/registry/").content.decode()
    page = client.get(jira.get_absolute_url()).content.decode()
    assert "17,500" in listing, listing
    assert ">17,500 EUR<" in page


def test_radar_numbers_blips_per_quadrant_and_ring():
    rows = [
        {"name": "Zabbix", "ring": "hold", "group": "Operations", "slug": "zabbix"},
        {"name": "Grafana", "ring": "adopt", "group": "Operations", "slug": "grafana"},
        {"name": "GitLab", "ring": "trial", "group": "Delivery", "slug": "gitlab"},
        {"name": "Old", "ring": "retired", "group": "Delivery", "slug": "old"},
    ]
    quadrants = number_blips(rows)
    numbers = [
        (q["group"], [[t["number"] for t in ring["tools"]] for ring in q["rings"]])
        for q in quadrants
    ]
    assert numbers == [("Delivery", [[1]]), ("Operations", [[2], [3]])]
    html = radar_html(rows)
    assert '"text":["2"]' in html and "2. Grafana" in html


@pytest.mark.django_db
def test_radar_page_lists_each_number(world):
    cap = capability("monitoring", "Monitoring")
    tool("Grafana", caps=[cap], ring="adopt")
    page = signed_in(world, "member_a").get("/registry/radar/").content.decode()
    section = page[page.index('id="radar-quadrants"') :]
    assert '<li value="1"><a href="/registry/tools/grafana/">Grafana</a></li>' in section


@pytest.mark.django_db
def test_report_and_factory_page_show_labels_and_whole_explanation(world):
    audit = final_audit(world, world.factory_a, on=dt.date(2026, 1, 10), rating=2)
    client = signed_in(world, "owner_a")
    report = client.get(f"/assessments/{audit.pk}/report/").content.decode()
    keys = {d["key"] for d in audit.result["dimensions"]}
    roadmap = report[report.index("Roadmap to the next stage") :]
    roadmap = roadmap[: roadmap.index("</table>")]
    assert not any(f"<td>{key}</td>" in roadmap for key in keys)
    factory_page = client.get(world.factory_a.get_absolute_url()).content.decode()
    assert escape(audit.result["explanation"]) in factory_page  # never cut mid-sentence
