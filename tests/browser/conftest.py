"""Playwright driving Debian's Chromium (/usr/bin/chromium) against the live test server."""

import os
import pathlib
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# Module scope: while Playwright's sync API is open it keeps an event loop running in this
# thread, and code under test that calls asyncio.run() (the OPC UA adapter) must not see it.
@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs the chromium package")
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the tests' ORM calls are
    # synchronous and safe, so Django's async guard is relaxed for this process only.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def login(page, live_server):
    """Log in through the real form as ``username``; returns the page."""

    def _login(username: str, password: str):
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        return page

    return _login


SCREENSHOT_WIDTHS = (1440, 390)


SCREENSHOT_DEFAULT = pathlib.Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
_shots_taken: list[pathlib.Path] = []


@pytest.fixture(scope="session")
def screenshot_dir():
    """Where the run keeps its screenshots: ``SCREENSHOT_DIR``, else ``artifacts/screenshots``
    of the checkout (git-ignored; CI keeps the folder as an artifact). Never committed."""
    path = pathlib.Path(os.environ.get("SCREENSHOT_DIR") or SCREENSHOT_DEFAULT)
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_terminal_summary(terminalreporter):
    """Say where the screenshots of this run are (the CI artifact's folder)."""
    if _shots_taken:
        folder = _shots_taken[0].parent
        terminalreporter.write_line(
            f"{len(_shots_taken)} screenshots (1440 and 390 px) in {folder}"
        )


@pytest.fixture
def shoot(page, screenshot_dir):
    """``shoot(name)``: the current page at 1440 and 390 px wide, full length; returns the
    page's width at 390 px (what a phone would have to scroll sideways)."""

    def _shoot(name: str) -> int:
        width_at_phone = 0
        for width in SCREENSHOT_WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            target = screenshot_dir / f"{name}-{width}.png"
            page.screenshot(path=str(target), full_page=True)
            _shots_taken.append(target)
            if width == 390:
                width_at_phone = page.evaluate("document.documentElement.scrollWidth")
        page.set_viewport_size({"width": 1280, "height": 900})
        return width_at_phone

    return _shoot
