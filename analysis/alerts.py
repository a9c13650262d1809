"""Alerts: the campaign file's ``[alerts]`` thresholds checked against the stored trends.

Evaluated at the end of ``hypewatch trends`` (so after every ``trends`` and ``demo`` run),
on what the trends left in the warehouse (definitions in docs/metrics.md#alerts):

- ``spike_score`` (grain ``hour``): an hour of the campaign's ``all`` series in
  ``spike_scores`` whose score reaches the threshold with at least ``min_posts`` posts. Only
  the first hour of a run of such hours fires: one alert per spike, not one per hour.
- ``negative_share`` (grain ``day``): negative posts / sentiment-labelled posts of a UTC day.
- ``concern_share`` (grain ``day``): ``concern`` posts / copyright-labelled posts of a day.

The shares are exactly the dashboard's (Sentiment and Copyright pages, day grain; also the
headline figures and the reports): every labelled post of the day, flagged (near-duplicate,
bot-like) posts included, read through the relation the dashboard reads (``post_facts``
once the aggregates were refreshed, else the live view ``post_facts_live``; see
:func:`facts_relation`). A share needs ``min_posts`` labelled posts in the day, so a quiet
day of 3 posts never fires. (The spike rule reads ``spike_scores``, which follow the trends
run's own flagged-posts setting.)

Each (campaign, rule, bucket) is stored once in ``alerts`` (``alert_id =
campaign|rule|bucket_start``) with an anti-join: evaluating again never fires twice.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Protocol

import duckdb
import orjson

from warehouse.db import transaction
from warehouse.writes import mark_write, utcnow

RULES = ("spike_score", "negative_share", "concern_share")


class Thresholds(Protocol):
    """What :func:`evaluate_alerts` reads (``hypewatch.campaigns.Alerts`` is one)."""

    spike_score: float | None
    negative_share: float | None
    concern_share: float | None
    min_posts: int


@dataclass(frozen=True)
class Alert:
    """One fired alert: a row of the ``alerts`` table."""

    alert_id: str
    campaign: str
    rule: str
    bucket_start: datetime
    grain: str
    value: float
    threshold: float
    posts: int
    message: str
    fired_at: datetime
    delivery_status: str


def alert_id(campaign: str, rule: str, bucket_start: datetime) -> str:
    """``campaign|rule|bucket_start`` (bucket start as ``YYYY-MM-DDTHH:MM:SS``, UTC)."""
    return f"{campaign}|{rule}|{bucket_start.isoformat(timespec='seconds')}"


def stored_thresholds(con: duckdb.DuckDBPyConnection, campaign: str) -> dict[str, Any] | None:
    """The ``[alerts]`` table of the campaign as last loaded into the warehouse (None when
    the campaign is not loaded)."""
    row = con.execute(
        "SELECT json_extract(config, '$.alerts')::VARCHAR FROM campaigns WHERE campaign = ?",
        [campaign],
    ).fetchone()
    if row is None:
        return None
    return orjson.loads(row[0]) if row[0] else {}


_SPIKE_SQL = """
WITH hours AS (
    SELECT hour_utc, posts, baseline, score,
           coalesce(score >= $threshold AND posts >= $min_posts, false) AS hit
    FROM spike_scores
    WHERE campaign = $campaign AND series = 'all'
),
marked AS (
    SELECT *, lag(hit, 1, false) OVER (ORDER BY hour_utc) AS previous_hit FROM hours
)
SELECT hour_utc, score, posts, baseline FROM marked
WHERE hit AND NOT previous_hit AND hour_utc <= $now
ORDER BY hour_utc
"""

_DAYS_SQL = """
SELECT date_trunc('day', f.created_at) AS day_utc,
       count(f.sentiment) AS sentiment_labelled,
       count(*) FILTER (f.sentiment = 'negative') AS negative,
       count(f.copyright) AS copyright_labelled,
       count(*) FILTER (f.copyright = 'concern') AS concern
FROM {facts} f
WHERE f.campaign = $campaign AND f.created_at <= $now
GROUP BY 1 ORDER BY 1
"""


def facts_relation(con: duckdb.DuckDBPyConnection) -> str:
    """The post facts the dashboard reads: ``post_facts`` once the aggregates were ever
    refreshed (a ``write_marks`` row ``aggregates``), else the live view ``post_facts_live``.

    The same rule as ``dashboard.queries.relations`` (analysis/ does not import dashboard/;
    tests/test_alerts.py checks that both give the same shares).
    """
    row = con.execute("SELECT 1 FROM write_marks WHERE stage = 'aggregates' LIMIT 1").fetchone()
    return "post_facts" if row else "post_facts_live"


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def candidates(
    con: duckdb.DuckDBPyConnection,
    campaign: str,
    thresholds: Thresholds,
    now: datetime,
) -> list[Alert]:
    """Every bucket that crosses a threshold now (fired before or not)."""
    found: list[Alert] = []
    min_posts = int(thresholds.min_posts)

    def add(rule: str, start: datetime, grain: str, value: float, n: int, message: str) -> None:
        threshold = float(getattr(thresholds, rule))
        found.append(
            Alert(
                alert_id(campaign, rule, start), campaign, rule, start, grain, float(value),
                threshold, int(n), message, now, "not_sent",
            )
        )  # fmt: skip

    if thresholds.spike_score is not None:
        rows = con.execute(
            _SPIKE_SQL,
            {
                "campaign": campaign,
                "threshold": float(thresholds.spike_score),
                "min_posts": min_posts,
                "now": now,
            },
        ).fetchall()
        for hour, score, posts, baseline in rows:
            add(
                "spike_score", hour, "hour", score, posts,
                f"{campaign}: volume spike in the hour from {hour:%Y-%m-%d %H:%M} UTC, "
                f"{posts:,} posts against a usual {baseline:,.0f} an hour "
                f"(spike score {score:.1f}, threshold {thresholds.spike_score:g}).",
            )  # fmt: skip
    if thresholds.negative_share is None and thresholds.concern_share is None:
        return found
    days = con.execute(
        _DAYS_SQL.format(facts=facts_relation(con)), {"campaign": campaign, "now": now}
    ).fetchall()
    for day, labelled, negative, c_labelled, concern in days:
        if thresholds.negative_share is not None and labelled >= min_posts:
            share = negative / labelled
            if share >= thresholds.negative_share:
                add(
                    "negative_share", day, "day", share, labelled,
                    f"{campaign}: {_pct(share)} of the {labelled:,} sentiment-labelled posts "
                    f"of {day:%Y-%m-%d} (UTC) are negative "
                    f"(threshold {_pct(thresholds.negative_share)}).",
                )  # fmt: skip
        if thresholds.concern_share is not None and c_labelled >= min_posts:
            share = concern / c_labelled
            if share >= thresholds.concern_share:
                add(
                    "concern_share", day, "day", share, c_labelled,
                    f"{campaign}: {_pct(share)} of the {c_labelled:,} copyright-labelled posts "
                    f"of {day:%Y-%m-%d} (UTC) raise a copyright concern "
                    f"(threshold {_pct(thresholds.concern_share)}).",
                )  # fmt: skip
    return found


def evaluate_alerts(
    con: duckdb.DuckDBPyConnection,
    campaign: str,
    thresholds: Thresholds,
    now: datetime | None = None,
    *,
    pending: bool = False,
) -> list[Alert]:
    """Store the alerts that fire now and were not stored before; returns those new ones.

    ``now`` (naive UTC, default the clock) is their ``fired_at`` and the latest bucket
    start considered. ``pending`` marks new alerts for webhook delivery
    (``delivery_status = 'pending'``), else they are ``not_sent``.
    """
    now = now or utcnow()
    status = "pending" if pending else "not_sent"
    found = [replace(a, delivery_status=status) for a in candidates(con, campaign, thresholds, now)]
    if not found:
        return []
    columns = [f.name for f in fields(Alert)]
    with transaction(con):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _alert_candidates AS SELECT * FROM alerts LIMIT 0"
        )
        con.executemany(
            f"INSERT INTO _alert_candidates ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            [[getattr(a, c) for c in columns] for a in found],
        )
        new = {
            r[0]
            for r in con.execute(
                f"INSERT INTO alerts ({', '.join(columns)}) "
                f"SELECT {', '.join(columns)} FROM _alert_candidates "
                "ANTI JOIN alerts USING (alert_id) RETURNING alert_id"
            ).fetchall()
        }
        con.execute("DROP TABLE _alert_candidates")
        if new:
            mark_write(con, "alerts", len(new))
    return [a for a in found if a.alert_id in new]
