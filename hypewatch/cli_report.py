"""``hypewatch report``: write a campaign's daily or weekly report (HTML, Markdown, PDF)
with :func:`hypewatch.stages.report_stage`.

Registered in :mod:`hypewatch.cli` with ``app.command("report")(report_command)``. The
report code (jinja2, Plotly, Playwright) loads only when the command runs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from hypewatch import stages
from hypewatch.cli_common import friendly_errors
from hypewatch.cli_common import out as console


def parse_end(value: str | None) -> date | None:
    """``--end`` as a date, or a ValueError naming the bad value."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"bad --end date {value!r}: use YYYY-MM-DD (a UTC day)") from None


def parse_formats(values: list[str]) -> list[str]:
    """``--format html --format pdf`` or ``--format html,md,pdf``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@friendly_errors
def report_command(
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign name (or its .toml file)")],
    period: Annotated[str, typer.Option("--period", help="day or week")] = "day",
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            help="Last UTC day of the report, YYYY-MM-DD (default: the last complete day "
            "with data for the campaign)",
        ),
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format", help="html, md or pdf; repeat or comma-separate for several (default: html)"
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder the report files are written to")
    ] = Path("reports"),
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", help="Warehouse file (default: $HYPEWATCH_DB or data/hypewatch.duckdb)"
        ),
    ] = None,
) -> None:
    """Write a report an analyst can forward: headline figures vs the previous period,
    volume with spikes and events, sentiment, new and growing topics, the copyright debate,
    share of voice and notable posts, with a summary written from the numbers."""
    report = stages.report_stage(
        stages.db_path(db),
        campaign,
        period,
        parse_end(end),
        parse_formats(formats or ["html"]),
        out,
    )
    for path in report.paths:
        console.print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB)", highlight=False)
