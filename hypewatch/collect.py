"""The collect stage: a campaign's queries -> live collectors -> the warehouse.

``collect`` runs the chosen sources one after the other. A source without credentials is
skipped with a message naming the variables to set; a source that fails does not stop
the next one. Each source returns a :class:`~ingest.collectors.base.SourceReport`.

``hypewatch collect`` passes a :class:`~warehouse.read.ShortWrites` for the warehouse file:
it is opened read-write per stored page, never for the whole run (see the driver).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import duckdb

from hypewatch.campaigns import Campaign
from hypewatch.settings import Settings, get_settings
from ingest.collectors import COLLECTORS, get_collector
from ingest.collectors.base import Collector
from ingest.collectors.driver import SourceReport, run_source
from warehouse.read import ShortWrites
from warehouse.writes import last_cursor, store_campaign


def resolve_window(
    campaign: Campaign, since: datetime | None, until: datetime | None
) -> tuple[datetime, datetime]:
    """``[since, until)`` in UTC, defaulting to the campaign window; checked non-empty."""
    start = _utc(since) if since else campaign.start
    end = _utc(until) if until else campaign.end
    if end <= start:
        raise ValueError(
            f"--until ({end:%Y-%m-%d %H:%M}) must be after --since ({start:%Y-%m-%d %H:%M})"
        )
    return start, end


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def collect(
    con: duckdb.DuckDBPyConnection | ShortWrites | None,
    campaign: Campaign,
    sources: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    settings: Settings | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> list[SourceReport]:
    """Collect ``campaign`` from ``sources`` (default: all) into the warehouse ``con``.

    ``con`` is a connection or :class:`ShortWrites` (the warehouse opened per write).
    ``dry_run`` makes no request and writes nothing: each report's ``plan`` lists the
    requests a run would make and ``resume_at`` where each would resume (``con`` may then
    be ``None``, or a read-only connection).
    """
    settings = settings or get_settings()
    names = list(dict.fromkeys(sources or COLLECTORS))
    classes = {name: get_collector(name) for name in names}  # unknown name: fail first
    start, end = resolve_window(campaign, since, until)
    if not dry_run:
        if con is None:
            raise ValueError("collect needs a warehouse connection unless dry_run")
        with ShortWrites.of(con).open() as held:
            store_campaign(held, campaign)
    reports = []
    for name, cls in classes.items():
        missing = cls.missing_credentials(settings)
        if missing:
            reports.append(
                SourceReport(
                    name, status="skipped", error=f"no credentials: set {', '.join(missing)}"
                )
            )
            continue
        collector = cls(settings, sleep=sleep, clock=clock)
        try:
            if dry_run:
                reports.append(_plan(con, collector, campaign, start, end))
            else:
                reports.append(run_source(con, collector, campaign, since=start, until=end))
        finally:
            collector.close()
    return reports


def _plan(
    con: duckdb.DuckDBPyConnection | None,
    collector: Collector,
    campaign: Campaign,
    since: datetime,
    until: datetime,
) -> SourceReport:
    report = SourceReport(collector.name, status="planned", notes=collector.notes())
    report.plan = collector.plan(campaign, since, until)
    cursors = []
    for request in collector.requests(campaign):
        cursor = (
            last_cursor(con, collector.name, request.query, campaign.name)
            if con is not None
            else None
        )
        cursors.append(collector.describe_cursor(cursor))
    report.requests = len(report.plan)
    report.plan = [f"{line}; resume at: {c}" for line, c in zip(report.plan, cursors, strict=True)]
    report.resume_at = cursors[0] if len(set(cursors)) == 1 and cursors else None
    return report
