"""The ``hypewatch`` command line."""

from __future__ import annotations

import csv
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import duckdb
import orjson
import typer
from rich.table import Table

from hypewatch import stages
from hypewatch.cli_collect import collect_command, reparse_command
from hypewatch.cli_common import (
    INTERRUPTED_EXIT,
    CampaignOption,
    DbOption,
    close_writer,
    err,
    friendly_errors,
    out,
    progress_bar,
    warn,
)
from hypewatch.cli_dashboard import dashboard_command
from hypewatch.cli_eval_demo import eval_demo_command
from hypewatch.cli_export import export_command
from hypewatch.cli_report import report_command
from hypewatch.cli_schedule import schedule_command
from hypewatch.cli_topics import print_alerts, topics_command, trends_command
from hypewatch.settings import get_settings
from hypewatch.stages import USER_ERRORS, db_path, load_campaign_named, open_writer

app = typer.Typer(
    help="hypewatch: collect, store, classify and show how a launch lands online.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DEFAULT_CAMPAIGN = "gpt4o-image-launch"

REJECTS_EXIT = 3
"""``hypewatch import``'s exit status when some payloads were rejected (the rest stored)."""

__all__ = [
    "INTERRUPTED_EXIT",
    "REJECTS_EXIT",
    "USER_ERRORS",
    "app",
    "close_writer",
    "db_path",
    "err",
    "friendly_errors",
    "load_campaign_named",
    "main",
    "open_writer",
    "out",
]


def _print_counts(title: str, rows: dict[str, Any]) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("source", "fetched", "new", "updated", "rejected"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for source, c in rows.items():
        table.add_row(source, f"{c.fetched:,}", f"{c.new:,}", f"{c.updated:,}", f"{c.rejected:,}")
    out.print(table)


@app.command("import")
@friendly_errors
def import_(
    file: Annotated[Path, typer.Argument(help="File of native payloads (JSON Lines, JSON or CSV)")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="x-v2|bluesky|mastodon|reddit|hn|jsonl|csv")
    ],
    campaign: CampaignOption = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="jsonl/csv column mapping FIELD=COLUMN, e.g. --map text=body"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Load a file of native payloads; prints fetched/new/updated/rejected counts."""
    stages.check_import(file, format)
    mapping = _parse_mapping(map_ or [])
    camp = load_campaign_named(campaign) if campaign else None
    with progress_bar() as progress:
        task = progress.add_task(f"importing {file.name}", total=None)
        # Readers get in between batches (the import closes the file when one waits).
        report = stages.import_stage(
            db_path(db),
            file,
            format,
            campaign=camp,
            mapping=mapping,
            progress=lambda n: progress.advance(task, n),
            waiting=lambda said: progress.console.print(said),
        )
    warn(report.warnings)
    counts = report.counts
    _print_counts(f"import run {report.run_id}", {f"{format} {file.name}": counts})
    if counts.rejected:
        err.print(
            f"{counts.rejected:,} payload(s) rejected (reasons: `hypewatch status`, table "
            "rejects); every other one is stored. Exit status 3.",
            highlight=False,
        )
        raise typer.Exit(REJECTS_EXIT)


def _parse_mapping(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        field, sep, column = item.partition("=")
        if not sep or not field or not column:
            raise ValueError(f"--map {item!r} is not FIELD=COLUMN (e.g. --map text=body)")
        mapping[field.strip()] = column.strip()
    return mapping


@app.command()
@friendly_errors
def demo(
    size: Annotated[int, typer.Option(help="Number of simulated posts", min=100)] = 20_000,
    seed: Annotated[int, typer.Option(help="Simulator seed")] = 42,
    db: DbOption = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Open the dashboard after")
    ] = True,
    fresh: Annotated[
        bool, typer.Option("--fresh/--keep", help="Rebuild the warehouse file")
    ] = True,
    analyze_posts: Annotated[
        bool, typer.Option("--analyze/--no-analyze", help="Embed and label the posts")
    ] = True,
) -> None:
    """Build the demo warehouse from the simulated launch week, then show what it holds."""
    path = db_path(db)
    if fresh and path.exists():
        stages.remove_warehouse(path)
    camp = load_campaign_named(DEFAULT_CAMPAIGN)
    con = open_writer(path)
    try:
        with progress_bar() as progress:
            task = progress.add_task("simulating + importing", total=None)
            report = stages.demo_stage(
                con, camp, size=size, seed=seed, progress=lambda n: progress.advance(task, n)
            )
        if analyze_posts:
            print_analyze(_analyze(con, None, None, None))
            _topics_and_trends(con, camp.name)
    finally:
        close_writer(con)
    out.print(
        f"[bold]SIMULATED data[/]: {size:,} posts of a synthetic launch week "
        f"(seed {seed}) in {path}"
    )
    _print_counts("demo import", report.runs)
    _print_status(path)
    if serve:
        _serve(path)


def _topics_and_trends(con: duckdb.DuckDBPyConnection, campaign: str) -> None:
    """The demo's last stages: topics on the stored embeddings, then spikes and indices
    (simulated alerts are stored and shown, never sent to a configured webhook)."""
    topics, trends = stages.topics_and_trends(con, campaign)
    for line in topics.lines():
        out.print(line)
    print_alerts(trends)
    for report in trends.campaigns:
        out.print(
            f"trends: {report.spikes} spikes (score >= {report.threshold:g}), "
            f"{report.flags.flagged:,} near-duplicate or bot-like posts flagged "
            "(left out of spikes and indices)"
        )


def _serve(path: Path) -> None:
    try:
        from dashboard.server import serve
    except ImportError:
        err.print(
            "the dashboard is not part of this build yet: query the warehouse with `hypewatch sql`"
        )
        return
    settings = get_settings()
    serve(path, host=settings.dashboard_host, port=settings.dashboard_port)


@app.command()
@friendly_errors
def analyze(
    campaign: CampaignOption = None,
    device: Annotated[str | None, typer.Option(help="auto|cpu|cuda (default: settings)")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Encoder batch size", min=1)] = None,
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (a Ray cluster; docs/scaling.md)")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="--engine ray: auto, ray://HOST:10001, or none for a local Ray"),
    ] = None,
    workers: Annotated[int, typer.Option(help="--engine ray: actors", min=1)] = 1,
    gpus_per_worker: Annotated[
        float, typer.Option(help="--engine ray: GPUs per actor (0: CPU)", min=0)
    ] = 0.0,
    cpus_per_worker: Annotated[
        int, typer.Option(help="--engine ray: CPUs (encoder threads) per actor", min=1)
    ] = 1,
    stage: Annotated[
        str | None,
        typer.Option(
            help="--engine ray: folder or URI (s3://, gs://, hdfs://) for the shards "
            "(default: <cache dir>/ray-stage)"
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Embed and label every post not done yet (sentiment, copyright concern)."""
    ray = None
    if engine == "ray":
        from hypewatch.analyze_ray import RayOptions

        ray = RayOptions(
            address=ray_address,
            workers=workers,
            gpus_per_worker=gpus_per_worker,
            cpus_per_worker=cpus_per_worker,
            stage=stage,
        )
    result = _analyze(db_path(db), campaign, device, batch_size, engine, ray)
    warn(result.warnings)
    print_analyze(result)


def _analyze(
    target: stages.Target,
    campaign: str | None,
    device: str | None,
    batch_size: int | None,
    engine: str = "local",
    ray: Any = None,
) -> stages.AnalyzeResult:
    """The analyze stage with a progress bar."""
    with progress_bar() as progress:
        task = progress.add_task("embedding + labelling", total=None)
        return stages.analyze_stage(
            target,
            campaign,
            device=device,
            batch_size=batch_size,
            progress=lambda n: progress.advance(task, n),
            engine=engine,
            ray=ray,
        )


def print_analyze(result: stages.AnalyzeResult) -> None:
    for line in result.lines():
        out.print(line)


TaskArgument = Annotated[str, typer.Argument(help="sentiment or copyright")]


@app.command()
@friendly_errors
def train(
    task: TaskArgument,
    data: Annotated[
        list[Path], typer.Option("--data", help="JSON Lines of {text, label[, lang]}; repeatable")
    ],
    dev: Annotated[
        list[Path] | None, typer.Option("--dev", help="Labelled set to report; repeatable")
    ] = None,
    threshold_dev: Annotated[
        Path | None,
        typer.Option(
            "--threshold-dev",
            help="Labelled set with the mix expected in use: the copyright head's concern "
            "threshold is fitted on it",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Head folder (default: the shipped head of the encoder)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
) -> None:
    """Train a task head on the shared encoder (reproduces the shipped heads, seeded)."""
    from analysis.tasks import builtin_head_dir, get_task
    from analysis.training import train_head
    from hypewatch.analyze import make_encoder

    get_task(task)
    for path in [*data, *(dev or []), threshold_dev]:
        if path is not None and not path.is_file():
            raise ValueError(f"{path} does not exist")
    settings = get_settings()
    encoder = make_encoder(settings)
    result = train_head(
        task,
        data,
        dev or None,
        # default: the shipped head of this encoder (analysis/models/[minilm/]TASK)
        out_dir=out_dir or builtin_head_dir(task, encoder.info.name),
        encoder=encoder,
        seed=seed,
        cache_dir=settings.cache_dir,
        threshold_dev=threshold_dev,
    )
    out.print(f"{task} head written to {result.out_dir} ({result.head.model_id})")
    if result.dev_metrics:
        sys.stdout.write(
            orjson.dumps(result.dev_metrics, option=orjson.OPT_INDENT_2).decode() + "\n"
        )


@app.command("eval")
@friendly_errors
def eval_(
    task: TaskArgument,
    file: Annotated[Path, typer.Argument(help="JSON Lines of {text, label}")],
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Also score vader or keywords")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="builtin, a head folder, hf:NAME, zeroshot:NAME")
    ] = None,
) -> None:
    """Score a task's model on a labelled file; prints one JSON object."""
    from analysis.tasks import get_task
    from hypewatch.analyze import evaluate_task

    get_task(task)
    result = evaluate_task(task, file, get_settings(), model=model, baseline=baseline)
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command()
@friendly_errors
def sql(
    query: Annotated[str, typer.Argument(help="One read-only statement (SELECT, WITH, ...)")],
    format: Annotated[str, typer.Option("--format", "-f", help="table|csv|json")] = "table",
    max_rows: Annotated[
        int | None,
        typer.Option("--max-rows", min=1, help="Row limit (default: $HYPEWATCH_SQL_MAX_ROWS)"),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.1, help="Seconds (default: $HYPEWATCH_SQL_TIMEOUT_S)"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Run one read-only query in the SQL sandbox (the SQL page's limits: rows, result size,
    time, memory; see docs/dashboard.md). A cut result says so on stderr."""
    from warehouse.sandbox import run_user_sql

    if format not in {"table", "csv", "json"}:
        raise ValueError(f"--format must be table, csv or json, not {format!r}")
    limits = get_settings().sql_limits()
    result = run_user_sql(db_path(db), query, max_rows=max_rows, timeout_s=timeout, limits=limits)
    columns, rows = result.table.column_names, result.rows
    if format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif format == "json":
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        sys.stdout.write(
            orjson.dumps(records, default=str, option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    elif columns:
        _print_rows(columns, rows, len(rows))
    if result.truncated:
        what = "--max-rows" if result.limit == "rows" else "HYPEWATCH_SQL_MAX_RESULT_MB"
        err.print(
            f"only the first {len(rows):,} rows: the result was cut at the "
            f"{'row' if result.limit == 'rows' else 'size'} limit (raise {what})",
            highlight=False,
        )


def _print_rows(
    columns: list[str], rows: list[tuple], max_rows: int, title: str | None = None
) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold", min_width=min(len(column), 12))
    for row in rows[:max_rows]:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)
    if len(rows) > max_rows:
        out.print(f"({len(rows):,} rows, {max_rows:,} shown: use --format csv for all)")


@app.command()
@friendly_errors
def status(
    db: DbOption = None,
    migrate: Annotated[bool, typer.Option(help="Upgrade an older warehouse schema first")] = False,
) -> None:
    """What the warehouse holds: posts by platform and day, last runs, rejects."""
    path = db_path(db)
    if migrate:
        close_writer(open_writer(path))
    _print_status(path)


def _print_status(path: Path) -> None:
    from warehouse.read import reading

    with reading(path) as con:  # waits (bounded) while an import writes a batch
        platforms = [
            r[0] for r in con.execute("SELECT DISTINCT platform FROM posts ORDER BY 1").fetchall()
        ]
        if platforms:
            counts = ", ".join(f"count(*) FILTER (platform = '{p}') AS \"{p}\"" for p in platforms)
            cur = con.execute(
                f"SELECT created_at::DATE AS day_utc, {counts}, count(*) AS total "
                "FROM posts GROUP BY 1 ORDER BY 1"
            )
            _print_rows(
                [d[0] for d in cur.description],
                cur.fetchall(),
                400,
                "posts by day (UTC) and platform",
            )
            cur = con.execute(
                "SELECT lang_effective AS lang, count(*) AS posts, "
                "count(*) FILTER (lang_detected IS NULL) AS not_detected, "
                "count(*) FILTER (lang_platform IS NULL) AS no_platform_tag, "
                "count(*) FILTER (lang_mismatch) AS tag_contradicted "
                "FROM post_languages GROUP BY 1 ORDER BY 2 DESC, 1"
            )
            _print_rows(
                [d[0] for d in cur.description],
                cur.fetchall(),
                15,
                "posts by language (detected, else the platform's tag)",
            )
        else:
            out.print("no posts yet")
        cur = con.execute(
            "SELECT run_id, source, status, "
            "strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started, "
            "fetched, new, updated, rejected, coalesce(error, '') AS error, "
            "owner_host, owner_pid, owner_start "
            "FROM collection_runs ORDER BY run_id DESC LIMIT 10"
        )
        columns = [d[0] for d in cur.description][:-3]
        _print_rows(columns, [_run_row(row) for row in cur.fetchall()], 10, "last runs")
        cur = con.execute(
            "SELECT format, reason[:90] AS reason, count(*) AS n "
            "FROM rejects GROUP BY ALL ORDER BY n DESC LIMIT 10"
        )
        rows = cur.fetchall()
        if rows:
            _print_rows(
                [d[0] for d in cur.description], rows, 10, "rejects (most frequent reasons)"
            )
        simulated = con.execute("SELECT count(*) FROM simulated_truth").fetchone()[0]
        if simulated:
            out.print(
                f"[bold yellow]{simulated:,} posts are SIMULATED[/] (see table simulated_truth)"
            )


def _run_row(row: tuple) -> tuple:
    """A ``collection_runs`` row for ``status``: a run whose process on this host is gone
    shows as interrupted (the next writing command records it so)."""
    *shown, host, pid, start = row
    if shown[2] == "running" and host == socket.gethostname() and pid is not None:
        from warehouse.writes import owner_alive

        if not owner_alive(pid, start):
            shown[2] = "interrupted"
            shown[-1] = f"the process (pid {pid}) ended without closing the run"
    return tuple(shown)


app.command("collect")(collect_command)
app.command("reparse")(reparse_command)
app.command("dashboard")(dashboard_command)
app.command("topics")(topics_command)
app.command("trends")(trends_command)
app.command("report")(report_command)
app.command("eval-demo")(eval_demo_command)
app.command("export")(export_command)
app.command("schedule")(schedule_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
