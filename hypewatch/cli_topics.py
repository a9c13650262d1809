"""``hypewatch topics`` and ``hypewatch trends``.

Registered in :mod:`hypewatch.cli` with ``app.command("topics")(topics_command)`` and
``app.command("trends")(trends_command)``. Nothing heavy is imported at module level (cli
imports this module; BERTopic, UMAP and HDBSCAN load only when ``topics`` runs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from hypewatch.cli_common import DbOption, friendly

CampaignOption = Annotated[
    str | None,
    typer.Option("--campaign", help="Campaign name or .toml path (default: all posts)"),
]


def _campaign_name(campaign: str | None) -> str | None:
    """Validate ``--campaign`` (name or file) and return the campaign's name."""
    if campaign is None:
        return None
    from hypewatch.cli import load_campaign_named

    return load_campaign_named(campaign).name


def _table(title: str, columns: list[str], rows: list[tuple]) -> None:
    from rich.table import Table

    from hypewatch.cli import out

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


@friendly
def topics_command(
    campaign: CampaignOption = None,
    refit: Annotated[
        bool, typer.Option("--refit", help="Fit a new topic run (the old runs are kept)")
    ] = False,
    db: DbOption = None,
) -> None:
    """Find the conversation's topics (BERTopic on the stored embeddings) and assign posts."""
    from hypewatch.cli import close_writer, db_path, open_writer

    name = _campaign_name(campaign)
    con = open_writer(db_path(db))
    try:
        report = topics_stage(con, name, refit=refit)
        rows = con.execute(
            "SELECT t.topic_id, count(pt.post_id) AS posts, "
            "round(100 * count(pt.post_id) / sum(count(pt.post_id)) OVER (), 1), t.name, "
            "array_to_string(t.keywords[:6], ', ') "
            "FROM topics t LEFT JOIN post_topics pt USING (run_id, topic_id) "
            "WHERE t.run_id = ? GROUP BY ALL ORDER BY t.topic_id",
            [report.run_id],
        ).fetchall()
    finally:
        close_writer(con)
    _table(f"topics of run {report.run_id}", ["topic", "posts", "%", "name", "keywords"], rows)


@friendly
def trends_command(
    campaign: CampaignOption = None,
    include_flagged: Annotated[
        bool,
        typer.Option("--include-flagged", help="Count near-duplicate and bot-like posts in spikes"),
    ] = False,
    db: DbOption = None,
) -> None:
    """Flag duplicates and bots, detect spikes; volumes, share of voice and indices follow."""
    from hypewatch.cli import close_writer, db_path, open_writer

    name = _campaign_name(campaign)
    path = db_path(db)
    con = open_writer(path)
    try:
        for report in trends_stage(con, name, include_flagged=include_flagged, deliver=False):
            _print_trends(con, report)
        outbox = alerts_to_send(con)
    finally:
        close_writer(con)
    send_alerts_then_record(path, outbox)  # the warehouse is free while the webhook runs


def topics_stage(con: Any, campaign: str | None, *, refit: bool = False) -> Any:
    """Fit or update topics as one ``analysis_runs`` row; prints the summary lines."""
    from analysis.topics import TopicSettings, run_topics
    from hypewatch.cli import out
    from hypewatch.settings import get_settings
    from warehouse.writes import analysis_run

    settings = TopicSettings.from_settings(get_settings())
    with analysis_run(con, "topics", campaign=campaign, models=["bertopic"]) as run:
        report = run_topics(con, campaign, refit=refit, settings=settings)
        run.posts = report.assigned
    action = "fitted" if report.refit else "updated"
    out.print(
        f"topic run {report.run_id} {action}: {report.topics} topics fitted on "
        f"{report.fit_posts:,} posts, {report.assigned:,} more assigned, "
        f"{report.outlier_share:.1%} unassigned ({report.seconds:.0f} s)"
    )
    if report.quality:
        q = report.quality
        out.print(
            f"against the SIMULATED storylines ({q['posts']:,} posts): adjusted Rand index "
            f"{q['ari']:.3f}, purity {q['purity']:.3f}"
        )
    return report


def trends_stage(
    con: Any, campaign: str | None, *, include_flagged: bool = False, deliver: bool = True
) -> list:
    """Duplicates, spikes and indices as one ``analysis_runs`` row, then the campaign's
    alerts (stored, printed); returns the reports.

    ``deliver`` also sends them to the webhook (when one is set) on ``con``, which stays
    open meanwhile; callers that can close the warehouse first pass ``deliver=False`` and
    use :func:`alerts_to_send` then :func:`send_alerts_then_record`."""
    from dataclasses import replace

    from analysis.trends import TrendSettings, run_trends
    from hypewatch.settings import get_settings
    from warehouse.writes import analysis_run

    app_settings = get_settings()
    settings = TrendSettings.from_settings(app_settings)
    if include_flagged:
        settings = replace(settings, exclude_flagged=False)
    _reload_campaign(con, campaign)
    with analysis_run(con, "trends", campaign=campaign, models=["minhash"]) as run:
        reports = run_trends(con, campaign, settings, all_campaigns=campaign is None)
        _fire_alerts(con, [r.campaign for r in reports], app_settings)
        run.posts = sum(r.flags.posts for r in reports)
    if deliver:
        _deliver_alerts(con)
    return reports


def _reload_campaign(con: Any, campaign: str | None) -> None:
    """Load ``campaigns_dir/NAME.toml`` again when it changed since it was stored, so an
    edited ``[alerts]`` (or entity list) counts from this run on."""
    import orjson

    from hypewatch.campaigns import CampaignError
    from hypewatch.cli import load_campaign_named, out
    from warehouse.writes import store_campaign

    if campaign is None:
        return
    try:
        camp = load_campaign_named(campaign)
    except CampaignError:
        return  # not in campaigns_dir (loaded from a path earlier): keep the stored one
    row = con.execute("SELECT config FROM campaigns WHERE campaign = ?", [campaign]).fetchone()
    if row is not None and orjson.loads(row[0]) == orjson.loads(camp.model_dump_json()):
        return
    store_campaign(con, camp)
    if row is not None:
        out.print(
            f"campaign {campaign}: file changed since it was loaded; reloaded", highlight=False
        )


def _fire_alerts(con: Any, campaigns: list, app_settings: Any) -> list:
    """Evaluate each campaign's ``[alerts]`` (as loaded in the warehouse); prints the count."""
    from analysis.alerts import evaluate_alerts, stored_thresholds
    from hypewatch.campaigns import Alerts
    from hypewatch.cli import out

    fired = []
    for name in campaigns:
        config = stored_thresholds(con, name) if name is not None else None
        if config is None:
            continue
        thresholds = Alerts.model_validate(config)
        if not thresholds.rules():
            continue
        new = evaluate_alerts(
            con, name, thresholds, pending=app_settings.alert_webhook_url is not None
        )
        fired.extend(new)
        rules = ", ".join(f"{r} >= {v:g}" for r, v in thresholds.rules().items())
        out.print(
            f"alerts for {name}: {len(new)} fired ({rules}; buckets of at least "
            f"{thresholds.min_posts} posts)",
            highlight=False,
        )
        for alert in new[:10]:
            out.print(f"  {alert.message}", highlight=False, markup=False)
        if len(new) > 10:
            out.print(f"  ... and {len(new) - 10} more (table alerts)", highlight=False)
    return fired


def _deliver_alerts(con: Any) -> None:
    """POST new, pending and failed alerts to the webhook on ``con``; never fails the stage."""
    _send_and_record(alerts_to_send(con), lambda delivery: _record(con, delivery))


def alerts_to_send(con: Any) -> list[tuple[str, str]]:
    """The alerts the webhook should get now (none without a webhook URL); read before the
    warehouse is closed for :func:`send_alerts_then_record`."""
    from hypewatch.settings import get_settings
    from hypewatch.webhooks import claim_alerts

    app_settings = get_settings()
    if app_settings.alert_webhook_url is None:
        return []
    return claim_alerts(con, max_attempts=app_settings.alert_webhook_max_attempts)


def send_alerts_then_record(db: Path, rows: list[tuple[str, str]]) -> None:
    """POST ``rows`` with no warehouse connection open, then reopen the warehouse briefly
    (``connect_writer``) to write the outcomes back; never raises."""
    from warehouse.read import connect_writer

    def record(delivery: Any) -> Any:
        con = connect_writer(db)
        try:
            return _record(con, delivery)
        finally:
            con.close()

    _send_and_record(rows, record)


def _record(con: Any, delivery: Any) -> Any:
    from hypewatch.webhooks import record_delivery

    return record_delivery(con, delivery)


def _send_and_record(rows: list[tuple[str, str]], record: Callable[[Any], Any]) -> None:
    """Send ``rows`` with the webhook settings, record the outcome, print one line."""
    import logging

    from hypewatch.cli import err, out
    from hypewatch.settings import get_settings
    from hypewatch.webhooks import send_alerts

    app_settings = get_settings()
    if app_settings.alert_webhook_url is None or not rows:
        return
    try:
        delivery = send_alerts(
            app_settings.alert_webhook_url,
            rows,
            timeout_s=app_settings.alert_webhook_timeout_s,
            attempts=app_settings.alert_webhook_attempts,
            budget_s=app_settings.alert_webhook_budget_s,
        )
        report = record(delivery)
    except Exception as exc:  # delivery never blocks or fails the pipeline
        logging.getLogger(__name__).warning(
            "alert delivery not recorded: %s; the alerts stay unconfirmed", type(exc).__name__
        )
        err.print(
            f"warning: alert delivery not recorded ({type(exc).__name__}): the alerts stay "
            "'unconfirmed' and are not sent again (docs/metrics.md says how to resend them)"
        )
        return
    out.print(f"alert webhook: {report.summary()} ({report.seconds:.1f} s)", highlight=False)


def _print_trends(con: Any, report: Any) -> None:
    """One campaign's trend run: flags, spikes, share of voice and the indices' peaks."""
    from hypewatch.cli import out

    flags = report.flags
    out.print(
        f"trends for {report.campaign or 'all campaigns'}: {flags.flagged:,} of {flags.posts:,} "
        f"posts flagged in {flags.clusters:,} near-duplicate clusters, {flags.bot_clusters:,} "
        f"bot-like; {report.spikes} spikes at score >= {report.threshold:g}"
    )
    campaign = [report.campaign]
    rows = con.execute(
        "SELECT series, strftime(start_hour, '%m-%d %H:00'), "
        "end_hour - start_hour + INTERVAL 1 HOUR, posts, round(peak_score, 1), "
        "array_to_string(top_topics[:3], ' · ') "
        "FROM spikes WHERE campaign IS NOT DISTINCT FROM ? ORDER BY peak_score DESC LIMIT 15",
        campaign,
    ).fetchall()
    rows = [(s, t, str(span), f"{n:,}", score, top) for s, t, span, n, score, top in rows]
    _table("spikes (UTC)", ["series", "start", "length", "posts", "score", "top topics"], rows)
    rows = con.execute(
        "SELECT entity, sum(mentions)::BIGINT AS mentions, "
        "round(100 * sum(mentions) / sum(sum(mentions)) OVER (), 1) "
        "FROM entity_hourly WHERE campaign IS NOT DISTINCT FROM ? "
        "GROUP BY 1 ORDER BY mentions DESC LIMIT 12",
        campaign,
    ).fetchall()
    _table("share of voice (mentions, flagged posts left out)", ["entity", "mentions", "%"], rows)
    labelled = con.execute("SELECT count(sentiment) FROM post_labels").fetchall()[0][0]
    if not labelled:
        out.print("hype and debate indices: no labels yet (run `hypewatch analyze`)")
        return
    for index in ("hype_index", "debate_index"):
        peak = con.execute(
            f"SELECT strftime(hour_utc, '%m-%d %H:00'), round({index}, 1) FROM trend_indices "
            f"WHERE campaign IS NOT DISTINCT FROM ? AND {index} IS NOT NULL "
            f"ORDER BY {index} DESC LIMIT 1",
            campaign,
        ).fetchall()
        if peak:
            out.print(f"{index.replace('_', ' ')} peaks at {peak[0][1]} on {peak[0][0]} UTC")
