"""The ``hypewatch`` command line."""

from __future__ import annotations

import csv
import functools
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import duckdb
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hypewatch.campaigns import Campaign, CampaignError, find_campaign
from hypewatch.settings import get_settings
from ingest.files import InputFileError
from warehouse.db import WarehouseError
from warehouse.sandbox import QueryRefused

app = typer.Typer(
    help="hypewatch: collect, store, classify and show how a launch lands online.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Piped output (files, tests) is not folded at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

DEFAULT_CAMPAIGN = "gpt4o-image-launch"
USER_ERRORS = (
    WarehouseError,
    CampaignError,
    InputFileError,
    QueryRefused,
    duckdb.Error,
    ValueError,
)

F = TypeVar("F", bound=Callable[..., Any])


REJECTS_EXIT = 3
"""``hypewatch import``'s exit status when some payloads were rejected (the rest stored)."""
INTERRUPTED_EXIT = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""


def friendly_errors(func: F) -> F:
    """Turn the errors a user can fix into one clear line on stderr and exit status 1, and
    Ctrl-C into one line and exit status 130 (what was committed before stays stored)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print(
                "interrupted (Ctrl-C): what was committed before is stored; an unfinished "
                "run is marked 'interrupted'",
                highlight=False,
            )
            raise typer.Exit(INTERRUPTED_EXIT) from None

    return wrapper  # type: ignore[return-value]


DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Warehouse file (default: $HYPEWATCH_DB or data/hypewatch.duckdb)"),
]
CampaignOption = Annotated[
    str | None, typer.Option("--campaign", help="Campaign name or .toml path")
]


def db_path(db: Path | None) -> Path:
    return db or get_settings().db


def open_writer(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection that lets the dashboard's readers step aside first."""
    from warehouse.read import connect_writer

    return connect_writer(path)


def close_writer(con: duckdb.DuckDBPyConnection, *, full_refresh: bool = False) -> None:
    """Refresh the dashboard's aggregates with what this command wrote, then close."""
    from warehouse.aggregates import refresh_aggregates

    try:
        refresh_aggregates(con, full=full_refresh)
    except Exception as exc:  # the data is stored; never hide the command's own error
        err.print(f"warning: dashboard aggregates not refreshed ({exc}); the next write retries")
    finally:
        con.close()


def load_campaign_named(name: str) -> Campaign:
    return find_campaign(name, get_settings().campaigns_dir)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


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
    from hypewatch.pipeline import import_file, import_writes
    from ingest.parsers import get_format

    get_format(format)
    if not file.is_file():
        raise InputFileError(f"{file} does not exist or is not a file")
    mapping = _parse_mapping(map_ or [])
    camp = load_campaign_named(campaign) if campaign else None
    path = db_path(db)
    with _progress() as progress:
        task = progress.add_task(f"importing {file.name}", total=None)
        # Readers get in between batches (the import closes the file when one waits).
        writes = import_writes(path, waiting=lambda said: progress.console.print(said))
        run_id, counts = import_file(
            writes,
            file,
            format,
            campaign=camp,
            mapping=mapping or None,
            progress=lambda n: progress.advance(task, n),
        )
    close_writer(open_writer(path))  # the dashboard's aggregates, once at the end
    _print_counts(f"import run {run_id}", {f"{format} {file.name}": counts})
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
    from hypewatch.pipeline import build_demo

    path = db_path(db)
    if fresh and path.exists():
        _remove_warehouse(path)
    camp = load_campaign_named(DEFAULT_CAMPAIGN)
    con = open_writer(path)
    try:
        with _progress() as progress:
            task = progress.add_task("simulating + importing", total=None)
            report = build_demo(
                con, camp, size=size, seed=seed, progress=lambda n: progress.advance(task, n)
            )
        analyzed = run_analyze(con, None, None, None) if analyze_posts else None
        if analyzed is not None:
            print_analyze(analyzed)
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
    """The demo's last stages: topics on the stored embeddings, then spikes and indices."""
    from hypewatch.cli_topics import topics_stage, trends_stage
    from warehouse.aggregates import refresh_aggregates

    refresh_aggregates(con)  # the topic views read the refreshed post facts
    topics_stage(con, campaign)
    # Simulated alerts are stored and shown, never sent to a configured webhook.
    for report in trends_stage(con, campaign, deliver=False):
        out.print(
            f"trends: {report.spikes} spikes (score >= {report.threshold:g}), "
            f"{report.flags.flagged:,} near-duplicate or bot-like posts flagged "
            "(left out of spikes and indices)"
        )


def _remove_warehouse(path: Path) -> None:
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
    db: DbOption = None,
) -> None:
    """Embed and label every post not done yet (sentiment, copyright concern)."""
    con = open_writer(db_path(db))
    try:
        report = run_analyze(con, campaign, device, batch_size)
    finally:
        close_writer(con)
    print_analyze(report)


def run_analyze(
    con: duckdb.DuckDBPyConnection, campaign: str | None, device: str | None, batch: int | None
) -> Any:
    from hypewatch.analyze import analyze as analyze_stage

    if device not in (None, "auto", "cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu or cuda, not {device!r}")
    name = load_campaign_named(campaign).name if campaign else None
    with _progress() as progress:
        task = progress.add_task("embedding + labelling", total=None)
        return analyze_stage(
            con,
            get_settings(),
            campaign=name,
            device=device,
            batch_size=batch,
            progress=lambda n: progress.advance(task, n),
        )


def print_analyze(report: Any) -> None:
    out.print(
        f"analyze: {report.posts:,} posts in {report.seconds:.1f} s "
        f"({report.posts_per_s:,.0f} posts/s) on {report.device}, encoder backend "
        f"{report.backend}; {report.encoded:,} encoded, {report.embeddings_stored:,} embeddings "
        f"and {report.labels_stored:,} labels stored"
    )
    out.print(f"  encoder: {report.encoder_id}")
    for task, model_id in report.model_ids.items():
        out.print(f"  {task}: {model_id}")


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


from hypewatch.cli_collect import collect_command, reparse_command  # noqa: E402
from hypewatch.cli_dashboard import dashboard_command  # noqa: E402
from hypewatch.cli_eval_demo import eval_demo_command  # noqa: E402
from hypewatch.cli_report import report_command  # noqa: E402
from hypewatch.cli_schedule import schedule_command  # noqa: E402
from hypewatch.cli_topics import topics_command, trends_command  # noqa: E402

app.command("collect")(collect_command)
app.command("reparse")(reparse_command)
app.command("dashboard")(dashboard_command)
app.command("topics")(topics_command)
app.command("trends")(trends_command)
app.command("report")(report_command)
app.command("eval-demo")(eval_demo_command)
app.command("schedule")(schedule_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
