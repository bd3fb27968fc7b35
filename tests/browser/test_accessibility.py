"""Every page, for every persona: no serious or critical axe-core violation, no page
wider than a 390 px phone, and no link that leads to a page the persona cannot use
(a 4xx answer).

The crawl starts at the start page and follows the links each persona sees (same site,
no API, admin, sign-in, log-out or downloads), one URL per path (query strings differ
only by filter, sort or page), bounded by a page count and a time budget per persona so
the scan stays within minutes in CI. axe-core comes from npm (``tests/browser/axe``,
installed by ``.ci/run`` with ``npm ci``) and is injected into each page by Playwright.
"""

from __future__ import annotations

import os
import pathlib
import time
from urllib.parse import parse_qs, urldefrag, urlsplit

import pytest

from assessments import services as assessment_services
from connectors.services import connector_create
from tests.factories import PASSWORD
from tests.registry.builders import adoption, capability, tool

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = pathlib.Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
MAX_PAGES = int(os.environ.get("AXE_MAX_PAGES", "80"))
BUDGET_SECONDS = float(os.environ.get("AXE_BUDGET_SECONDS", "120"))
SKIP_PREFIXES = ("/api/", "/admin/", "/oidc/", "/login/", "/logout/", "/static/", "/media/")
SKIP_SUFFIXES = (".csv", ".xlsx", ".pdf", ".svg", ".png")
IMPACTS = {"serious", "critical"}
# Scanned first (the crawl's budget may end before it reaches them): CoE staff's forms.
STAFF_PAGES = (
    "/users/",
    "/users/invite/",
    "/currency-rates/",
    "/currency-rates/new/",
    "/connectors/new/",
    "/connectors/new/?kind=opcua",
    "/connectors/new/?kind=mqtt",
    "/connectors/new/?kind=gitlab",
    "/registry/capabilities/",
    "/registry/add/process/",
    "/requests/?view=all",
)


def _page_key(url: str) -> str:
    """One scan per path; a form that changes with its ``kind`` counts once per kind."""
    parts = urlsplit(url)
    kind = parse_qs(parts.query).get("kind")
    return f"{parts.path}?kind={kind[0]}" if kind else parts.path


@pytest.fixture(scope="module")
def axe_source():
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{AXE} is missing: .ci/run runs npm ci --prefix tests/browser/axe")
        pytest.skip(f"axe-core is not installed: npm ci --prefix tests/browser/axe ({AXE})")
    return str(AXE)


def _seed(world):
    cap = capability("historian", "Historian")
    pi = tool("PI System", caps=[cap], ring="adopt", vendor="AVEVA")
    adoption(world.factory_a, pi, cost="9000", seats=12)
    adoption(world.factory_b, tool("Canary", caps=[cap], ring="hold"), cost="1200")
    connector_create(factory=world.factory_a, name="Line uploads", kind="upload", settings={})
    assessment_services.assessment_create(factory=world.factory_a)


def _links(page, origin: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    found = []
    for href in hrefs:
        href = urldefrag(href)[0]
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin:
            continue
        if parts.path.startswith(SKIP_PREFIXES) or parts.path.endswith(SKIP_SUFFIXES):
            continue
        if "export=" in parts.query:
            continue
        found.append(href)
    return found


def _scan(page, axe_path: str) -> list[dict]:
    page.add_script_tag(path=axe_path)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:3]],
        }
        for v in result["violations"]
        if v["impact"] in IMPACTS
    ]


@pytest.mark.parametrize("persona", ["staff", "owner_a", "member_a", "member_b"])
def test_every_page_has_no_serious_axe_violation_and_fits_a_phone(
    world, login, live_server, axe_source, persona
):
    _seed(world)
    page = login(persona, PASSWORD)
    origin = live_server.url
    queue = [f"{origin}/", f"{origin}/no-such-page/"]
    if persona == "staff":
        queue[1:1] = [origin + path for path in STAFF_PAGES]
    seen_paths: set[str] = set()
    problems: dict[str, list] = {}
    too_wide: dict[str, int] = {}
    refused: dict[str, int] = {}  # a link that leads to a page the persona cannot use
    started = time.monotonic()
    scanned = 0
    while queue and scanned < MAX_PAGES and time.monotonic() - started < BUDGET_SECONDS:
        url = queue.pop(0)
        path = _page_key(url)
        if path in seen_paths:
            continue
        seen_paths.add(path)
        response = page.goto(url)
        if response is None:
            continue
        if response.status >= 400 and not url.endswith("/no-such-page/"):
            refused[path] = response.status
        if "html" not in (response.headers.get("content-type") or ""):
            continue
        page.wait_for_load_state("load")
        scanned += 1
        violations = _scan(page, axe_source)
        if violations:
            problems[path] = violations
        page.set_viewport_size({"width": 390, "height": 800})
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[path] = width
        page.set_viewport_size({"width": 1280, "height": 900})
        queue.extend(link for link in _links(page, origin) if _page_key(link) not in seen_paths)
    print(f"{persona}: scanned {scanned} pages in {time.monotonic() - started:.0f} s")
    assert scanned >= 5, f"{persona} reached only {scanned} pages"
    assert not problems, "\n".join(
        f"{path}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}"
        for path, found in problems.items()
        for v in found
    )
    assert not too_wide, too_wide
    assert not refused, refused
