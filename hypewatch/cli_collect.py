"""``hypewatch collect`` and ``hypewatch reparse``: parse the options, run the stage
(:func:`hypewatch.stages.collect_stage`, :func:`hypewatch.stages.reparse_stage`), print.

Registered in :mod:`hypewatch.cli` with ``app.command("collect")(collect_command)`` and
``app.command("reparse")(reparse_command)``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from hypewatch import stages
from hypewatch.cli_common import DbOption, friendly_errors, out, warn

SOURCES_HELP = "x|bluesky|mastodon|reddit|hn; repeat for several (default: all)"


def parse_when(value: str | None, option: str) -> datetime | None:
    """``2025-03-25`` or an ISO date-time (UTC unless it says otherwise)."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{option} {value!r} is not a date (2025-03-25) or date-time (2025-03-25T17:00)"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@friendly_errors
def collect_command(
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign name or .toml path")],
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help=SOURCES_HELP)] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Window start, UTC date or date-time (default: campaign start)"),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Window end, UTC date or date-time (default: campaign end)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the requests and cursors; fetch nothing")
    ] = False,
    db: DbOption = None,
) -> None:
    """Collect a campaign's posts from the live APIs; resumes where the last run stopped."""
    from ingest.collectors import get_collector

    for name in source or ():
        get_collector(name)
    camp = stages.load_campaign_named(campaign)
    start, end = parse_when(since, "--since"), parse_when(until, "--until")
    report = stages.collect_stage(stages.db_path(db), camp, source, start, end, dry_run=dry_run)
    if report.refresh_error is not None:  # the posts are stored; the warehouse is not free
        raise report.refresh_error
    warn(report.warnings)
    reports = report.sources
    _print_reports(out, reports, dry_run)
    asked = set(source or ())
    bad = [
        r
        for r in reports
        if r.status in ("failed", "partial") or (r.status == "skipped" and r.source in asked)
    ]
    if bad:
        raise typer.Exit(1)


def _print_reports(out: Any, reports: list, dry_run: bool) -> None:
    if dry_run:
        for r in reports:
            out.print(f"[bold]{r.source}[/] ({r.status}{': ' + r.error if r.error else ''})")
            for line in r.plan:
                out.print(f"  {line}", highlight=False, markup=False)
            for note in r.notes:
                out.print(f"  note: {note}", highlight=False, markup=False)
        return
    table = Table(title="collect", title_justify="left")
    columns = ("source", "status", "requests", "fetched", "new", "updated", "rejected", "resume at")
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("source", "status", "resume at") else "right"
        )
    for r in reports:
        table.add_row(
            r.source,
            r.status,
            f"{r.requests:,}",
            f"{r.fetched:,}",
            f"{r.new:,}",
            f"{r.updated:,}",
            f"{r.rejected:,}",
            r.resume_at or "",
        )
    out.print(table)
    for r in reports:
        if r.error:
            out.print(f"{r.source}: {r.error}", highlight=False, markup=False)
        for note in r.notes:
            out.print(f"{r.source}: note: {note}", highlight=False, markup=False)


@friendly_errors
def reparse_command(
    format: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="Payload format(s) to re-parse (default: all)"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Re-parse each post's latest raw payload with the current parsers (fixes in place)."""
    report = stages.reparse_stage(stages.db_path(db), format or None)
    warn(report.warnings)
    counts = report.counts
    out.print(
        f"reparsed: fetched {counts.fetched:,}, new {counts.new:,}, "
        f"updated {counts.updated:,}, rejected {counts.rejected:,}"
    )
