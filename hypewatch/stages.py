"""The pipeline's stages: import, collect, analyze, topics, trends, report.

The one home of what the command line (``hypewatch/cli*.py``), the scheduler
(:mod:`hypewatch.schedule`) and the Ray engine run. Each stage is a plain function of
explicit arguments (the warehouse, the campaign, the settings, options) that returns a
report dataclass. Nothing here prints, parses an option or imports the command line
(``typer``, ``rich``, ``hypewatch.cli*``; ``tests/test_imports.py`` checks it): what a
command shows (the summary lines, the alerts fired, a warning that the dashboard's
aggregates were not refreshed) is in the report, for the caller to print or log.

The warehouse is a path or an open connection (:data:`Target`). Given a path, a stage
opens it for writing (:func:`open_writer`: the dashboard's readers step aside first),
runs, refreshes the dashboard's aggregates and closes it (:func:`close_writer`); given a
connection it runs on it and leaves refreshing and closing to the caller (the demo keeps
one connection for all its stages). Models, BERTopic and the report code load only when
their stage runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from hypewatch.campaigns import Campaign, CampaignError, find_campaign
from hypewatch.settings import Settings, get_settings
from ingest.files import InputFileError
from warehouse.db import WarehouseError
from warehouse.sandbox import QueryRefused

if TYPE_CHECKING:
    from hypewatch.analyze import AnalyzeReport
    from hypewatch.analyze_ray import RayOptions
    from hypewatch.pipeline import DemoReport
    from hypewatch.webhooks import DeliveryReport
    from ingest.collectors.driver import SourceReport
    from warehouse.writes import WriteCounts

log = logging.getLogger(__name__)

USER_ERRORS = (
    WarehouseError,
    CampaignError,
    InputFileError,
    QueryRefused,
    duckdb.Error,
    ValueError,
)
"""Errors a user can fix, whose message says it all: the command line shows one line and
exits 1, the scheduler logs them without a traceback."""

Target = Path | duckdb.DuckDBPyConnection
"""The warehouse a stage writes: its path (opened, refreshed and closed by the stage) or a
connection the caller holds."""

Progress = Callable[[int], None]

ENGINES = ("local", "ray")
"""Where ``analyze`` runs: this process, or an actor pool on a Ray cluster
(:mod:`hypewatch.analyze_ray`, docs/scaling.md)."""

DEVICES = (None, "auto", "cpu", "cuda")


# ------------------------------------------------------------ the warehouse, the campaign


def db_path(db: Path | None, settings: Settings | None = None) -> Path:
    """The warehouse file: ``db``, else the ``db`` setting."""
    return db or (settings or get_settings()).db


def load_campaign_named(name: str, settings: Settings | None = None) -> Campaign:
    """A campaign by name (``campaigns_dir/NAME.toml``) or by .toml path."""
    return find_campaign(name, (settings or get_settings()).campaigns_dir)


def open_writer(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection that lets the dashboard's readers step aside first."""
    from warehouse.read import connect_writer

    return connect_writer(path)


def close_writer(con: duckdb.DuckDBPyConnection, *, full_refresh: bool = False) -> str | None:
    """Refresh the dashboard's aggregates with what was written, then close ``con``.

    Returns a warning when the refresh failed (the data is stored; the next write
    retries), for the caller to show; never raises for it, so it never hides the error of
    the work before it."""
    from warehouse.aggregates import refresh_aggregates

    try:
        refresh_aggregates(con, full=full_refresh)
    except Exception as exc:
        return f"dashboard aggregates not refreshed ({exc}); the next write retries"
    finally:
        con.close()
    return None


def refresh_at(path: Path, *, full: bool = False) -> str | None:
    """Open the warehouse, refresh the dashboard's aggregates, close (the warning, if any,
    as :func:`close_writer`). Opening it may fail (raises)."""
    return close_writer(open_writer(path), full_refresh=full)


@contextmanager
def writing(
    path: Path, warnings: list[str], *, full_refresh: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """``open_writer`` for the block, then ``close_writer``; its warning goes to
    ``warnings``."""
    con = open_writer(path)
    try:
        yield con
    finally:
        if warning := close_writer(con, full_refresh=full_refresh):
            warnings.append(warning)


@contextmanager
def _connection(
    target: Target, warnings: list[str], *, full_refresh: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    if isinstance(target, duckdb.DuckDBPyConnection):
        yield target
    else:
        with writing(Path(target), warnings, full_refresh=full_refresh) as con:
            yield con


@dataclass(kw_only=True)
class StageReport:
    warnings: list[str] = field(default_factory=list)
    """What the caller should show as a warning (the command line: on stderr)."""


# --------------------------------------------------------------------------------- import


@dataclass(kw_only=True)
class ImportReport(StageReport):
    run_id: int
    counts: WriteCounts


def check_import(file: Path, fmt: str) -> None:
    """The format is known and the file exists (before anything else is looked at)."""
    from ingest.parsers import get_format

    get_format(fmt)
    if not file.is_file():
        raise InputFileError(f"{file} does not exist or is not a file")


def import_stage(
    path: Path,
    file: Path,
    fmt: str,
    *,
    campaign: Campaign | None = None,
    mapping: dict[str, str] | None = None,
    progress: Progress | None = None,
    waiting: Callable[[str], None] | None = None,
) -> ImportReport:
    """``hypewatch import``: one file of native payloads into the warehouse at ``path``.

    The warehouse stays open between batches until a reader waits (``waiting`` hears
    that), then the dashboard's aggregates are refreshed once at the end."""
    from hypewatch.pipeline import import_file, import_writes

    check_import(file, fmt)
    writes = import_writes(path, waiting=waiting)
    run_id, counts = import_file(
        writes, file, fmt, campaign=campaign, mapping=mapping or None, progress=progress
    )
    warning = refresh_at(path)
    return ImportReport(run_id=run_id, counts=counts, warnings=[warning] if warning else [])


def demo_stage(
    con: duckdb.DuckDBPyConnection,
    campaign: Campaign,
    *,
    size: int,
    seed: int = 42,
    progress: Progress | None = None,
) -> DemoReport:
    """The simulated launch week, replayed through the parsers into ``con``."""
    from hypewatch.pipeline import build_demo

    return build_demo(con, campaign, size=size, seed=seed, progress=progress)


def remove_warehouse(path: Path) -> None:
    """Delete a warehouse file, but only one that DuckDB recognises as a warehouse."""
    try:
        con = duckdb.connect(str(path), read_only=True)
        con.close()
    except duckdb.Error as exc:
        raise WarehouseError(
            f"{path} exists and is not a DuckDB warehouse; not deleting it ({exc})"
        ) from None
    path.unlink()
    Path(f"{path}.wal").unlink(missing_ok=True)


# -------------------------------------------------------------------------------- collect


@dataclass(kw_only=True)
class CollectReport(StageReport):
    sources: list[SourceReport]
    dry_run: bool = False
    refresh_error: Exception | None = None
    """The warehouse could not be reopened to refresh the aggregates after a collect that
    worked (the posts are stored): the command line fails with it, the scheduler logs it."""


def collect_stage(
    path: Path,
    campaign: Campaign,
    sources: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    dry_run: bool = False,
    settings: Settings | None = None,
) -> CollectReport:
    """Collect ``campaign`` from the live ``sources`` (default: all); resumes where the
    last run stopped. The warehouse is opened per stored page (readers keep reading
    between pages), then once more at the end to refresh the dashboard's aggregates.

    ``dry_run`` fetches and writes nothing: the reports plan the requests, from the stored
    cursors when the warehouse exists."""
    from hypewatch.collect import collect
    from warehouse.read import ShortWrites, reading

    if dry_run:
        with reading(path) if path.exists() else nullcontext() as con:
            found = collect(con, campaign, sources, since, until, dry_run=True, settings=settings)
        return CollectReport(sources=found, dry_run=True)
    open_writer(path).close()  # migrate, and fail early on a bad warehouse
    try:
        found = collect(ShortWrites(path), campaign, sources, since, until, settings=settings)
    except BaseException:
        _refresh_quietly(path, "collect")  # never hides the collect's own error
        raise
    report = CollectReport(sources=found)
    try:
        if warning := refresh_at(path):
            report.warnings.append(warning)
    except Exception as exc:
        report.refresh_error = exc
    return report


def _refresh_quietly(path: Path, after: str) -> None:
    try:
        warning = refresh_at(path)
    except Exception as exc:
        warning = f"aggregates not refreshed after {after} ({type(exc).__name__}: {exc})"
    if warning:
        log.warning(warning)


@dataclass(kw_only=True)
class ReparseReport(StageReport):
    counts: WriteCounts


def reparse_stage(target: Target, formats: Sequence[str] | None = None) -> ReparseReport:
    """Re-parse each post's latest raw payload with the current parsers (fixes in place);
    the aggregates are then rebuilt in full."""
    from hypewatch.reparse import reparse

    warnings: list[str] = []
    with _connection(target, warnings, full_refresh=True) as con:
        counts = reparse(con, list(formats) if formats else None)
    return ReparseReport(counts=counts, warnings=warnings)


# -------------------------------------------------------------------------------- analyze


@dataclass(kw_only=True)
class AnalyzeResult(StageReport):
    analysis: AnalyzeReport

    def lines(self) -> list[str]:
        """What ran, how fast, with which models."""
        r = self.analysis
        lines = [
            f"analyze: {r.posts:,} posts in {r.seconds:.1f} s ({r.posts_per_s:,.0f} posts/s) "
            f"on {r.device}, encoder backend {r.backend}; {r.encoded:,} encoded, "
            f"{r.embeddings_stored:,} embeddings and {r.labels_stored:,} labels stored",
            f"  encoder: {r.encoder_id}",
            *(f"  {task}: {model_id}" for task, model_id in r.model_ids.items()),
        ]
        if timings := getattr(r, "timings", None):  # the Ray engine's steps
            steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
            lines.append(f"  ray: {r.workers} worker(s), {r.shards} shard(s); {steps}")
        return lines


def analyze_stage(
    target: Target,
    campaign: str | None = None,
    *,
    device: str | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
    engine: str = "local",
    ray: RayOptions | None = None,
    settings: Settings | None = None,
) -> AnalyzeResult:
    """Embed and label every post not done yet (sentiment, copyright concern).

    ``campaign``: a name or .toml path (checked to exist), or None for every post.
    ``engine``: ``local`` (this process) or ``ray`` (``ray``: where and how; the warehouse
    must then be given by path: the engine opens it only to stage and to load)."""
    from hypewatch.analyze import analyze

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (engines: {', '.join(ENGINES)})")
    if device not in DEVICES:
        raise ValueError(f"--device must be auto, cpu or cuda, not {device!r}")
    name = load_campaign_named(campaign, settings).name if campaign else None
    warnings: list[str] = []
    if engine == "ray":
        return _analyze_on_ray(target, name, ray, settings, warnings)
    with _connection(target, warnings) as con:
        report = analyze(
            con,
            settings or get_settings(),
            campaign=name,
            device=device,
            batch_size=batch_size,
            progress=progress,
        )
    return AnalyzeResult(analysis=report, warnings=warnings)


def _analyze_on_ray(
    target: Target,
    campaign: str | None,
    options: RayOptions | None,
    settings: Settings | None,
    warnings: list[str],
) -> AnalyzeResult:
    try:
        import ray  # noqa: F401  (the extra is installed)

        from hypewatch.analyze_ray import RayOptions, analyze_ray
    except ImportError as exc:
        raise ValueError(
            f"--engine ray needs Ray ({exc}): pip install 'hypewatch[scale]'"
        ) from None
    if isinstance(target, duckdb.DuckDBPyConnection):
        raise ValueError("the Ray engine takes the warehouse's path, not an open connection")
    options = options or RayOptions()
    report = analyze_ray(Path(target), settings or get_settings(), options, campaign=campaign)
    if warning := refresh_at(Path(target)):  # the dashboard's aggregates, once at the end
        warnings.append(warning)
    return AnalyzeResult(analysis=report, warnings=warnings)


# --------------------------------------------------------------------------------- topics


@dataclass(kw_only=True)
class TopicsReport(StageReport):
    fitted: Any
    """:class:`analysis.topics` report of the run: ``run_id``, ``topics``, ``assigned``..."""
    table: list[tuple] = field(default_factory=list)
    """The run's topics: topic, posts, % of posts, name, keywords."""

    @property
    def run_id(self) -> int:
        return self.fitted.run_id

    def lines(self) -> list[str]:
        r = self.fitted
        action = "fitted" if r.refit else "updated"
        lines = [
            f"topic run {r.run_id} {action}: {r.topics} topics fitted on {r.fit_posts:,} "
            f"posts, {r.assigned:,} more assigned, {r.outlier_share:.1%} unassigned "
            f"({r.seconds:.0f} s)"
        ]
        if q := r.quality:
            lines.append(
                f"against the SIMULATED storylines ({q['posts']:,} posts): adjusted Rand "
                f"index {q['ari']:.3f}, purity {q['purity']:.3f}"
            )
        return lines


def topics_stage(
    target: Target,
    campaign: str | None,
    *,
    refit: bool = False,
    settings: Settings | None = None,
) -> TopicsReport:
    """Fit topics (BERTopic on the stored embeddings) or assign new posts to the current
    run, as one ``analysis_runs`` row. ``campaign``: its name, or None for all posts."""
    from analysis.topics import TopicSettings, run_topics
    from warehouse.writes import analysis_run

    topic_settings = TopicSettings.from_settings(settings or get_settings())
    warnings: list[str] = []
    with _connection(target, warnings) as con:
        with analysis_run(con, "topics", campaign=campaign, models=["bertopic"]) as run:
            fitted = run_topics(con, campaign, refit=refit, settings=topic_settings)
            run.posts = fitted.assigned
        table = con.execute(
            "SELECT t.topic_id, count(pt.post_id) AS posts, "
            "round(100 * count(pt.post_id) / sum(count(pt.post_id)) OVER (), 1), t.name, "
            "array_to_string(t.keywords[:6], ', ') "
            "FROM topics t LEFT JOIN post_topics pt USING (run_id, topic_id) "
            "WHERE t.run_id = ? GROUP BY ALL ORDER BY t.topic_id",
            [fitted.run_id],
        ).fetchall()
    return TopicsReport(fitted=fitted, table=table, warnings=warnings)


# --------------------------------------------------------------------------------- trends


@dataclass
class FiredAlerts:
    """One campaign's alerts fired by a trends run."""

    campaign: str
    rules: dict[str, float]
    min_posts: int
    fired: list

    def lines(self, most: int = 10) -> list[str]:
        rules = ", ".join(f"{r} >= {v:g}" for r, v in self.rules.items())
        lines = [
            f"alerts for {self.campaign}: {len(self.fired)} fired ({rules}; buckets of at "
            f"least {self.min_posts} posts)"
        ]
        lines += [f"  {alert.message}" for alert in self.fired[:most]]
        if len(self.fired) > most:
            lines.append(f"  ... and {len(self.fired) - most} more (table alerts)")
        return lines


@dataclass
class AlertDelivery:
    """What the webhook got: the recorded outcome, or why it is not recorded."""

    report: DeliveryReport | None = None
    error: str | None = None
    """The exception's name when the delivery was not recorded (alerts stay unconfirmed)."""

    def line(self) -> str:
        if self.report is None:
            return (
                f"alert delivery not recorded ({self.error}): the alerts stay 'unconfirmed' "
                "and are not sent again (docs/metrics.md says how to resend them)"
            )
        return f"alert webhook: {self.report.summary()} ({self.report.seconds:.1f} s)"


@dataclass
class TrendSummary:
    """What ``hypewatch trends`` shows of one campaign's run (read before closing)."""

    spikes: list[tuple]
    """series, start (``%m-%d %H:00``), length, posts, score, top topics; top 15 by score."""
    share_of_voice: list[tuple]
    """entity, mentions, % (flagged posts left out); top 12."""
    labelled: bool
    """Whether any post is labelled (else the indices are empty)."""
    peaks: dict[str, tuple[str, float]]
    """``hype_index`` / ``debate_index``: (hour, value) of its peak."""


@dataclass(kw_only=True)
class TrendsReport(StageReport):
    campaigns: list
    """:mod:`analysis.trends` report of each campaign (flags, spikes, threshold)."""
    summaries: list[TrendSummary] = field(default_factory=list)
    """The same order as ``campaigns``."""
    reloaded: str | None = None
    """The campaign whose file changed since it was stored, and was stored again."""
    alerts: list[FiredAlerts] = field(default_factory=list)
    alerts_stored: int = 0
    """The alerts of the campaign (or all) in the warehouse after the run."""
    delivery: AlertDelivery | None = None
    """The webhook's outcome (None: nothing sent)."""

    @property
    def spikes(self) -> int:
        return sum(r.spikes for r in self.campaigns)

    def reload_line(self) -> str | None:
        if self.reloaded is None:
            return None
        return f"campaign {self.reloaded}: file changed since it was loaded; reloaded"


def trends_stage(
    target: Target,
    campaign: str | None,
    *,
    include_flagged: bool = False,
    deliver: bool = True,
    settings: Settings | None = None,
) -> TrendsReport:
    """Duplicates, spikes and indices as one ``analysis_runs`` row, then the campaign's
    alerts (stored). ``campaign``: its name, or None for every campaign.

    ``deliver`` also sends the alerts to the webhook (when one is set). Given a path, the
    webhook is called after the warehouse is closed (readers are not held up by it) and
    the outcome written back in a short reopen; given a connection, on that connection."""
    from analysis.trends import TrendSettings, run_trends
    from warehouse.writes import analysis_run

    app_settings = settings or get_settings()
    trend_settings = TrendSettings.from_settings(app_settings)
    if include_flagged:
        trend_settings = replace(trend_settings, exclude_flagged=False)
    warnings: list[str] = []
    outbox: list[tuple[str, str]] = []
    with _connection(target, warnings) as con:
        reloaded = _reload_campaign(con, campaign, app_settings)
        with analysis_run(con, "trends", campaign=campaign, models=["minhash"]) as run:
            reports = run_trends(con, campaign, trend_settings, all_campaigns=campaign is None)
            alerts = fire_alerts(con, [r.campaign for r in reports], app_settings)
            run.posts = sum(r.flags.posts for r in reports)
        report = TrendsReport(
            campaigns=reports,
            summaries=[trend_summary(con, r.campaign) for r in reports],
            reloaded=campaign if reloaded else None,
            alerts=alerts,
            alerts_stored=_alerts_stored(con, campaign),
            warnings=warnings,
        )
        if deliver:
            outbox = alerts_to_send(con, app_settings)
            if isinstance(target, duckdb.DuckDBPyConnection):
                report.delivery = _send_and_record(
                    outbox, lambda delivery: _record(con, delivery), app_settings
                )
    if deliver and not isinstance(target, duckdb.DuckDBPyConnection):
        report.delivery = send_alerts_then_record(Path(target), outbox, app_settings)
    return report


def topics_and_trends(
    con: duckdb.DuckDBPyConnection, campaign: str, settings: Settings | None = None
) -> tuple[TopicsReport, TrendsReport]:
    """The demo's last stages: topics on the stored embeddings (after a refresh of the post
    facts the topic views read), then spikes and indices. Simulated alerts are stored,
    never sent to a configured webhook."""
    from warehouse.aggregates import refresh_aggregates

    refresh_aggregates(con)
    topics = topics_stage(con, campaign, settings=settings)
    trends = trends_stage(con, campaign, deliver=False, settings=settings)
    return topics, trends


def _reload_campaign(
    con: duckdb.DuckDBPyConnection, campaign: str | None, settings: Settings
) -> bool:
    """Load ``campaigns_dir/NAME.toml`` again when it changed since it was stored, so an
    edited ``[alerts]`` (or entity list) counts from this run on; True when it was stored
    anew over an older version."""
    import orjson

    from warehouse.writes import store_campaign

    if campaign is None:
        return False
    try:
        camp = load_campaign_named(campaign, settings)
    except CampaignError:
        return False  # not in campaigns_dir (loaded from a path earlier): keep the stored one
    row = con.execute("SELECT config FROM campaigns WHERE campaign = ?", [campaign]).fetchone()
    if row is not None and orjson.loads(row[0]) == orjson.loads(camp.model_dump_json()):
        return False
    store_campaign(con, camp)
    return row is not None


def fire_alerts(
    con: duckdb.DuckDBPyConnection, campaigns: list, settings: Settings
) -> list[FiredAlerts]:
    """Evaluate each campaign's ``[alerts]`` (as loaded in the warehouse); new alerts are
    stored, ``pending`` for the webhook when one is set."""
    from analysis.alerts import evaluate_alerts, stored_thresholds
    from hypewatch.campaigns import Alerts

    fired = []
    for name in campaigns:
        config = stored_thresholds(con, name) if name is not None else None
        if config is None:
            continue
        thresholds = Alerts.model_validate(config)
        if not thresholds.rules():
            continue
        new = evaluate_alerts(con, name, thresholds, pending=settings.alert_webhook_url is not None)
        fired.append(FiredAlerts(name, thresholds.rules(), thresholds.min_posts, new))
    return fired


def _alerts_stored(con: duckdb.DuckDBPyConnection, campaign: str | None) -> int:
    return con.execute(
        "SELECT count(*) FROM alerts WHERE ? IS NULL OR campaign = ?", [campaign, campaign]
    ).fetchone()[0]


def trend_summary(con: duckdb.DuckDBPyConnection, campaign: str | None) -> TrendSummary:
    """Spikes, share of voice and the indices' peaks of one campaign's stored trends."""
    params = [campaign]
    spikes = con.execute(
        "SELECT series, strftime(start_hour, '%m-%d %H:00'), "
        "end_hour - start_hour + INTERVAL 1 HOUR, posts, round(peak_score, 1), "
        "array_to_string(top_topics[:3], ' · ') "
        "FROM spikes WHERE campaign IS NOT DISTINCT FROM ? ORDER BY peak_score DESC LIMIT 15",
        params,
    ).fetchall()
    share = con.execute(
        "SELECT entity, sum(mentions)::BIGINT AS mentions, "
        "round(100 * sum(mentions) / sum(sum(mentions)) OVER (), 1) "
        "FROM entity_hourly WHERE campaign IS NOT DISTINCT FROM ? "
        "GROUP BY 1 ORDER BY mentions DESC LIMIT 12",
        params,
    ).fetchall()
    labelled = bool(con.execute("SELECT count(sentiment) FROM post_labels").fetchall()[0][0])
    peaks = {}
    for index in ("hype_index", "debate_index") if labelled else ():
        peak = con.execute(
            f"SELECT strftime(hour_utc, '%m-%d %H:00'), round({index}, 1) FROM trend_indices "
            f"WHERE campaign IS NOT DISTINCT FROM ? AND {index} IS NOT NULL "
            f"ORDER BY {index} DESC LIMIT 1",
            params,
        ).fetchall()
        if peak:
            peaks[index] = (peak[0][0], peak[0][1])
    return TrendSummary(spikes, share, labelled, peaks)


def alerts_to_send(
    con: duckdb.DuckDBPyConnection, settings: Settings | None = None
) -> list[tuple[str, str]]:
    """The alerts the webhook should get now (none without a webhook URL), claimed; read
    before the warehouse is closed for :func:`send_alerts_then_record`."""
    from hypewatch.webhooks import claim_alerts

    settings = settings or get_settings()
    if settings.alert_webhook_url is None:
        return []
    return claim_alerts(con, max_attempts=settings.alert_webhook_max_attempts)


def send_alerts_then_record(
    db: Path, rows: list[tuple[str, str]], settings: Settings | None = None
) -> AlertDelivery | None:
    """POST ``rows`` with no warehouse connection open, then reopen the warehouse briefly
    (``connect_writer``) to write the outcomes back; never raises. None: nothing to send."""
    from warehouse.read import connect_writer

    def record(delivery: Any) -> Any:
        con = connect_writer(db)
        try:
            return _record(con, delivery)
        finally:
            con.close()

    return _send_and_record(rows, record, settings or get_settings())


def _record(con: duckdb.DuckDBPyConnection, delivery: Any) -> Any:
    from hypewatch.webhooks import record_delivery

    return record_delivery(con, delivery)


def _send_and_record(
    rows: list[tuple[str, str]], record: Callable[[Any], Any], settings: Settings
) -> AlertDelivery | None:
    """Send ``rows`` with the webhook settings and record the outcome; delivery never
    blocks or fails the pipeline (a failure is logged and returned)."""
    from hypewatch.webhooks import send_alerts

    if settings.alert_webhook_url is None or not rows:
        return None
    try:
        delivery = send_alerts(
            settings.alert_webhook_url,
            rows,
            timeout_s=settings.alert_webhook_timeout_s,
            attempts=settings.alert_webhook_attempts,
            budget_s=settings.alert_webhook_budget_s,
        )
        return AlertDelivery(report=record(delivery))
    except Exception as exc:
        log.warning(
            "alert delivery not recorded: %s; the alerts stay unconfirmed", type(exc).__name__
        )
        return AlertDelivery(error=type(exc).__name__)


# --------------------------------------------------------------------------------- report


@dataclass(kw_only=True)
class ReportFiles(StageReport):
    paths: list[Path]


def report_stage(
    path: Path,
    campaign: str,
    period: str = "day",
    end: date | None = None,
    formats: Sequence[str] = ("html",),
    out_dir: Path = Path("reports"),
) -> ReportFiles:
    """Write the campaign's report of the ``period`` (day or week) ending ``end`` (default:
    the last complete day with data) into ``out_dir``, in each of ``formats`` (html, md,
    pdf). ``campaign``: its name, or its .toml file. Reads the warehouse only."""
    from dashboard.reports import build_report
    from dashboard.reports.content import PERIODS

    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}: use day or week")
    name = load_campaign_named(campaign).name if campaign.endswith(".toml") else campaign
    paths = build_report(path, name, period, end, list(formats), out_dir)  # type: ignore[arg-type]
    return ReportFiles(paths=paths)
