"""The wiring between stages: files or simulated payloads -> parsers -> warehouse."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from hypewatch.campaigns import Campaign
from ingest.files import iter_payloads
from ingest.model import ParseResult, Reject
from ingest.parsers import get_format
from ingest.parsers.tabular import mapping_problem
from warehouse.writes import (
    WriteCounts,
    finish_run,
    prepare_batch,
    start_run,
    store_campaign,
    store_truth,
    write_batch,
)

BATCH_POSTS = 50_000
"""Posts parsed before one batch is written (one transaction)."""

BULK_CHECKPOINT_THRESHOLD = "512MiB"
"""DuckDB's ``checkpoint_threshold`` (WAL size that triggers a checkpoint, default 16 MiB)
while a bulk load runs: see :func:`checkpoints_deferred`."""

Progress = Callable[[int], None]
"""Called with the number of payloads just consumed."""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector during a bulk load.

    Parsing keeps hundreds of thousands of new objects alive per batch (payload dicts,
    posts, Arrow inputs), and every collection of the oldest generation re-scans all of
    them: with the collector on, parsing took about twice as long (see bench/ingest.py).
    Parsed objects hold no reference cycles, so reference counting frees them; the
    collector is restored (and runs as usual) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def checkpoints_deferred(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Checkpoint once after a bulk load instead of every 16 MiB of WAL, then restore.

    Every checkpoint re-compresses the table segments that changed since the last one and
    rewrites the primary-key indexes; during a 200,000-post load that repeated work cost
    about a fifth of the time. The threshold stays bounded (``BULK_CHECKPOINT_THRESHOLD``)
    so a huge import still checkpoints now and then. Nested uses keep the outer value.
    """
    (before,) = con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
    con.execute(f"SET checkpoint_threshold = '{BULK_CHECKPOINT_THRESHOLD}'")
    try:
        yield
    finally:
        con.execute(f"SET checkpoint_threshold = '{before}'")


def parse_safely(
    parse: Callable[..., ParseResult], payload: Any, fmt: str, mapping: dict | None
) -> ParseResult:
    """Run a parser; an exception it lets escape becomes a reject, never a crash."""
    try:
        return parse(payload, mapping=mapping)
    except Exception as exc:  # a parser bug must not lose the rest of the batch
        return ParseResult(
            rejects=[Reject(fmt, f"{fmt}: parser error {type(exc).__name__}: {exc}", payload)]
        )


def import_payloads(
    con: duckdb.DuckDBPyConnection,
    fmt: str,
    payloads: Iterable[Any],
    *,
    source: str,
    campaign: str | None = None,
    query: str | None = None,
    mapping: dict[str, str] | None = None,
    batch_posts: int = BATCH_POSTS,
    progress: Progress | None = None,
) -> tuple[int, WriteCounts]:
    """Parse payloads of one format and store them in batches, as one collection run.

    Items that are already :class:`Reject` (e.g. unreadable lines) are stored as rejects.
    Returns the run id and the totals. If storing fails, the run is closed as ``failed``
    with the error and the exception propagates; batches already stored stay stored.

    Parsing and writing overlap: while one writer thread runs a batch's transaction in
    DuckDB (which releases the GIL), this thread parses the next batch. At most one batch
    is being written at a time, in order, so the run's counters stay those of the batches
    committed.
    """
    parse = get_format(fmt).parse
    run_id = start_run(con, source, campaign=campaign, query=query)
    with checkpoints_deferred(con):
        totals = _import(con, run_id, parse, payloads, campaign, mapping, batch_posts, progress)
    return run_id, totals


def _import(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    parse: Callable[..., ParseResult],
    payloads: Iterable[Any],
    campaign: str | None,
    mapping: dict[str, str] | None,
    batch_posts: int,
    progress: Progress | None,
) -> WriteCounts:
    """The body of :func:`import_payloads`: parse, write in the background, close the run."""
    totals = WriteCounts()
    pending = ParseResult()
    consumed = 0
    writing: tuple[Future[WriteCounts], int] | None = None

    def finish_write() -> None:
        nonlocal writing
        if writing is not None:
            future, requests = writing
            writing = None
            totals.add(future.result())
            if progress:
                progress(requests)

    try:
        with (
            gc_paused(),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="hypewatch-write") as writer,
        ):

            def flush() -> None:
                nonlocal pending, consumed, writing
                batch = prepare_batch(pending, campaign=campaign)
                finish_write()  # the previous batch is committed before this one starts
                future = writer.submit(write_batch, con, batch, run_id=run_id, requests=consumed)
                writing = (future, consumed)
                pending, consumed = ParseResult(), 0

            for item in payloads:
                if isinstance(item, Reject):
                    pending.rejects.append(item)
                else:
                    pending.extend(parse(item, mapping))  # parsers never raise
                consumed += 1
                if len(pending.posts) >= batch_posts:
                    flush()
            flush()
            finish_write()
    except BaseException as exc:  # the writer thread has finished: ``con`` is free again
        finish_run(con, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finish_run(con, run_id, "ok")
    return totals


def import_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    *,
    campaign: Campaign | None = None,
    mapping: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> tuple[int, WriteCounts]:
    """``hypewatch import``: one file of native payloads into the warehouse."""
    get_format(fmt)  # unknown format or bad mapping: fail before touching the warehouse
    if problem := mapping_problem(mapping):
        raise ValueError(f"--map: {problem}")
    if campaign is not None:
        store_campaign(con, campaign)
    return import_payloads(
        con,
        fmt,
        iter_payloads(path, fmt),
        source=f"import:{fmt}",
        campaign=campaign.name if campaign else None,
        query=str(path),
        mapping=mapping,
        progress=progress,
    )


@dataclass
class DemoReport:
    size: int
    seed: int
    runs: dict[str, WriteCounts] = field(default_factory=dict)


def build_demo(
    con: duckdb.DuckDBPyConnection,
    campaign: Campaign,
    *,
    size: int,
    seed: int = 42,
    progress: Progress | None = None,
) -> DemoReport:
    """Simulate the launch week and replay it through the parsers into the warehouse."""
    from ingest.simulator import simulate

    corpus = simulate(size=size, seed=seed, start=campaign.start, end=campaign.end)
    store_campaign(con, campaign)
    store_truth(con, corpus.truth)
    report = DemoReport(size=size, seed=seed)
    by_format: dict[str, list[Any]] = {}
    for fmt, payload in corpus.payloads:
        by_format.setdefault(fmt, []).append(payload)
    with checkpoints_deferred(con):  # one checkpoint for all formats
        for fmt, payloads in by_format.items():
            _, counts = import_payloads(
                con,
                fmt,
                payloads,
                source=f"demo:{fmt}",
                campaign=campaign.name,
                query=f"simulated seed={seed} size={size}",
                progress=progress,
            )
            report.runs[fmt] = counts
    return report
