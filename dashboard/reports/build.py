"""``build_report``: gather a campaign's period once, write it as HTML, Markdown and/or PDF."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from dashboard.reports.content import PERIODS, ReportContent, ReportError, gather
from dashboard.reports.html import render_html
from dashboard.reports.markdown import render_markdown
from warehouse.read import reading

FORMATS = ("html", "md", "pdf")


def check_formats(formats: Sequence[str]) -> list[str]:
    """The requested formats in a fixed order, or a :class:`ReportError` naming a bad one."""
    if isinstance(formats, str):
        formats = [formats]
    wanted = [f.strip().lower() for f in formats if f.strip()]
    for f in wanted:
        if f not in FORMATS:
            raise ReportError(f"unknown report format {f!r}: use html, md or pdf")
    if not wanted:
        raise ReportError("no report format given: use html, md or pdf")
    return [f for f in FORMATS if f in wanted]


def report_name(campaign: str, period: str, end: date) -> str:
    """``{campaign}-{period}-{end:%Y-%m-%d}`` (the files add ``.html``, ``.md``, ``.pdf``)."""
    return f"{campaign}-{period}-{end:%Y-%m-%d}"


def gather_report(
    db_path: Path, campaign: str, period: str, end: date | None, now: datetime | None = None
) -> ReportContent:
    """The report's content, read on a read-only connection (writers may keep writing)."""
    if period not in PERIODS:
        raise ReportError(f"unknown period {period!r}: use day or week")
    with reading(db_path) as con:
        return gather(con, campaign, period, end, now)  # type: ignore[arg-type]


def build_report(
    db_path: Path,
    campaign: str,
    period: Literal["day", "week"],
    end: date | None,
    formats: Sequence[str],
    out_dir: Path,
    chromium: Path | None = None,
) -> list[Path]:
    """Write the report of ``campaign`` for the ``period`` ending ``end`` (default: the last
    complete day with data) into ``out_dir``; returns the files written, html/md/pdf order.
    All or nothing: when a format fails (Chromium, say), no file is written or left behind.
    ``chromium``: the browser that prints the PDF (default: Debian's, found on the path)."""
    wanted = check_formats(formats)
    if "pdf" in wanted:
        from dashboard.reports.pdf import find_chromium

        chromium = chromium or find_chromium()  # fail before reading anything
    content = gather_report(Path(db_path), campaign, period, end)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_name(campaign, period, content.window.end)
    html = render_html(content) if {"html", "pdf"} & set(wanted) else ""
    texts = {"html": html, "md": render_markdown(content) if "md" in wanted else ""}
    with tempfile.TemporaryDirectory(prefix="hypewatch-report-", dir=out_dir) as tmp:
        # everything is rendered into the temporary folder first (the PDF too), then moved
        # into place: a failure leaves no partial output, and the folder goes either way
        staged: list[tuple[Path, Path]] = []
        for fmt in wanted:
            part = Path(tmp) / f"{stem}.{fmt}"
            if fmt == "pdf":
                from dashboard.reports.pdf import html_to_pdf

                source = Path(tmp) / f"{stem}.print.html"
                source.write_text(html, encoding="utf-8")
                html_to_pdf(source, part, chromium)
            else:
                part.write_text(texts[fmt], encoding="utf-8")
            staged.append((part, out_dir / part.name))
        for part, final in staged:
            part.replace(final)
    return [final for _, final in staged]
