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
) -> list[Path]:
    """Write the report of ``campaign`` for the ``period`` ending ``end`` (default: the last
    complete day with data) into ``out_dir``; returns the files written, html/md/pdf order."""
    wanted = check_formats(formats)
    if "pdf" in wanted:
        from dashboard.reports.pdf import find_chromium

        find_chromium()  # fail before reading anything
    content = gather_report(Path(db_path), campaign, period, end)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_name(campaign, period, content.window.end)
    written: list[Path] = []
    html = render_html(content) if {"html", "pdf"} & set(wanted) else None
    if "html" in wanted:
        written.append(_write(out_dir / f"{stem}.html", html))
    if "md" in wanted:
        written.append(_write(out_dir / f"{stem}.md", render_markdown(content)))
    if "pdf" in wanted:
        from dashboard.reports.pdf import html_to_pdf

        with tempfile.TemporaryDirectory(prefix="hypewatch-report-") as tmp:
            source = _write(Path(tmp) / f"{stem}.html", html)
            pdf = out_dir / f"{stem}.pdf"
            html_to_pdf(source, pdf.with_suffix(".pdf.part"))
            pdf.with_suffix(".pdf.part").replace(pdf)
        written.append(pdf)
    return written


def _write(path: Path, text: str | None) -> Path:
    """Write ``text`` atomically (a reader never sees half a report)."""
    part = path.with_name(path.name + ".part")
    part.write_text(text or "", encoding="utf-8")
    part.replace(path)
    return path
