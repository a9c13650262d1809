"""A small analysed demo warehouse, and its reports in all three formats, built once per session.

The warehouse is the dashboard tests' analysed 3,000-post demo
(:func:`tests.dashboard.analysed.analysed_warehouse`: FAKE labels and embeddings derived from
the simulator's truth, then the real topics and trends stages, and alerts rows). The reports
land in ``build/reports/`` so a person can open them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dashboard.reports import build_report
from dashboard.reports.pdf import find_chromium
from tests.dashboard import CAMPAIGN
from tests.dashboard.analysed import analysed_warehouse

OUT = Path(__file__).resolve().parents[2] / "build" / "reports"
DAY = date(2025, 3, 26)
"""The day after the launch: the Ghibli wave, the busiest day of the simulated week."""


@pytest.fixture(scope="session")
def report_db() -> Path:
    """The dashboard tests' analysed warehouse (read-only use: reports never write)."""
    return analysed_warehouse()


def has_chromium() -> bool:
    try:
        find_chromium()
    except ValueError:
        return False
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session")
def day_reports(report_db: Path) -> dict[str, Path]:
    """The daily report of :data:`DAY` as html, md and (with Chromium) pdf."""
    OUT.mkdir(parents=True, exist_ok=True)
    formats = ["html", "md", "pdf"] if has_chromium() else ["html", "md"]
    paths = build_report(report_db, CAMPAIGN, "day", DAY, formats, OUT)
    return {p.suffix[1:]: p for p in paths}
