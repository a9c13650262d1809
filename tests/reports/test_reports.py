"""Reports over the demo warehouse: files, numbers equal the dashboard's, sections,
self-contained HTML, well-formed Markdown, empty periods, errors, PDF pages as PNG."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs
from typer.testing import CliRunner

from dashboard import metrics, trend_queries
from dashboard.queries import Filters
from dashboard.reports import ReportError, build_report
from dashboard.reports.build import gather_report
from dashboard.reports.content import END_RULE, default_end
from dashboard.reports.pdf import find_chromium
from hypewatch.cli import app
from tests.dashboard import CAMPAIGN, copy_of, warehouse
from tests.reports.conftest import DAY, OUT, has_chromium
from warehouse.read import connect_writer, reading

SECTIONS = [
    "Headline figures",
    "Volume, spikes and events",
    "Sentiment",
    "New and growing topics",
    "Copyright debate",
    "Share of voice",
    "Notable posts",
]


BASE_FIGURES = """
    WITH period AS (
        SELECT p.post_id, p.author_id,
               (SELECT arg_max(coalesce(m.likes, 0) + coalesce(m.reposts, 0)
                               + coalesce(m.replies, 0) + coalesce(m.quotes, 0), m.observed_at)
                FROM post_metrics m WHERE m.post_id = p.post_id) AS engagement,
               (SELECT any_value(label) FROM labels l
                WHERE l.post_id = p.post_id AND l.task = 'sentiment') AS sentiment,
               (SELECT any_value(label) FROM labels l
                WHERE l.post_id = p.post_id AND l.task = 'copyright') AS copyright
        FROM posts p WHERE p.campaign = $campaign AND p.created_at::DATE = $day
    )
    SELECT count(*), count(DISTINCT author_id), sum(coalesce(engagement, 0)),
           (count(*) FILTER (sentiment = 'positive') - count(*) FILTER (sentiment = 'negative'))
               / count(sentiment),
           count(*) FILTER (copyright = 'concern') / count(copyright)
    FROM period
"""
"""The headline figures of one day, straight from the base tables (posts, post_metrics,
labels; the test warehouse has one model per task), not through the dashboard's queries."""


def test_headline_numbers_equal_the_base_tables(
    report_db: Path, day_reports: dict[str, Path]
) -> None:
    with reading(report_db) as con:
        values = con.execute(BASE_FIGURES, {"campaign": CAMPAIGN, "day": DAY}).fetchone()
    posts = values[0]
    assert posts > 0
    expected = {
        label: metrics.Figure(label, value, None, kind).text()
        for (label, kind), value in zip(
            [("Posts", "count"), ("Authors", "count"), ("Engagement", "count"),
             ("Net sentiment", "signed"), ("Concern share", "share")],
            values, strict=True,
        )
    }  # fmt: skip
    md = day_reports["md"].read_text()
    html = day_reports["html"].read_text()
    for label, text in expected.items():
        row = re.search(rf"^\| {label} \| (.*?) \| (.*?) \| (.*?) \|$", md, re.M)
        assert row, f"no {label} row"
        assert row.group(1) == text, label
        cells = rf'<td class="c-figure">{label}</td>\s*<td class="c-this-period num">'
        assert re.search(cells + re.escape(text) + "</td>", html), label
    assert f"to {posts:,}" in md.split("## Headline")[0]  # the summary says it too


def test_every_section_and_the_summary(day_reports: dict[str, Path]) -> None:
    md = day_reports["md"].read_text()
    html = day_reports["html"].read_text()
    for title in SECTIONS:
        assert f"## {title}\n" in md
        assert f"<h2>{title}</h2>" in html
    assert "**Simulated data.**" in md and "<strong>Simulated data.</strong>" in html
    first = re.search(r"^- (Posts (rose|fell|held).*)$", md, re.M)
    assert first, md[:800]
    assert first.group(1).replace("'", "&#39;") in html
    for chart in ("volume", "sentiment", "indices", "topics", "concern", "voice"):
        assert f'id="fig-{chart}"' in html


def test_html_is_self_contained(day_reports: dict[str, Path]) -> None:
    html = day_reports["html"].read_text()
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert not re.search(r"<link\b", html, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html, re.I)
    assert html.count(get_plotlyjs()[:300]) == 1  # plotly.js inlined once
    assert html.count("<script") == 3  # plotly.js, the figures' JSON, the drawing code


def markdown_tables(text: str) -> list[list[str]]:
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            tables.append(block)
            block = []
    return tables


def cells(line: str) -> int:
    assert line.startswith("| ") and line.endswith(" |"), line
    return len(re.split(r"(?<!\\)\|", line)) - 2


def test_markdown_tables_are_well_formed(day_reports: dict[str, Path]) -> None:
    tables = markdown_tables(day_reports["md"].read_text())
    assert len(tables) >= 7
    for table in tables:
        width = cells(table[0])
        assert re.fullmatch(r"\|( -{3}:? \|)+", table[1].replace("---:", "---:")), table[1]
        assert all(cells(line) == width for line in table), table
        assert len(table) > 2


def test_empty_period_says_so(report_db: Path, tmp_path: Path) -> None:
    paths = build_report(report_db, CAMPAIGN, "week", date(2025, 6, 1), ["html", "md"], tmp_path)
    html, md = (p.read_text() for p in paths)
    assert "## No posts in this period" in md
    assert "There were no posts in this period, nor the week before." in md
    assert "<h2>No posts in this period</h2>" in html
    assert "Plotly" not in html
    assert all(cells(line) for table in markdown_tables(md) for line in table)


def test_default_end_is_the_last_complete_day(report_db: Path, tmp_path: Path) -> None:
    with reading(report_db) as con:
        last = con.execute(
            "SELECT max(created_at)::DATE FROM posts WHERE campaign = ?", [CAMPAIGN]
        ).fetchone()[0]
        assert default_end(con, CAMPAIGN) == last  # collected after the window closed
        # while the 27th is still being collected, the 26th is the last complete day
        assert default_end(con, CAMPAIGN, now=datetime(2025, 3, 27, 15)) == date(2025, 3, 26)
    (md,) = build_report(report_db, CAMPAIGN, "week", None, ["md"], tmp_path)
    assert md.name == f"{CAMPAIGN}-week-{last:%Y-%m-%d}.md"
    assert END_RULE in " ".join(md.read_text().split())


def test_spikes_and_topics_come_from_the_trends_stage(report_db: Path) -> None:
    content = gather_report(report_db, CAMPAIGN, "week", date(2025, 3, 28))
    with reading(report_db) as con:
        stored = con.execute(
            "SELECT count(*) FROM spikes WHERE campaign = ? AND series = 'all' "
            "AND end_hour >= '2025-03-22' AND start_hour < '2025-03-29'",
            [CAMPAIGN],
        ).fetchone()[0]
    assert content.spikes_stored and len(content.spikes) == stored > 0
    assert content.topics_available and content.topics["posts"].sum() > 0
    assert content.topics["is_new"].dtype == bool


def test_alerts_of_the_period_are_listed(report_db: Path, tmp_path: Path) -> None:
    content = gather_report(report_db, CAMPAIGN, "week", date(2025, 3, 28))
    assert (content.alerts["rule"] == "concern_share").any()
    (html,) = build_report(report_db, CAMPAIGN, "week", date(2025, 3, 28), ["html"], tmp_path)
    text = html.read_text()
    assert "<h2>Alerts</h2>" in text and "Copyright concern in 42% of labelled posts" in text


def test_reading_leaves_the_warehouse_unchanged(report_db: Path, tmp_path: Path) -> None:
    before = hashlib.md5(report_db.read_bytes()).hexdigest()
    build_report(report_db, CAMPAIGN, "day", DAY, ["md"], tmp_path)
    assert hashlib.md5(report_db.read_bytes()).hexdigest() == before


def test_bad_input_is_one_clear_error(report_db: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"unknown campaign 'nope'.*gpt4o-image-launch"):
        build_report(report_db, "nope", "day", DAY, ["md"], tmp_path)
    with pytest.raises(ReportError, match="unknown report format 'docx'"):
        build_report(report_db, CAMPAIGN, "day", DAY, ["docx"], tmp_path)
    with pytest.raises(ReportError, match="unknown period 'month'"):
        build_report(report_db, CAMPAIGN, "month", DAY, ["md"], tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ReportError, match="apt-get install chromium"):
        find_chromium(("/nonexistent/chromium",), search_path=False)
    runner = CliRunner()
    for args, message in (
        (["--end", "2025-02-30"], "bad --end date '2025-02-30'"),
        (["--format", "html,docx"], "unknown report format 'docx'"),
        (["--end", "2999-01-01"], "--end 2999-01-01 has not happened yet"),
    ):
        result = runner.invoke(
            app, ["report", "--campaign", CAMPAIGN, "--db", str(report_db), *args]
        )
        assert result.exit_code == 1
        assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_cli_writes_the_files(report_db: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["report", "--campaign", CAMPAIGN, "--period", "day", "--end", "2025-03-26",
         "--format", "md", "--format", "html", "--out", str(tmp_path), "--db", str(report_db)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{CAMPAIGN}-day-2025-03-26.html",
        f"{CAMPAIGN}-day-2025-03-26.md",
    ]


@pytest.mark.slow
def test_pdf_pages_render_to_png(day_reports: dict[str, Path]) -> None:
    if not has_chromium():
        pytest.skip("PDF needs /usr/bin/chromium and the playwright package")
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm not found (apt-get install poppler-utils)")
    pdf = day_reports["pdf"]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    prefix = OUT / pdf.stem
    for old in OUT.glob(f"{pdf.stem}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(prefix)], check=True)
    pages = sorted(OUT.glob(f"{pdf.stem}-*.png"))
    assert len(pages) >= 3
    assert all(p.stat().st_size > 5_000 for p in pages)  # not blank pages
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        for title in SECTIONS:
            assert title in text
        assert "Simulated data." in text


FALLBACK_DAY = date(2025, 4, 3)
"""A day of the labelled demo whose only volume spike peaks at 04:00 UTC."""


def test_without_trends_the_report_shows_the_overviews_fallback_spikes(tmp_path: Path) -> None:
    path = warehouse()  # labelled, the trends stage never ran
    content = gather_report(path, CAMPAIGN, "day", FALLBACK_DAY)
    f = Filters(CAMPAIGN, FALLBACK_DAY, FALLBACK_DAY, platforms=("reddit",))
    with reading(path) as con:
        assert not trend_queries.has_trends(con, f)
        shown = trend_queries.period_spikes(con, f)  # what the Overview shows (any platform)
    assert not content.spikes_stored
    assert list(content.spikes.columns) == trend_queries.SPIKE_COLUMNS
    assert content.spikes["peak_hour"].tolist() == shown["peak_hour"].tolist()
    # the series starts a day early, so the first hours of the day have a baseline
    assert [t.hour for t in content.spikes["peak_hour"]] == [4]
    assert (content.spikes["threshold"] == 4.0).all()
    (md,) = build_report(path, CAMPAIGN, "day", FALLBACK_DAY, ["md"], tmp_path)
    text = md.read_text()
    assert "Spikes (the same fallback rule as the dashboard's Overview" in text
    assert "| 03 Apr 04:00 |" in text


def test_a_future_end_is_an_error_and_an_empty_period_says_why(
    report_db: Path, tmp_path: Path
) -> None:
    with pytest.raises(ReportError, match=r"--end 2999-01-01 has not happened yet"):
        build_report(report_db, CAMPAIGN, "day", date(2999, 1, 1), ["md"], tmp_path)
    (md,) = build_report(report_db, CAMPAIGN, "day", date(2025, 6, 1), ["md"], tmp_path)
    assert "starts after the newest post stored for gpt4o-image-launch (2025-04-0" in (
        md.read_text()
    )


def test_a_failed_pdf_leaves_no_file(report_db: Path, tmp_path: Path) -> None:
    if not has_chromium():
        pytest.skip("PDF needs /usr/bin/chromium and the playwright package")
    not_a_browser = Path(shutil.which("true") or "/bin/true")
    with pytest.raises(ReportError, match="Chromium could not print"):
        build_report(
            report_db, CAMPAIGN, "day", DAY, ["html", "md", "pdf"], tmp_path, not_a_browser
        )
    assert list(tmp_path.iterdir()) == []


BUSY_ALERTS = """
    INSERT INTO alerts (alert_id, campaign, rule, bucket_start, grain, value, threshold,
                        posts, message, fired_at)
    SELECT 'busy-' || i, $campaign, 'negative_share',
           TIMESTAMP '2025-03-29 00:00' + i * INTERVAL 1 HOUR, 'hour', 0.5, 0.4, 20,
           'Negative share 50% (threshold 40%)', now()::TIMESTAMP
    FROM range(80) t(i)
"""
"""80 hourly alerts in the week ending 2025-04-04 (more than any page lists)."""


def busy_copy(path: Path, into: Path) -> Path:
    """A private copy of ``path`` with :data:`BUSY_ALERTS` added."""
    copy = copy_of(path, into)
    con = connect_writer(copy)
    try:
        con.execute(BUSY_ALERTS, {"campaign": CAMPAIGN})
    finally:
        con.close()
    return copy


def test_week_reports_every_alert_and_daily_indices(report_db: Path, tmp_path: Path) -> None:
    week = date(2025, 4, 4)
    busy = busy_copy(report_db, tmp_path)
    content = gather_report(busy, CAMPAIGN, "week", week)
    with reading(busy) as con:
        stored = con.execute(
            "SELECT count(*) FROM alerts WHERE campaign = ? AND bucket_start >= '2025-03-29' "
            "AND bucket_start < '2025-04-05'",
            [CAMPAIGN],
        ).fetchone()[0]
    assert len(content.alerts) == stored > 80
    assert content.alerts["bucket_start"].is_monotonic_increasing  # oldest first, none lost
    (md,) = build_report(busy, CAMPAIGN, "week", week, ["md"], tmp_path / "out")
    text = md.read_text()
    assert "Hype and debate indices (daily, 0–100):" in text and "(hourly" not in text
