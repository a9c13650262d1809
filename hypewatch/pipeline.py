"""The wiring between stages: files or simulated payloads -> parsers -> warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
    start_run,
    store_batch,
    store_campaign,
    store_truth,
)

BATCH_POSTS = 50_000
"""Posts parsed before one batch is written (one transaction)."""

Progress = Callable[[int], None]
"""Called with the number of payloads just consumed."""


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
    """
    parse = get_format(fmt).parse
    run_id = start_run(con, source, campaign=campaign, query=query)
    totals = WriteCounts()
    pending = ParseResult()
    consumed = 0
    try:
        for item in payloads:
            if isinstance(item, Reject):
                pending.rejects.append(item)
            else:
                pending.extend(parse(item, mapping))  # parsers never raise
            consumed += 1
            if len(pending.posts) >= batch_posts:
                totals.add(
                    store_batch(con, pending, campaign=campaign, run_id=run_id, requests=consumed)
                )
                pending = ParseResult()
                if progress:
                    progress(consumed)
                consumed = 0
        totals.add(store_batch(con, pending, campaign=campaign, run_id=run_id, requests=consumed))
        if progress:
            progress(consumed)
    except BaseException as exc:
        finish_run(con, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finish_run(con, run_id, "ok")
    return run_id, totals


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
