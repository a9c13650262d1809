"""A real browser on the real server: every page renders, no exception box, no console error.

Starts ``streamlit run`` with the command line ``dashboard.server`` uses, on a free port,
over a small labelled test warehouse after the topics and trends stages (with alerts,
:mod:`tests.dashboard.analysed`); drives Debian's chromium through Playwright; saves a
full-page screenshot of each page under ``build/screenshots/``. Skips (with the reason)
when chromium or the ``playwright`` package is missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from dashboard.auth import AUTH_ENV
from dashboard.reports.pdf import CHROMIUM_ARGS
from dashboard.server import DB_ENV, streamlit_command
from tests.dashboard import CAMPAIGN
from tests.dashboard.analysed import analysed_warehouse

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PAGES = {
    "overview": "Overview",
    "sentiment": "Sentiment",
    "topics": "Topics",
    "copyright": "Copyright debate",
    "share_of_voice": "Share of voice",
    "posts": "Posts",
    "sql": "SQL",
}
CHARTS = {"overview": 2, "topics": 1}
"""Pages whose Plotly charts must be drawn (the topics and trends stages have run)."""
QUERY = f"?campaign={CAMPAIGN}&from=2025-03-20&to=2025-04-04"

pytestmark = pytest.mark.slow


def _playwright():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install playwright)")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("streamlit did not become healthy in time")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    sync_playwright = _playwright()
    db = analysed_warehouse()
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, DB_ENV: str(db), AUTH_ENV: "none"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            streamlit_command("127.0.0.1", port), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, sync_playwright
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _settle(page, title: str) -> None:
    """Wait until the page's script run finished and its charts are drawn."""
    page.wait_for_selector(f'[data-testid="stMain"] h1:has-text("{title}")')
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)


def _charts_drawn(page, name: str, problems: list[str]) -> None:
    """Wait until the page's :data:`CHARTS` hold a drawn Plotly plot (Plotly draws after
    the script run, and only charts scrolled into view)."""
    expected = CHARTS.get(name, 0)
    if not expected:
        return
    plots = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot g.cartesianlayer')
    try:
        plots.nth(expected - 1).wait_for(state="attached", timeout=30_000)
    except Exception:  # playwright's TimeoutError: reported below
        problems.append(f"{name}: {plots.count()} charts drawn, {expected} expected")


def _full_page_screenshot(page, path: Path, before: Callable[[], None] | None = None) -> None:
    """Streamlit scrolls inside its main container: grow the viewport to fit, then shoot
    (``before`` runs once the viewport is grown, e.g. to wait for the charts)."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll("
        '\'[data-testid="stMain"], [data-testid="stAppViewContainer"]\')]'
        ".map(e => e.scrollHeight), 900)"
    )
    page.set_viewport_size({"width": 1440, "height": min(int(height) + 40, 8000)})
    page.wait_for_timeout(600)
    if before is not None:
        before()
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def _watch(page, problems: list[str], current: dict, ignore: tuple[str, ...] = ()) -> None:
    def add(text: str) -> None:
        if not any(part in text for part in ignore):
            problems.append(f"{current['name']}: {text}")

    page.on("console", lambda m: add(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: add(f"page error: {e}"))
    page.on("response", lambda r: add(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: add(f"request failed: {r.url} {r.failure}"))


def _launch(p):
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def test_every_page_renders_in_chromium(server) -> None:
    """Open the app, click through every page; any console error or exception box fails."""
    url, sync_playwright = server
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    current = {"name": "overview"}
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(60_000)
            _watch(page, problems, current)
            page.goto(f"{url}/{QUERY}")
            for name, title in PAGES.items():
                current["name"] = name
                if name != "overview":
                    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
                _settle(page, title)
                exceptions = page.locator('[data-testid="stException"]')
                if exceptions.count():
                    problems.append(f"{name}: exception box: {exceptions.first.inner_text()}")
                assert f"campaign={CAMPAIGN}" in page.url, f"{name}: filters left the URL"
                _full_page_screenshot(
                    page,
                    SCREENSHOTS / f"{name}.png",
                    lambda n=name: _charts_drawn(page, n, problems),
                )
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


def test_dark_theme(server) -> None:
    """With a dark system theme, Streamlit and the charts switch to dark (screenshots)."""
    url, sync_playwright = server
    problems: list[str] = []
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, color_scheme="dark")
            page.set_default_timeout(60_000)
            _watch(page, problems, {"name": "dark"})
            page.goto(f"{url}/{QUERY}")
            _settle(page, "Overview")
            background = page.evaluate(
                "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]'))"
                ".backgroundColor"
            )
            red, green, blue = (int(v) for v in background[4:-1].split(",")[:3])
            assert red + green + blue < 200, background
            _full_page_screenshot(page, SCREENSHOTS / "overview_dark.png")
            page.locator('[data-testid="stSidebarNav"] a', has_text="Sentiment").first.click()
            _settle(page, "Sentiment")
            _full_page_screenshot(page, SCREENSHOTS / "sentiment_dark.png")
            page.locator('[data-testid="stSidebarNav"] a', has_text="Topics").first.click()
            _settle(page, "Topics")
            _full_page_screenshot(page, SCREENSHOTS / "topics_dark.png")
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


def test_a_shared_link_restores_the_filters(server) -> None:
    """A link to a page with filters in its query string opens that view."""
    url, sync_playwright = server
    problems: list[str] = []
    # Loading a page's own path makes Streamlit's frontend probe /<page>/_stcore/... first
    # (404) before the server root: expected, not an app error.
    ignore = ("/copyright/_stcore/", "status of 404")
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(60_000)
            _watch(page, problems, {"name": "shared link"}, ignore)
            page.goto(f"{url}/copyright{QUERY}&platform=bluesky&lang=en")
            _settle(page, "Copyright debate")
            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_text("Bluesky").first.wait_for(state="visible", timeout=30_000)
            sidebar.get_by_text("English (en)").first.wait_for(state="visible", timeout=30_000)
            assert "platform=bluesky" in page.url and "lang=en" in page.url
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
