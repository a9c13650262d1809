"""Queries over what the topics and trends stages store: ``(con, Filters, ...) -> DataFrame``.

Same contract as :mod:`dashboard.queries` (no Streamlit; user values only as parameters;
the pages, the reports and the benchmarks call them). Topic counts honour every sidebar
filter and, like the views of migration 0005, leave flagged posts (``post_flags``) out.
Spikes and the hype and debate indices are stored per campaign over all its platforms and
languages (``hypewatch trends``), so only the campaign and the dates apply to them.

Which topic run: the selected campaign's current run, else the current run over all posts
(``campaign`` NULL); with "All campaigns", the run over all posts, else every campaign's
current run (its topics then carry their campaign in ``name``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import duckdb
import pandas as pd

from dashboard import metrics
from dashboard.queries import DEFAULT_SPIKE_SCORE, Filters, campaigns, relations, volume, where
from warehouse.read import relation_exists

GRAINS = ("hour", "day")
OUTLIER = -1
"""BERTopic's outlier topic (posts near no topic)."""
TOPIC_COLUMNS = [
    "run_id", "topic_id", "name", "keywords", "posts", "share", "previous_posts", "growth",
    "flagged_posts", "engagement", "labelled", "positive_share", "neutral_share",
    "negative_share", "net_sentiment", "concern_share", "representative_posts",
]  # fmt: skip
SPIKE_COLUMNS = [
    "campaign", "spike_id", "start_hour", "end_hour", "peak_hour", "posts", "peak_posts",
    "peak_baseline", "peak_score", "top_topics", "top_post_ids", "window_hours", "threshold",
    "excludes_flagged", "min_posts",
]  # fmt: skip
STAGE_TABLES = {
    "topics": ("topic_runs", "topics", "post_topics"),
    "trends": ("spike_scores", "spikes", "post_flags"),
}
"""What each later stage writes (the one list: the pages' notices name them)."""
ALERT_COLUMNS = [
    "alert_id", "campaign", "rule", "bucket_start", "grain", "value", "threshold", "posts",
    "message", "fired_at", "delivery_status",
]  # fmt: skip


def _grain(grain: str) -> str:
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}, not {grain!r}")
    return grain


def _has(con: duckdb.DuckDBPyConnection, *names: str) -> bool:
    return all(relation_exists(con, n) for n in names)


def topic_runs(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """The topic run(s) the Topics page shows for ``f.campaign`` (see the module doc):
    ``run_id, campaign, created_at, fit_posts, topics, outlier_share``."""
    if not _has(con, "current_topic_runs"):
        return pd.DataFrame(
            columns=["run_id", "campaign", "created_at", "fit_posts", "topics", "outlier_share"]
        )
    return con.execute(
        """
        WITH runs AS (SELECT * FROM current_topic_runs),
        own AS (SELECT * FROM runs WHERE $campaign IS NOT NULL AND campaign = $campaign),
        global AS (SELECT * FROM runs WHERE campaign IS NULL),
        chosen AS (
            SELECT * FROM own
            UNION ALL SELECT * FROM global WHERE NOT EXISTS (SELECT 1 FROM own)
            UNION ALL SELECT * FROM runs
                WHERE $campaign IS NULL AND NOT EXISTS (SELECT 1 FROM global)
        )
        SELECT run_id, campaign, created_at, fit_posts, topics, outlier_share
        FROM chosen ORDER BY run_id
        """,
        {"campaign": f.campaign},
    ).df()


def _topic_posts(con: duckdb.DuckDBPyConnection, f: Filters) -> tuple[str, dict[str, Any]]:
    """SQL (a subquery) of the chosen runs' posts matching ``f``, with their facts and flag."""
    rel = relations(con)
    cond, params = where(f)
    runs = topic_runs(con, f)["run_id"].tolist()
    params["runs"] = runs
    sql = f"""
        SELECT f.run_id, f.topic_id, f.post_id, f.created_at, f.engagement, f.sentiment,
               f.copyright, f.flag
        FROM {rel.topics} f
        WHERE list_contains($runs, f.run_id) AND {cond}
    """
    return sql, params


def _names(con: duckdb.DuckDBPyConnection, runs: pd.DataFrame) -> pd.DataFrame:
    """``run_id, topic_id, name, keywords, representative_post_ids`` of the runs' topics;
    the outlier topic is named "Outliers", names carry their campaign when runs are mixed."""
    frame = con.execute(
        """
        SELECT t.run_id, t.topic_id, t.name, t.keywords, t.representative_post_ids,
               r.campaign AS run_campaign
        FROM topics t JOIN topic_runs r USING (run_id)
        WHERE list_contains($runs, t.run_id)
        """,
        {"runs": runs["run_id"].tolist()},
    ).df()
    frame.loc[frame["topic_id"] == OUTLIER, "name"] = "Outliers (no clear topic)"
    if len(runs) > 1:
        frame["name"] = frame["run_campaign"].fillna("all") + ": " + frame["name"]
    return frame.drop(columns="run_campaign")


def _representatives(
    con: duckdb.DuckDBPyConnection, ids: list[str], per_topic: list[list[str]]
) -> list[list[dict[str, Any]]]:
    """``[{post_id, text, url, platform, created_at}, ...]`` per topic, in stored order."""
    if not ids:
        return [[] for _ in per_topic]
    rows = con.execute(
        "SELECT post_id, text, url, platform, created_at FROM posts "
        "WHERE post_id IN (SELECT unnest($ids))",
        {"ids": ids},
    ).df()
    found = {r["post_id"]: r for r in rows.to_dict("records")}
    return [[found[i] for i in topic if i in found] for topic in per_topic]


def topic_overview(
    con: duckdb.DuckDBPyConnection,
    f: Filters,
    limit: int = 30,
    representatives: int = 3,
    include_outliers: bool = False,
) -> pd.DataFrame:
    """One row per topic of the period, most posts first (:data:`TOPIC_COLUMNS`).

    ``posts`` leaves flagged posts out (``flagged_posts`` counts them); ``share`` is of all
    topic-assigned posts in the period (the outlier topic included); ``growth`` is
    ``posts / previous_posts - 1`` against the period of the same length just before (NULL
    when the topic had no post then); sentiment and concern shares are of labelled posts;
    ``net_sentiment`` = (positive − negative) / labelled; ``representative_posts`` are the
    posts the topics stage found closest to the topic (a list of dicts with ``text``).
    """
    runs = topic_runs(con, f)
    if runs.empty:
        return pd.DataFrame(columns=TOPIC_COLUMNS)
    prev = f.previous()
    span = Filters(f.campaign, prev.start, f.end, f.platforms, f.langs)
    sql, params = _topic_posts(con, span)
    params["split"] = f.start_at
    counts = con.execute(
        f"""
        WITH p AS ({sql})
        SELECT run_id, topic_id,
               count(*) FILTER (flag IS NULL AND created_at >= $split) AS posts,
               count(*) FILTER (flag IS NULL AND created_at < $split) AS previous_posts,
               count(*) FILTER (flag IS NOT NULL AND created_at >= $split) AS flagged_posts,
               coalesce(sum(engagement) FILTER (flag IS NULL AND created_at >= $split), 0)
                   ::BIGINT AS engagement,
               count(sentiment) FILTER (flag IS NULL AND created_at >= $split) AS labelled,
               count(*) FILTER (flag IS NULL AND created_at >= $split
                                AND sentiment = 'positive') AS positive,
               count(*) FILTER (flag IS NULL AND created_at >= $split
                                AND sentiment = 'neutral') AS neutral,
               count(*) FILTER (flag IS NULL AND created_at >= $split
                                AND sentiment = 'negative') AS negative,
               count(copyright) FILTER (flag IS NULL AND created_at >= $split)
                   AS copyright_labelled,
               count(*) FILTER (flag IS NULL AND created_at >= $split
                                AND copyright = 'concern') AS concern
        FROM p GROUP BY ALL
        """,
        params,
    ).df()
    counts = counts[counts["posts"] > 0]
    if counts.empty:
        return pd.DataFrame(columns=TOPIC_COLUMNS)
    total = counts["posts"].sum()
    if not include_outliers:
        counts = counts[counts["topic_id"] != OUTLIER]
    counts = counts.sort_values(["posts", "topic_id"], ascending=[False, True]).head(limit)
    names = _names(con, runs)
    out = counts.merge(names, on=["run_id", "topic_id"], how="left")
    labelled = out["labelled"].where(out["labelled"] > 0)
    out["share"] = out["posts"] / total
    out["growth"] = out["posts"] / out["previous_posts"].where(out["previous_posts"] > 0) - 1
    for sentiment in ("positive", "neutral", "negative"):
        out[f"{sentiment}_share"] = out[sentiment] / labelled
    out["net_sentiment"] = (out["positive"] - out["negative"]) / labelled
    out["concern_share"] = out["concern"] / out["copyright_labelled"].where(
        out["copyright_labelled"] > 0
    )
    per_topic = [
        list(ids)[:representatives] if ids is not None else []
        for ids in out["representative_post_ids"]
    ]
    out["representative_posts"] = _representatives(
        con, sorted({i for ids in per_topic for i in ids}), per_topic
    )
    out["keywords"] = [list(k) if k is not None else [] for k in out["keywords"]]
    return out[TOPIC_COLUMNS].reset_index(drop=True)


def topic_summary(con: duckdb.DuckDBPyConnection, f: Filters) -> dict[str, int]:
    """``{"topics", "posts"}``: how many topics have posts in the period and how many posts
    have a topic (the outlier topic and flagged posts left out), however many
    :func:`topic_overview` lists."""
    if topic_runs(con, f).empty:
        return {"topics": 0, "posts": 0}
    sql, params = _topic_posts(con, f)
    params["outlier"] = OUTLIER
    topics, posts = con.execute(
        f"""
        WITH p AS ({sql})
        SELECT count(DISTINCT (run_id, topic_id)), count(*)
        FROM p WHERE flag IS NULL AND topic_id <> $outlier
        """,
        params,
    ).fetchone()
    return {"topics": int(topics), "posts": int(posts)}


def topics_over_time(
    con: duckdb.DuckDBPyConnection,
    f: Filters,
    grain: str = "day",
    top: int = 10,
    include_outliers: bool = False,
) -> pd.DataFrame:
    """Posts per UTC bucket and topic (flagged posts left out): ``bucket, run_id, topic_id,
    name, posts``. The ``top`` topics of the period keep their own rows; the others are
    summed into one ``Other topics`` row per bucket (``topic_id`` NULL)."""
    columns = ["bucket", "run_id", "topic_id", "name", "posts"]
    grain = _grain(grain)
    runs = topic_runs(con, f)
    if runs.empty:
        return pd.DataFrame(columns=columns)
    sql, params = _topic_posts(con, f)
    frame = con.execute(
        f"""
        WITH p AS ({sql})
        SELECT date_trunc('{grain}', created_at) AS bucket, run_id, topic_id,
               count(*) AS posts
        FROM p WHERE flag IS NULL GROUP BY ALL ORDER BY 1, 2, 3
        """,
        params,
    ).df()
    if not include_outliers:
        frame = frame[frame["topic_id"] != OUTLIER]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    sizes = frame.groupby(["run_id", "topic_id"])["posts"].sum().sort_values(ascending=False)
    keep = set(sizes.head(top).index)
    mask = [(r, t) in keep for r, t in zip(frame["run_id"], frame["topic_id"], strict=True)]
    kept = frame[mask].merge(
        _names(con, runs)[["run_id", "topic_id", "name"]], on=["run_id", "topic_id"], how="left"
    )
    rest = frame[[not m for m in mask]]
    if not rest.empty:
        other = rest.groupby("bucket", as_index=False)["posts"].sum()
        other = other.assign(run_id=pd.NA, topic_id=pd.NA, name="Other topics")
        kept = pd.concat([kept, other[columns]], ignore_index=True)
    return kept[columns].sort_values(["bucket", "name"], ignore_index=True)


def spikes(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Stored spikes of the overall volume (series ``all``) overlapping the period, in time
    order (:data:`SPIKE_COLUMNS`); the campaign filter applies, platforms and languages not
    (spikes are scored on all of a campaign's posts)."""
    if not _has(con, "spikes"):
        return pd.DataFrame(columns=SPIKE_COLUMNS)
    return con.execute(
        f"""
        SELECT {", ".join(SPIKE_COLUMNS)} FROM spikes
        WHERE series = 'all'
          AND ($campaign IS NULL OR campaign = $campaign)
          AND end_hour >= $start_at AND start_hour < $end_at
        ORDER BY peak_hour, campaign
        """,
        {"campaign": f.campaign, "start_at": f.start_at, "end_at": f.end_at},
    ).df()


def spike_threshold(con: duckdb.DuckDBPyConnection, campaign: str | None) -> float:
    """The campaign's ``alerts.spike_score`` (the default without a campaign)."""
    rows = campaigns(con)
    match = rows[rows["campaign"] == campaign] if campaign is not None else rows.iloc[:0]
    return float(match["spike_score"].iloc[0]) if len(match) else DEFAULT_SPIKE_SCORE


def volume_rule_spikes(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Spikes by the fallback volume rule (:func:`dashboard.metrics.detect_spikes`) for a
    warehouse the trends stage has not seen, shaped like :func:`spikes`.

    Like the stored spikes, they are scored on all of the campaign's posts per UTC hour
    (platforms and languages do not apply), and the hourly series starts
    ``SPIKE_WINDOW`` hours before the period so its first hours have a baseline; only
    peaks inside the period are kept. Consecutive spike hours form one spike, its peak the
    hour of highest score. ``top_topics`` is empty (no topics without the trends stage)."""
    window = metrics.SPIKE_WINDOW["hour"]
    begin = f.start_at - timedelta(hours=window)
    history = Filters(f.campaign, begin.date(), f.end)
    totals = metrics.complete_series(volume(con, history, "hour"), begin, f.end_at, "hour")
    threshold = spike_threshold(con, f.campaign)
    hits = metrics.detect_spikes(totals, threshold, "hour")
    hits = hits[hits["bucket"] >= pd.Timestamp(f.start_at)].reset_index(drop=True)
    if hits.empty:
        return pd.DataFrame(columns=SPIKE_COLUMNS)
    run = (hits["bucket"].diff() != pd.Timedelta(hours=1)).cumsum()
    rows = []
    for spike_id, part in enumerate((p for _, p in hits.groupby(run, sort=True)), start=1):
        peak = part.loc[part["score"].idxmax()]
        rows.append(
            {
                "campaign": f.campaign,
                "spike_id": spike_id,
                "start_hour": part["bucket"].iloc[0],
                "end_hour": part["bucket"].iloc[-1],
                "peak_hour": peak["bucket"],
                "posts": int(part["posts"].sum()),
                "peak_posts": int(peak["posts"]),
                "peak_baseline": float(peak["baseline"]),
                "peak_score": float(peak["score"]),
                "top_topics": [],
                "top_post_ids": [],
                "window_hours": window,
                "threshold": threshold,
                "excludes_flagged": False,
                "min_posts": None,
            }
        )
    return pd.DataFrame(rows, columns=SPIKE_COLUMNS)


def period_spikes(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """The spikes the Overview and the reports show (:data:`SPIKE_COLUMNS`): those stored by
    ``hypewatch trends`` when it ran for ``f.campaign`` (:func:`has_trends`), else
    :func:`volume_rule_spikes`. Say which with :func:`has_trends`."""
    return spikes(con, f) if has_trends(con, f) else volume_rule_spikes(con, f)


def indices(con: duckdb.DuckDBPyConnection, f: Filters, grain: str = "hour") -> pd.DataFrame:
    """Hype and debate indices per UTC bucket: ``bucket, hype, debate, posts, labelled``.

    Hourly values are ``trend_indices``' (docs/metrics.md); a day's (or several campaigns')
    value is the mean of its hourly indices weighted by their labelled posts. The campaign
    and dates apply, platforms and languages not (the indices cover the whole campaign).
    """
    columns = ["bucket", "hype", "debate", "posts", "labelled"]
    grain = _grain(grain)
    if not _has(con, "trend_indices"):
        return pd.DataFrame(columns=columns)
    return con.execute(
        f"""
        SELECT date_trunc('{grain}', hour_utc) AS bucket,
               sum(hype_index * labelled_posts) / nullif(sum(labelled_posts)
                   FILTER (hype_index IS NOT NULL), 0) AS hype,
               sum(debate_index * labelled_posts) / nullif(sum(labelled_posts)
                   FILTER (debate_index IS NOT NULL), 0) AS debate,
               sum(posts)::BIGINT AS posts,
               sum(labelled_posts)::BIGINT AS labelled
        FROM trend_indices
        WHERE ($campaign IS NULL OR campaign = $campaign)
          AND hour_utc >= $start_at AND hour_utc < $end_at
        GROUP BY 1 ORDER BY 1
        """,
        {"campaign": f.campaign, "start_at": f.start_at, "end_at": f.end_at},
    ).df()


def has_trends(con: duckdb.DuckDBPyConnection, f: Filters) -> bool:
    """Whether ``hypewatch trends`` ran for ``f.campaign`` (for any campaign when None)."""
    if not _has(con, "spike_scores"):
        return False
    return bool(
        con.execute(
            "SELECT EXISTS (SELECT 1 FROM spike_scores WHERE $c IS NULL OR campaign = $c)",
            {"c": f.campaign},
        ).fetchone()[0]
    )


def alerts(con: duckdb.DuckDBPyConnection, f: Filters, limit: int | None = None) -> pd.DataFrame:
    """Alerts whose bucket starts in the period, newest first (:data:`ALERT_COLUMNS`); all of
    them unless ``limit`` is given (count them with :func:`alert_count`)."""
    if not _has(con, "alerts"):
        return pd.DataFrame(columns=ALERT_COLUMNS)
    return con.execute(
        f"""
        SELECT {", ".join(ALERT_COLUMNS)} FROM alerts
        WHERE ($campaign IS NULL OR campaign = $campaign)
          AND bucket_start >= $start_at AND bucket_start < $end_at
        ORDER BY bucket_start DESC, fired_at DESC, alert_id
        LIMIT $limit
        """,
        {"campaign": f.campaign, "start_at": f.start_at, "end_at": f.end_at, "limit": limit},
    ).df()


def alert_count(con: duckdb.DuckDBPyConnection, f: Filters) -> int:
    """How many alerts :func:`alerts` finds for the period without a limit."""
    if not _has(con, "alerts"):
        return 0
    return int(
        con.execute(
            "SELECT count(*) FROM alerts WHERE ($campaign IS NULL OR campaign = $campaign) "
            "AND bucket_start >= $start_at AND bucket_start < $end_at",
            {"campaign": f.campaign, "start_at": f.start_at, "end_at": f.end_at},
        ).fetchone()[0]
    )
