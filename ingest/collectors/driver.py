"""The driver: runs a collector's requests, storing each page with its cursor.

For each request :func:`run_request` opens a collection run (``start_run``, with the
cursor the last run stored), parses each page and stores it with the page's cursor in
ONE transaction (``store_batch``), then closes the run ``ok``, ``partial`` or ``failed``
with the (redacted) error. A killed process therefore resumes from the last stored
page, never further. :func:`run_source` runs all requests of a source.

Given a warehouse path (a :class:`~warehouse.read.ShortWrites`), the driver opens the
warehouse read-write only for each of those short writes: while it waits on the network
or a rate limit the file is free, so the dashboard keeps reading.
"""

from __future__ import annotations

import logging
import traceback
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

from ingest.collectors.base import (
    Collector,
    CollectorError,
    Incomplete,
    Page,
    RateLimited,
    Request,
    SourceStopped,
    Transient,
)
from ingest.collectors.redaction import redact, scrub_reject
from ingest.model import ParseResult
from ingest.parsers import get_format
from warehouse.read import ShortWrites
from warehouse.writes import finish_run, last_cursor, start_run, store_batch, utcnow

if TYPE_CHECKING:
    from hypewatch.campaigns import Campaign

log = logging.getLogger("hypewatch.collect")


@dataclass
class QueryReport:
    query: str
    status: str = "ok"
    requests: int = 0
    fetched: int = 0
    new: int = 0
    updated: int = 0
    rejected: int = 0
    cursor: str | None = None
    error: str | None = None
    run_id: int | None = None


@dataclass
class SourceReport:
    """What one source did: totals over its requests, and each request's report."""

    source: str
    status: str = "ok"  # ok | partial | failed | skipped | planned
    requests: int = 0
    fetched: int = 0
    new: int = 0
    updated: int = 0
    rejected: int = 0
    resume_at: str | None = None
    error: str | None = None
    queries: list[QueryReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)

    def add(self, q: QueryReport) -> None:
        self.queries.append(q)
        self.requests += q.requests
        self.fetched += q.fetched
        self.new += q.new
        self.updated += q.updated
        self.rejected += q.rejected


def _close_stale_runs(con: duckdb.DuckDBPyConnection, source: str, query: str) -> None:
    """Runs left ``running`` without a recorded owner (written before migration 0011) are
    closed as ``interrupted`` (their stored pages and cursor stay valid: the new run resumes
    from them). Runs with an owner are closed by ``warehouse.db.connect`` once their process
    is gone, and never while it still runs (another collector may be working)."""
    con.execute(
        "UPDATE collection_runs SET status = 'interrupted', ended_at = ?, "
        "error = coalesce(error, 'interrupted: the process ended before closing the run') "
        "WHERE source = ? AND query IS NOT DISTINCT FROM ? AND status = 'running' "
        "AND owner_pid IS NULL",
        [utcnow(), source, query],
    )


def _parse_page(page: Page) -> ParseResult:
    result = get_format(page.format).parse(page.payload) if page.payload is not None else None
    result = result or ParseResult()
    result.rejects = [scrub_reject(r) for r in [*result.rejects, *page.rejects]]
    return result


def run_request(
    target: duckdb.DuckDBPyConnection | ShortWrites,
    collector: Collector,
    request: Request,
    *,
    campaign: str | None,
    since: datetime,
    until: datetime,
) -> tuple[QueryReport, bool]:
    """Fetch and store one request as one collection run -> (report, stop the source).

    ``target`` is a connection (held throughout) or :class:`ShortWrites` (opened per write).
    """
    writes = ShortWrites.of(target)
    with writes.open() as con:
        _close_stale_runs(con, collector.name, request.query)
        cursor = last_cursor(con, collector.name, request.query, campaign)
        run_id = start_run(
            con, collector.name, campaign=campaign, query=request.query, cursor_before=cursor
        )
    report = QueryReport(request.query, cursor=cursor, run_id=run_id)

    def finish(status: str, error: str | None) -> None:
        with writes.open() as con:
            finish_run(con, run_id, status, error)

    stop = False
    try:
        with closing(collector.pages(request, cursor, since, until)) as pages:
            for page in pages:
                result = _parse_page(page)
                with writes.open() as con:
                    counts = store_batch(
                        con,
                        result,
                        campaign=campaign,
                        run_id=run_id,
                        cursor=page.next_cursor,
                        requests=page.requests,
                    )
                report.requests += page.requests
                report.fetched += counts.fetched
                report.new += counts.new
                report.updated += counts.updated
                report.rejected += counts.rejected
                if page.next_cursor is not None:
                    report.cursor = page.next_cursor
    except SourceStopped as exc:
        report.status, report.error, stop = "failed", redact(exc), True
    except (Transient, RateLimited, Incomplete) as exc:
        report.status, report.error = "partial", redact(exc)
    except CollectorError as exc:
        report.status, report.error = "failed", redact(exc)
    except duckdb.Error as exc:
        finish("failed", redact(f"warehouse error: {exc}"))
        raise
    except Exception as exc:
        log.error(
            "%s %s: unexpected error\n%s", collector.name, request.query, traceback.format_exc()
        )
        report.status, report.error = "failed", redact(f"{type(exc).__name__}: {exc}")
    except BaseException as exc:  # Ctrl-C, SystemExit
        finish("interrupted", "stopped by Ctrl-C" if isinstance(exc, KeyboardInterrupt) else None)
        raise
    finish(report.status, report.error)
    if report.error:
        log.warning("%s %s: %s: %s", collector.name, request.query, report.status, report.error)
    return report, stop


def run_source(
    target: duckdb.DuckDBPyConnection | ShortWrites,
    collector: Collector,
    campaign: Campaign,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SourceReport:
    """Run every request of ``collector`` for ``campaign``; one collection run each.

    A request that fails or ends partial does not stop the others; a
    :class:`SourceStopped` error does (the remaining requests are not attempted).
    """
    since = since or campaign.start
    until = until or campaign.end
    source = SourceReport(collector.name, notes=collector.notes())
    requests = collector.requests(campaign)
    for i, request in enumerate(requests):
        report, stop = run_request(
            target, collector, request, campaign=campaign.name, since=since, until=until
        )
        source.add(report)
        if stop:
            skipped = len(requests) - i - 1
            if skipped:
                source.notes.append(f"{skipped} remaining request(s) not attempted")
            break
    statuses = {q.status for q in source.queries}
    if not statuses or statuses == {"ok"}:
        source.status = "ok"
    elif statuses == {"failed"}:
        source.status = "failed"
    else:
        source.status = "partial"
    source.error = next((q.error for q in source.queries if q.error), None)
    source.resume_at = _resume_summary(collector, source.queries)
    return source


def _resume_summary(collector: Collector, queries: list[QueryReport]) -> str | None:
    if not queries:
        return None
    if len(queries) == 1:
        return collector.describe_cursor(queries[0].cursor)
    described = [collector.describe_cursor(q.cursor) for q in queries]
    if len(set(described)) == 1:
        return f"{described[0]} ({len(queries)} requests)"
    return f"{len(queries)} cursors, e.g. {described[-1]} (see collection_runs)"
