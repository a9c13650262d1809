"""The PDF report: the HTML report printed by headless Chromium (Debian's package) through
Playwright, once Plotly has drawn every chart."""

from __future__ import annotations

import shutil
from pathlib import Path

from dashboard.reports.content import ReportError

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 760, "height": 1000}
"""Wide enough for the 700 px report column inside the A4 page margins."""
DRAW_TIMEOUT_MS = 60_000
FOOTER = (
    '<div style="font-size:8px;color:#6b7280;width:100%;padding:0 12mm;display:flex;'
    'justify-content:space-between"><span class="title"></span>'
    '<span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>'
)


def find_chromium(candidates: tuple[str, ...] = CHROMIUM_PATHS, search_path: bool = True) -> Path:
    """Debian's Chromium, or a :class:`ReportError` saying how to install it."""
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    found = search_path and (shutil.which("chromium") or shutil.which("chromium-browser"))
    if found:
        return Path(found)
    raise ReportError(
        "PDF reports need Chromium, not found at /usr/bin/chromium "
        "(apt-get install chromium), or use --format html|md"
    )


def html_to_pdf(html_path: Path, pdf_path: Path, chromium: Path | None = None) -> Path:
    """Print ``html_path`` (a report written by :mod:`dashboard.reports.html`) to A4 PDF."""
    browser_path = chromium or find_chromium()
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ReportError(
            "PDF reports need the playwright package: pip install 'hypewatch[report]'"
        ) from None
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(browser_path), args=CHROMIUM_ARGS, headless=True
            )
            try:
                page = browser.new_page(viewport=VIEWPORT)
                page.emulate_media(media="print")
                page.goto(html_path.resolve().as_uri(), wait_until="load")
                page.wait_for_function(
                    "document.body.dataset.ready !== 'no'", timeout=DRAW_TIMEOUT_MS
                )
                if page.evaluate("document.body.dataset.ready") != "yes":
                    raise ReportError(f"the charts of {html_path} failed to draw in Chromium")
                page.pdf(
                    path=str(pdf_path),
                    format="A4",
                    print_background=True,
                    prefer_css_page_size=True,
                    display_header_footer=True,
                    header_template="<span></span>",
                    footer_template=FOOTER,
                )
            finally:
                browser.close()
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportError(f"Chromium could not print {html_path.name}: {first}") from None
    return pdf_path
