"""The wiring between stages: files or simulated payloads -> parsers -> warehouse."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from hypewatch.campaigns import Campaign
from hypewatch.parse_pool import ParsePool, WorkerDied, encode, gc_paused, pool_pays
from ingest.files import iter_json_lines, iter_payloads
from ingest.model import ParseResult, Reject
from ingest.parsers import get_format
from ingest.parsers.tabular import mapping_problem
from warehouse.read import ShortWrites
from warehouse.writes import (
    PreparedBatch,
    WriteCounts,
    finish_run,
    prepare_batch,
    start_run,
    store_campaign,
    store_truth,
    utcnow,
    write_batch,
)

BATCH_POSTS = 50_000
"""Posts parsed before one batch is written (one transaction)."""

BULK_CHECKPOINT_THRESHOLD = "512MiB"
"""DuckDB's ``checkpoint_threshold`` (WAL size that triggers a checkpoint, default 16 MiB)
while a bulk load runs: see :func:`checkpoints_deferred`."""

FILE_BYTES_PER_POST = 1_000
"""About how many bytes of a JSON file hold one post (X pages ~0.9 kB, generic rows less):
a file's expected posts, to decide whether a :class:`~hypewatch.parse_pool.ParsePool` pays."""

Progress = Callable[[int], None]
"""Called with the number of payloads just consumed."""

Target = ShortWrites | duckdb.DuckDBPyConnection | Path
"""Where an import writes: a connection it may hold throughout (the demo, tests), or a
warehouse path / :class:`~warehouse.read.ShortWrites` (see :func:`import_writes`) that
lets readers (the dashboard, ``hypewatch sql``, ``status``) in between batches."""


def import_writes(path: Path, waiting: Callable[[str], None] | None = None) -> ShortWrites:
    """How ``hypewatch import`` writes: the warehouse stays open from batch to batch while
    no reader waits; when one does (it found the file locked), the import closes it after
    the current batch, lets the reader in and reopens. Checkpoints are deferred as in
    :func:`checkpoints_deferred` while it is open."""

    def bulk(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"SET checkpoint_threshold = '{BULK_CHECKPOINT_THRESHOLD}'")

    return ShortWrites(path, hold=True, waiting=waiting, on_open=bulk)


@contextmanager
def _bulk(writes: ShortWrites) -> Iterator[None]:
    """:func:`checkpoints_deferred` on a lent connection; a :class:`ShortWrites` connection
    is closed at the end (or when a reader waits), which checkpoints."""
    if writes.connection is None:
        try:
            yield
        finally:
            writes.release()
        return
    with checkpoints_deferred(writes.connection):
        yield


def _write(writes: ShortWrites, batch: PreparedBatch, run_id: int, requests: int) -> WriteCounts:
    with writes.open() as con:
        return write_batch(con, batch, run_id=run_id, requests=requests)


def _start(writes: ShortWrites, source: str, campaign: str | None, query: str | None) -> int:
    with writes.open() as con:
        return start_run(con, source, campaign=campaign, query=query)


def _finish(writes: ShortWrites, run_id: int, status: str, error: str | None = None) -> None:
    with writes.open() as con:
        finish_run(con, run_id, status, error)


def _fail(writes: ShortWrites, run_id: int, exc: BaseException) -> None:
    """Close a run that an error ended (``failed``) or Ctrl-C (``interrupted``)."""
    if isinstance(exc, KeyboardInterrupt):
        _finish(writes, run_id, "interrupted", "stopped by Ctrl-C")
    else:
        _finish(writes, run_id, "failed", f"{type(exc).__name__}: {exc}")


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
    target: Target,
    fmt: str,
    payloads: Iterable[Any],
    *,
    source: str,
    campaign: str | None = None,
    query: str | None = None,
    mapping: dict[str, str] | None = None,
    batch_posts: int = BATCH_POSTS,
    progress: Progress | None = None,
    pool: ParsePool | None = None,
) -> tuple[int, WriteCounts]:
    """Parse payloads of one format and store them in batches, as one collection run.

    Items that are already :class:`Reject` (e.g. unreadable lines) are stored as rejects.
    ``target``: see :data:`Target`. Returns the run id and the totals. If storing fails,
    the run is closed as ``failed`` with the error and the exception propagates; batches
    already stored stay stored.

    Parsing and writing overlap: while one writer thread runs a batch's transaction in
    DuckDB (which releases the GIL), this thread parses the next batch. At most one batch
    is being written at a time, in order, so the run's counters stay those of the batches
    committed.

    With a :class:`~hypewatch.parse_pool.ParsePool`, worker processes parse and prepare
    instead (:func:`import_pooled`); for big imports only (see
    :func:`~hypewatch.parse_pool.pool_pays`).
    """
    if pool is not None:
        job = ImportJob(fmt, payloads, source, query)
        kwargs = {"campaign": campaign, "mapping": mapping, "progress": progress}
        return import_pooled(target, pool, [job], **kwargs)[0]
    parse = get_format(fmt).parse
    writes = ShortWrites.of(target)
    run_id = _start(writes, source, campaign, query)
    with _bulk(writes):
        totals = _import(writes, run_id, parse, payloads, campaign, mapping, batch_posts, progress)
    return run_id, totals


def _import(
    writes: ShortWrites,
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
                future = writer.submit(_write, writes, batch, run_id, consumed)
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
    except BaseException as exc:  # the writer thread has finished: the warehouse is free
        _fail(writes, run_id, exc)
        raise
    _finish(writes, run_id, "ok")
    return totals


@dataclass
class ImportJob:
    """The payloads of one format, imported as one collection run (see :func:`import_pooled`)."""

    fmt: str
    payloads: Iterable[Any]
    source: str
    query: str | None = None


def import_pooled(
    target: Target,
    pool: ParsePool,
    jobs: Sequence[ImportJob],
    *,
    campaign: str | None = None,
    mapping: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> list[tuple[int, WriteCounts]]:
    """Import several payload sets, one run each, with workers parsing; this thread writes.

    Payloads are cut into chunks of about ``pool.chunk_bytes`` of JSON, one transaction
    each. Up to ``pool.workers + 1`` chunks are queued ahead, across jobs (the next
    format's first chunks are parsed while this one's last are written), so workers never
    wait for a write. Batches are written in the order their payloads came, and a run is
    closed ``ok`` once its last batch is written. On any error (a worker that died raises
    :class:`~hypewatch.parse_pool.WorkerDied`) the open runs are closed ``failed`` and the
    error propagates; batches written before stay stored.
    """
    for job in jobs:
        get_format(job.fmt)  # unknown format: fail before starting anything
    writes = ShortWrites.of(target)
    results: list[tuple[int, WriteCounts]] = []
    # (future batch or None for "no payloads left", payloads consumed, job's result, last?)
    queued: deque[tuple[Future[PreparedBatch] | None, int, tuple[int, WriteCounts], bool]]
    queued = deque()
    finished: set[int] = set()
    written = 0

    def write_oldest() -> None:
        nonlocal written
        future, requests, (run_id, totals), last = queued.popleft()
        if future is not None:
            batch = future.result()
            totals.add(_write(writes, batch, run_id, requests))
            written += 1
            if progress:
                progress(requests)
        if last:
            _finish(writes, run_id, "ok")
            finished.add(run_id)

    def send(fmt: str, job: tuple[int, WriteCounts], chunk: list[Any], last: bool) -> None:
        future = pool.submit(fmt, mapping, campaign, utcnow(), chunk) if chunk else None
        queued.append((future, len(chunk), job, last))
        while len(queued) > pool.workers + 1:
            write_oldest()

    try:
        with gc_paused(), _bulk(writes):
            for job in jobs:
                run_id = _start(writes, job.source, campaign, job.query)
                current = (run_id, WriteCounts())
                results.append(current)
                chunk: list[Any] = []
                size = 0
                for item in job.payloads:
                    encoded, n = encode(item)
                    chunk.append(encoded)
                    size += n
                    if size >= pool.chunk_bytes:
                        send(job.fmt, current, chunk, last=False)
                        chunk, size = [], 0
                send(job.fmt, current, chunk, last=True)
            while queued:
                write_oldest()
    except BaseException as exc:
        for future, *_ in queued:  # never written: drop what has not started
            if future is not None:
                future.cancel()
        error: BaseException = exc
        if isinstance(exc, BrokenProcessPool):  # from submit() or result()
            error = WorkerDied(
                f"a parse worker process died ({exc}); the {written} batch(es) written "
                "before are kept"
            )
        for run_id, _ in results:
            if run_id not in finished:
                _fail(writes, run_id, error)
        if error is not exc:
            raise error from exc
        raise
    return results


def import_file(
    target: Target,
    path: Path,
    fmt: str,
    *,
    campaign: Campaign | None = None,
    mapping: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> tuple[int, WriteCounts]:
    """``hypewatch import``: one file of native payloads into the warehouse (``target``: see
    :data:`Target`; the command passes the path, so readers get in between batches)."""
    get_format(fmt)  # unknown format or bad mapping: fail before touching the warehouse
    if problem := mapping_problem(mapping):
        raise ValueError(f"--map: {problem}")
    writes = ShortWrites.of(target) if not isinstance(target, Path) else import_writes(target)
    try:
        if campaign is not None:
            with writes.open() as con:
                store_campaign(con, campaign)
        kwargs = {
            "source": f"import:{fmt}",
            "campaign": campaign.name if campaign else None,
            "query": str(path),
            "mapping": mapping,
            "progress": progress,
        }
        expected = path.stat().st_size // FILE_BYTES_PER_POST if path.is_file() else 0
        if fmt != "csv" and pool_pays(expected):
            with ParsePool() as pool:  # lines go to the workers undecoded
                lines = iter_json_lines(path, fmt)
                return import_payloads(writes, fmt, lines, pool=pool, **kwargs)
        return import_payloads(writes, fmt, iter_payloads(path, fmt), **kwargs)
    finally:
        writes.release()


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
    pool: bool | None = None,
) -> DemoReport:
    """Simulate the launch week and replay it through the parsers into the warehouse.

    ``pool``: parse in worker processes (:class:`~hypewatch.parse_pool.ParsePool`); by
    default only when ``size`` is big enough for that to pay.
    """
    from ingest.simulator import simulate

    use_pool = pool_pays(size) if pool is None else pool
    # started first, the workers get ready while the week is simulated
    with ParsePool() if use_pool else nullcontext() as workers:
        corpus = simulate(size=size, seed=seed, start=campaign.start, end=campaign.end)
        store_campaign(con, campaign)
        store_truth(con, corpus.truth)
        by_format: dict[str, list[Any]] = {}
        for fmt, payload in corpus.payloads:
            by_format.setdefault(fmt, []).append(payload)
        query = f"simulated seed={seed} size={size}"
        jobs = [ImportJob(fmt, items, f"demo:{fmt}", query) for fmt, items in by_format.items()]
        if workers is not None:  # all formats in one stream of chunks
            results = import_pooled(con, workers, jobs, campaign=campaign.name, progress=progress)
        else:
            with checkpoints_deferred(con):  # one checkpoint for all formats
                results = [
                    import_payloads(
                        con,
                        job.fmt,
                        job.payloads,
                        source=job.source,
                        campaign=campaign.name,
                        query=job.query,
                        progress=progress,
                    )
                    for job in jobs
                ]
    runs = {job.fmt: counts for job, (_, counts) in zip(jobs, results, strict=True)}
    return DemoReport(size=size, seed=seed, runs=runs)
