"""Trends: near-duplicate flags, spikes, and the tables behind the trend views.

``hypewatch trends`` refreshes the per-post facts (``post_facts``, ``post_entities``), flags
near-duplicate and bot-like clusters (:mod:`analysis.duplicates`) into ``post_flags``, and
scores every hour of the campaign's volume (all posts, and the posts mentioning each
tracked entity) with a robust score, stored in ``spike_scores`` and, merged into episodes
with their top topics and top posts, in ``spikes``. Volumes, share of voice and the hype and
debate indices are SQL views (migration 0005, defined in ``docs/metrics.md``) and need no
computing. Flagged posts are left out of everything by default.

The spike score of an hour is ``(posts - m) / max(1.4826 * MAD, sqrt(m), 1)`` where ``m``
and ``MAD`` are the median and the median absolute deviation of the posts of the previous
``window_hours`` hours. The floor keeps quiet hours (MAD 0) from scoring every extra post
as a spike. An hour is a spike hour when its score reaches the threshold and it has at
least ``min_posts`` posts; consecutive spike hours form one spike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import duckdb

from analysis.duplicates import DuplicateSettings, find_duplicates
from analysis.topics import fetch_one, prefixed_fields, query_arrow
from warehouse.db import transaction
from warehouse.writes import mark_write, utcnow


@dataclass(frozen=True)
class TrendSettings:
    spike_window_hours: int = 24
    """Hours before an hour that its spike baseline (median, MAD) is computed on."""
    spike_threshold: float = 4.0
    """Robust score from which an hour is a spike (a campaign's ``alerts.spike_score`` wins)."""
    spike_min_posts: int = 10
    """Posts an hour needs to be a spike hour."""
    spike_min_history: int = 6
    """Hours of history an hour needs before it is scored."""
    spike_top: int = 3
    """Top topics and top posts kept per spike."""
    exclude_flagged: bool = True
    """Leave near-duplicate and bot-like posts out of spikes (the views always do)."""
    dup_threshold: float = 0.8
    """Estimated Jaccard similarity of word 3-shingles that makes two posts duplicates."""
    dup_window_hours: int = 24
    dup_min_cluster: int = 3

    @classmethod
    def from_settings(cls, settings: Any) -> TrendSettings:
        """Pick ``trends_<field>`` values from the app settings where they exist."""
        return cls(**prefixed_fields(cls, settings, "trends_"))

    def duplicates(self) -> DuplicateSettings:
        return DuplicateSettings(
            threshold=self.dup_threshold,
            window_hours=self.dup_window_hours,
            min_cluster=self.dup_min_cluster,
        )


@dataclass
class FlagReport:
    campaign: str | None
    posts: int
    clusters: int
    bot_clusters: int
    flagged: int
    bot_flagged: int
    seconds: float


@dataclass
class TrendReport:
    campaign: str | None
    flags: FlagReport
    spikes: int
    threshold: float
    seconds: float


# ------------------------------------------------------------------------- duplicates


def flag_duplicates(
    con: duckdb.DuckDBPyConnection, campaign: str | None, settings: DuplicateSettings
) -> FlagReport:
    """Find the campaign's duplicate clusters and replace its rows of ``duplicate_clusters``
    and ``post_flags``. Reposts are left out: they are explicit amplification, not copies."""
    start = time.perf_counter()
    table = query_arrow(
        con,
        "SELECT post_id, text, epoch(created_at) / 3600.0 AS hours, author_id FROM posts "
        "WHERE campaign IS NOT DISTINCT FROM ? AND repost_of_id IS NULL ORDER BY post_id",
        [campaign],
    )
    clusters, flags = find_duplicates(
        table["post_id"].to_pylist(),
        table["text"].to_pylist(),
        table["hours"].to_numpy(),
        table["author_id"].to_pylist(),
        settings,
    )
    now = utcnow()
    with transaction(con):
        con.execute("DELETE FROM post_flags WHERE campaign IS NOT DISTINCT FROM ?", [campaign])
        con.execute(
            "DELETE FROM duplicate_clusters WHERE campaign IS NOT DISTINCT FROM ?", [campaign]
        )
        con.register("_clusters", clusters)
        con.execute(
            "INSERT INTO duplicate_clusters SELECT cluster, ?, kind, posts, authors, "
            "first_post_id, ? FROM _clusters",
            [campaign, now],
        )
        con.unregister("_clusters")
        con.register("_flags", flags)
        con.execute(
            "INSERT INTO post_flags SELECT post_id, ?, flag, cluster, ? FROM _flags",
            [campaign, now],
        )
        con.unregister("_flags")
        mark_write(con, "flags", flags.num_rows)
    kinds = clusters["kind"].to_pylist()
    flag_kinds = flags["flag"].to_pylist()
    return FlagReport(
        campaign=campaign,
        posts=table.num_rows,
        clusters=len(kinds),
        bot_clusters=kinds.count("bot_like"),
        flagged=len(flag_kinds),
        bot_flagged=flag_kinds.count("bot_like"),
        seconds=time.perf_counter() - start,
    )


# ----------------------------------------------------------------------------- spikes


def spike_threshold(con: duckdb.DuckDBPyConnection, campaign: str | None, default: float) -> float:
    """The campaign file's ``alerts.spike_score`` when it has one, else ``default``."""
    row = fetch_one(
        con,
        "SELECT TRY_CAST(config->'$.alerts.spike_score' AS DOUBLE) FROM campaigns "
        "WHERE campaign = ?",
        [campaign],
    )
    return float(row[0]) if row and row[0] is not None else default


def _score_sql(s: TrendSettings, exclude_flagged: bool) -> str:
    flagged = "ANTI JOIN post_flags USING (post_id)" if exclude_flagged else ""
    w = int(s.spike_window_hours)
    return f"""
        WITH base AS (
            SELECT post_id, date_trunc('hour', created_at) AS hour_utc, engagement
            FROM post_facts {flagged}
            WHERE campaign IS NOT DISTINCT FROM $campaign
        ),
        series_posts AS (
            SELECT 'all' AS series, post_id, hour_utc, engagement FROM base
            UNION ALL
            SELECT 'entity:' || e.entity, b.post_id, b.hour_utc, b.engagement
            FROM base b JOIN post_entities e USING (post_id)
            WHERE e.campaign IS NOT DISTINCT FROM $campaign
        ),
        counts AS (
            SELECT series, hour_utc, count(*) AS posts FROM series_posts GROUP BY ALL
        ),
        grid AS (
            SELECT s.series, unnest(generate_series(b.lo, b.hi, INTERVAL 1 HOUR)) AS hour_utc
            FROM (SELECT DISTINCT series FROM counts) s,
                 (SELECT min(hour_utc) AS lo, max(hour_utc) AS hi FROM base) b
        ),
        dense AS (
            SELECT g.series, g.hour_utc, coalesce(c.posts, 0) AS posts
            FROM grid g LEFT JOIN counts c USING (series, hour_utc)
        ),
        scored AS (
            SELECT
                series, hour_utc, posts,
                median(posts) OVER w AS baseline,
                mad(posts) OVER w AS mad,
                count(*) OVER w AS history
            FROM dense
            WINDOW w AS (PARTITION BY series ORDER BY hour_utc
                         ROWS BETWEEN {w} PRECEDING AND 1 PRECEDING)
        )
        SELECT
            series, hour_utc, posts, baseline::DOUBLE AS baseline, mad::DOUBLE AS mad,
            CASE WHEN history >= $min_history THEN
                (posts - baseline) / greatest(1.4826 * mad, sqrt(baseline), 1.0)
            END AS score
        FROM scored
    """


_SPIKES_SQL = """
INSERT INTO spikes
WITH hours AS (
    SELECT *, hour_utc - to_hours(
        row_number() OVER (PARTITION BY series ORDER BY hour_utc)
    ) AS island
    FROM spike_scores
    WHERE campaign IS NOT DISTINCT FROM $campaign AND is_spike
),
episodes AS (
    SELECT
        series,
        row_number() OVER (PARTITION BY series ORDER BY min(hour_utc))::INTEGER
            AS spike_id,
        min(hour_utc) AS start_hour, max(hour_utc) AS end_hour,
        arg_max(hour_utc, score) AS peak_hour, sum(posts) AS posts,
        max(posts) AS peak_posts, arg_max(baseline, score) AS peak_baseline,
        max(score) AS peak_score
    FROM hours GROUP BY series, island
),
members AS (
    SELECT x.series, x.spike_id, f.post_id, f.engagement
    FROM episodes x
    JOIN post_facts f
      ON f.campaign IS NOT DISTINCT FROM $campaign
     AND f.created_at >= x.start_hour
     AND f.created_at < x.end_hour + INTERVAL 1 HOUR
    WHERE (x.series = 'all' OR EXISTS (
        SELECT 1 FROM post_entities e
        WHERE e.post_id = f.post_id AND 'entity:' || e.entity = x.series
    )) AND f.post_id NOT IN (SELECT post_id FROM post_flags WHERE $exclude)
),
top_topics AS (
    SELECT series, spike_id,
           list(topic_id ORDER BY n DESC, topic_id)[:$top] AS ids,
           list(name ORDER BY n DESC, topic_id)[:$top] AS names
    FROM (
        SELECT m.series, m.spike_id, pt.topic_id, any_value(t.name) AS name,
               count(*) AS n
        FROM members m
        JOIN post_topics pt ON pt.post_id = m.post_id AND pt.run_id = $run
        JOIN topics t ON t.run_id = pt.run_id AND t.topic_id = pt.topic_id
        WHERE pt.topic_id <> -1
        GROUP BY ALL
    ) GROUP BY ALL
),
top_posts AS (
    SELECT series, spike_id,
           list(post_id ORDER BY engagement DESC, post_id)[:$top] AS ids
    FROM members GROUP BY ALL
)
SELECT
    $campaign, e.series, e.spike_id, e.start_hour, e.end_hour, e.peak_hour,
    e.posts, e.peak_posts, e.peak_baseline, e.peak_score,
    tt.ids, tt.names, tp.ids, $window, $threshold, $exclude, $now, $min_posts
FROM episodes e
LEFT JOIN top_topics tt USING (series, spike_id)
LEFT JOIN top_posts tp USING (series, spike_id)
"""
"""Consecutive spike hours -> spikes, with their top topics and top posts."""


def detect_spikes(
    con: duckdb.DuckDBPyConnection,
    campaign: str | None,
    s: TrendSettings,
    *,
    threshold: float | None = None,
) -> int:
    """Score every hour, store ``spike_scores`` and ``spikes`` for the campaign (replacing
    its rows); returns the number of spikes."""
    threshold = (
        spike_threshold(con, campaign, s.spike_threshold) if threshold is None else threshold
    )
    now = utcnow()
    with transaction(con):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _scores AS {_score_sql(s, s.exclude_flagged)}",
            {"campaign": campaign, "min_history": s.spike_min_history},
        )
        con.execute("DELETE FROM spike_scores WHERE campaign IS NOT DISTINCT FROM ?", [campaign])
        con.execute("DELETE FROM spikes WHERE campaign IS NOT DISTINCT FROM ?", [campaign])
        con.execute(
            "INSERT INTO spike_scores SELECT $campaign, series, hour_utc, posts, baseline, mad, "
            "score, coalesce(score >= $threshold AND posts >= $min_posts, false), $now "
            "FROM _scores",
            {
                "campaign": campaign,
                "threshold": threshold,
                "min_posts": s.spike_min_posts,
                "now": now,
            },
        )
        run = _topic_run_for(con, campaign)
        n = con.execute(
            _SPIKES_SQL,
            {
                "campaign": campaign,
                "run": run,
                "top": s.spike_top,
                "window": s.spike_window_hours,
                "threshold": threshold,
                "exclude": s.exclude_flagged,
                "now": now,
                "min_posts": s.spike_min_posts,
            },
        ).fetchone()[0]
        con.execute("DROP TABLE _scores")
        mark_write(con, "trends", n)
    return n


def _topic_run_for(con: duckdb.DuckDBPyConnection, campaign: str | None) -> int | None:
    """The campaign's current topic run, else the current run over all posts."""
    row = fetch_one(
        con,
        "SELECT run_id FROM current_topic_runs WHERE campaign IS NOT DISTINCT FROM ? "
        "OR campaign IS NULL ORDER BY campaign NULLS LAST LIMIT 1",
        [campaign],
    )
    return row[0] if row else None


# ------------------------------------------------------------------------------- run


def campaigns_with_posts(con: duckdb.DuckDBPyConnection) -> list[str | None]:
    return [r[0] for r in con.execute("SELECT DISTINCT campaign FROM posts ORDER BY 1").fetchall()]


def run_trends(
    con: duckdb.DuckDBPyConnection,
    campaign: str | None = None,
    settings: TrendSettings | None = None,
    *,
    all_campaigns: bool = False,
) -> list[TrendReport]:
    """``hypewatch trends`` for one campaign (or every campaign with posts)."""
    from warehouse.aggregates import refresh_aggregates

    s = settings or TrendSettings()
    refresh_aggregates(con)
    scope = campaigns_with_posts(con) if all_campaigns else [campaign]
    reports = []
    for name in scope:
        start = time.perf_counter()
        flags = flag_duplicates(con, name, s.duplicates())
        threshold = spike_threshold(con, name, s.spike_threshold)
        n = detect_spikes(con, name, s, threshold=threshold)
        reports.append(
            TrendReport(
                campaign=name,
                flags=flags,
                spikes=n,
                threshold=threshold,
                seconds=time.perf_counter() - start,
            )
        )
    return reports
