"""``hypewatch topics`` and ``hypewatch trends``: parse the options, run the stage
(:func:`hypewatch.stages.topics_stage`, :func:`hypewatch.stages.trends_stage`), print.

Registered in :mod:`hypewatch.cli` with ``app.command("topics")(topics_command)`` and
``app.command("trends")(trends_command)``. Nothing heavy is imported at module level
(BERTopic, UMAP and HDBSCAN load only when ``topics`` runs).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from hypewatch import stages
from hypewatch.cli_common import DbOption, err, friendly_errors, out, warn

CampaignOption = Annotated[
    str | None,
    typer.Option("--campaign", help="Campaign name or .toml path (default: all posts)"),
]


def _campaign_name(campaign: str | None) -> str | None:
    """Validate ``--campaign`` (name or file) and return the campaign's name."""
    if campaign is None:
        return None
    return stages.load_campaign_named(campaign).name


def _table(title: str, columns: list[str], rows: list[tuple]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


@friendly_errors
def topics_command(
    campaign: CampaignOption = None,
    refit: Annotated[
        bool, typer.Option("--refit", help="Fit a new topic run (the old runs are kept)")
    ] = False,
    db: DbOption = None,
) -> None:
    """Find the conversation's topics (BERTopic on the stored embeddings) and assign posts."""
    name = _campaign_name(campaign)
    report = stages.topics_stage(stages.db_path(db), name, refit=refit)
    for line in report.lines():
        out.print(line)
    warn(report.warnings)
    columns = ["topic", "posts", "%", "name", "keywords"]
    _table(f"topics of run {report.run_id}", columns, report.table)


@friendly_errors
def trends_command(
    campaign: CampaignOption = None,
    include_flagged: Annotated[
        bool,
        typer.Option("--include-flagged", help="Count near-duplicate and bot-like posts in spikes"),
    ] = False,
    db: DbOption = None,
) -> None:
    """Flag duplicates and bots, detect spikes; volumes, share of voice and indices follow."""
    name = _campaign_name(campaign)
    # the webhook is called after the warehouse is closed: readers are not held up by it
    report = stages.trends_stage(stages.db_path(db), name, include_flagged=include_flagged)
    print_alerts(report)
    for trends, summary in zip(report.campaigns, report.summaries, strict=True):
        _print_trends(trends, summary)
    warn(report.warnings)
    print_delivery(report.delivery)


def print_alerts(report: stages.TrendsReport) -> None:
    """A reloaded campaign file, then the alerts each campaign fired (10 at most)."""
    if line := report.reload_line():
        out.print(line, highlight=False)
    for fired in report.alerts:
        for line in fired.lines():
            out.print(line, highlight=False, markup=False)


def print_delivery(delivery: stages.AlertDelivery | None) -> None:
    """What the webhook got (nothing when none is set or nothing was to send)."""
    if delivery is None:
        return
    if delivery.report is None:
        err.print(f"warning: {delivery.line()}")
    else:
        out.print(delivery.line(), highlight=False)


def _print_trends(report: Any, summary: stages.TrendSummary) -> None:
    """One campaign's trend run: flags, spikes, share of voice and the indices' peaks."""
    flags = report.flags
    out.print(
        f"trends for {report.campaign or 'all campaigns'}: {flags.flagged:,} of {flags.posts:,} "
        f"posts flagged in {flags.clusters:,} near-duplicate clusters, {flags.bot_clusters:,} "
        f"bot-like; {report.spikes} spikes at score >= {report.threshold:g}"
    )
    rows = [(s, t, str(span), f"{n:,}", score, top) for s, t, span, n, score, top in summary.spikes]
    _table("spikes (UTC)", ["series", "start", "length", "posts", "score", "top topics"], rows)
    _table(
        "share of voice (mentions, flagged posts left out)",
        ["entity", "mentions", "%"],
        summary.share_of_voice,
    )
    if not summary.labelled:
        out.print("hype and debate indices: no labels yet (run `hypewatch analyze`)")
        return
    for index, (hour, value) in summary.peaks.items():
        out.print(f"{index.replace('_', ' ')} peaks at {value} on {hour} UTC")
