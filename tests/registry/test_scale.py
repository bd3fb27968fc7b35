"""Pages and API lists at two portfolio sizes: the same number of queries, and what a
response carries is bounded by the page size, not by the number of factories."""

import re

import pytest
from django.db import connection
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.detection import duplicates_detect
from registry.models import FACTORY_PREVIEW, DuplicateFinding
from registry.selectors import at_stake_total
from tests.factories import PASSWORD, FactoryFactory
from tests.registry.builders import adoption, capability, tool

PAGES = [
    ("duplicate-list", {}),
    ("api:duplicate-list", {}),
    ("tool-list", {}),
    ("factory-list", {}),
    ("assessment-list", {}),
    ("device-list", {}),
]


@pytest.fixture
def tools(world):
    cap = capability("historian", "Historian")
    return [
        tool("PI System", caps=[cap], ring="adopt"),
        tool("Canary Historian", caps=[cap], ring="hold"),
        tool("Ignition Historian", caps=[cap], ring="trial"),
    ]


def grow(tools, start: int, stop: int) -> None:
    """Factories ``start``..``stop - 1``, each running two historians (an overlap), all of
    them one fragmentation of the capability."""
    for n in range(start, stop):
        factory = FactoryFactory(slug=f"plant-{n:03d}", name=f"Plant {n:03d}")
        adoption(factory, tools[n % 3], cost="1000")
        adoption(factory, tools[(n + 1) % 3], cost="500")
    duplicates_detect()


def staff(client):
    client.login(request=HttpRequest(), username="staff", password=PASSWORD)
    return client


def counts(client) -> dict[str, int]:
    out = {}
    for name, params in PAGES:
        client.get(reverse(name), params)  # warm: sessions, caches of the first request
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(name), params)
        assert response.status_code == 200, (name, response.status_code)
        out[name] = len(queries)
    return out


def test_pages_and_lists_take_the_same_queries_at_two_portfolio_sizes(client, tools):
    staff(client)
    grow(tools, 0, 4)
    small = counts(client)
    grow(tools, 4, 70)
    assert counts(client) == small


def test_a_finding_list_carries_a_bounded_factory_preview_and_the_detail_all(client, tools):
    grow(tools, 0, 70)
    staff(client)
    frag = DuplicateFinding.objects.get(kind="fragmentation")
    involved = sorted(frag.factories.values_list("slug", flat=True))
    assert frag.factory_count == len(involved) >= 70
    body = client.get(reverse("api:duplicate-list"), {"kind": "fragmentation"}).json()
    row = body["results"][0]
    assert row["factory_count"] == len(involved)
    assert len(row["factories"]) == FACTORY_PREVIEW and set(row["factories"]) <= set(involved)
    detail = client.get(reverse("api:duplicate-detail", args=[frag.pk])).json()
    assert sorted(detail["factories"]) == involved
    overlaps = client.get(reverse("api:duplicate-list"), {"kind": "overlap"}).json()
    assert len(overlaps["results"]) <= 50 and overlaps["count"] == 70


def test_duplicates_page_shows_the_stored_figures_each_adoption_once(client, tools):
    grow(tools, 0, 70)
    body = staff(client).get(reverse("duplicate-list")).content.decode()
    frag = DuplicateFinding.objects.get(kind="fragmentation")
    assert f"Portfolio ({frag.factory_count} factories)" in body
    # The plan form offers the preview and a field for the others, not every factory.
    form = body[body.index(f'id="finding-{frag.pk}"') :]
    form = form[: form.index("</tr>")]
    assert len(re.findall(r'<option value="plant-', form)) == FACTORY_PREVIEW
    assert 'name="factories_more"' in form
    # Each adoption counted once: fragmentation and overlaps cover the same adoptions.
    total = at_stake_total(DuplicateFinding.objects.all())
    assert total > 0 and f"{int(total):,}" in body
    assert len(re.findall(r'<tr id="finding-', body)) == 50  # 71 findings, one page


def test_audits_due_are_paged_and_a_large_portfolio_types_the_factory(client, world):
    for n in range(60):
        FactoryFactory(slug=f"plant-{n:03d}", name=f"Plant {n:03d}")
    body = staff(client).get(reverse("assessment-list")).content.decode()
    due = body[body.index('id="overdue"') : body.index("</section>")]
    assert due.count("<tr><td>") == 50 and "Page 1 of 2" in due
    assert 'input name="factory" aria-label="Factory"' in body
    second = client.get(reverse("assessment-list"), {"due_page": 2}).content.decode()
    due = second[second.index('id="overdue"') : second.index("</section>")]
    assert due.count("<tr><td>") == 62 - 50  # 60 plants and the two of the world


def _row(body: str, name: str) -> str:
    row = body[body.index(f">{name}</a>") :]
    return row[: row.index("</tr>")]


def test_the_registry_list_and_the_tool_page_show_the_same_spend(client, tools):
    pi = tools[0]
    pi.annual_cost_per_seat = 10
    pi.save()
    grow(tools, 0, 6)  # PI at plants 0, 2, 3, 5: 1000 or 500 each
    seated = adoption(FactoryFactory(slug="seated"), pi, seats=7)  # 7 × 10
    staff(client)

    def shown() -> tuple[str, str]:
        listed = _row(client.get(reverse("tool-list")).content.decode(), "PI System")
        page = client.get(reverse("tool-detail", args=[pi.slug])).content.decode()
        total = re.search(r'id="tool-total-cost">([^<]*)<', page).group(1)
        return listed, total

    listed, total = shown()
    assert total.startswith("3,070") and "3,070" in listed and '<td class="num">5</td>' in listed
    seated.status = "retired"
    seated.save()
    pi.annual_cost_per_seat = 20
    pi.save()
    listed, total = shown()
    assert total.startswith("3,000") and "3,000" in listed and '<td class="num">4</td>' in listed


def test_the_device_filter_lists_factories_only_while_they_are_few(client, world):
    staff(client)
    body = client.get(reverse("device-list")).content.decode()
    assert '<select id="d-factory"' in body and 'value="alpha-plant"' in body
    for n in range(50):
        FactoryFactory(slug=f"plant-{n:03d}", name=f"Plant {n:03d}")
    body = client.get(reverse("device-list")).content.decode()
    assert '<select id="d-factory"' not in body and '<input id="d-factory"' in body
    assert 'value="plant-' not in body


def test_the_finding_list_queries_a_waiver_or_a_plan_only_while_one_is_on_the_page(
    client, tools, world
):
    """Approver, plan standard and owner are prefetched, not joined: none set, no query;
    set on any number of findings, one query each, whatever the page holds."""
    import datetime as dt

    from registry.consolidation import finding_plan
    from registry.services import finding_waive

    grow(tools, 0, 6)
    staff(client)
    url = reverse("api:duplicate-list")

    def queries() -> tuple[int, list]:
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            body = client.get(url).json()
        return len(captured), body["results"]

    bare, _rows = queries()
    overlaps = list(DuplicateFinding.objects.filter(kind="overlap").order_by("pk"))
    expires = dt.date.today() + dt.timedelta(days=30)
    for finding in overlaps[:3]:
        finding_waive(
            finding=finding, reason="r", approver=world.users["staff"], expires_on=expires
        )
    frag = DuplicateFinding.objects.get(kind="fragmentation")
    finding_plan(finding=frag, standard=tools[0], factories=[frag.scope or frag.factories.first()],
                 due_on=expires, owner=world.users["owner_a"])  # fmt: skip
    count, rows = queries()
    assert count == bare + 3 + 1  # + the plan's progress (its adoptions)
    by_id = {row["id"]: row for row in rows}
    assert by_id[overlaps[0].pk]["waiver_approver"] == "staff"
    assert by_id[frag.pk]["plan"]["standard"] == tools[0].slug
    assert by_id[frag.pk]["plan"]["owner"] == "owner_a"
