"""Every query the dashboard runs: ``(connection, Filters, ...) -> DataFrame``, no Streamlit.

The pages (through :mod:`dashboard.data`'s cache), the scheduled reports and
``bench/dashboard.py`` all call these. Values from the user always travel as query
parameters; the only SQL text chosen at run time comes from fixed whitelists here
(relation names, the ``platform``/``lang`` dimension, sort orders).

Posts are read from ``post_facts``/``post_entities`` (migrations 0004 and 0008, refreshed by
:func:`warehouse.aggregates.refresh_aggregates`); a warehouse whose aggregates were never
refreshed is read through the equivalent ``*_live`` views instead (correct, slower).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from warehouse.aggregates import signatures

GRAINS = ("hour", "day")
DIMENSIONS = {"platform": "platform", "language": "lang"}
SENTIMENTS = ("negative", "neutral", "positive")
SORTS = {
    "engagement": "f.engagement DESC, f.created_at DESC, f.post_id",
    "newest": "f.created_at DESC, f.post_id",
    "oldest": "f.created_at ASC, f.post_id",
    "concern": "f.concern_prob DESC NULLS LAST, f.engagement DESC, f.post_id",
    "most negative": (
        "(f.sentiment = 'negative') DESC, f.sentiment_score DESC NULLS LAST, f.post_id"
    ),
    "most positive": (
        "(f.sentiment = 'positive') DESC, f.sentiment_score DESC NULLS LAST, f.post_id"
    ),
}
"""Orders of the Posts page; each ends with ``post_id`` so that ties come out the same
every time."""
DEFAULT_SPIKE_SCORE = 4.0


@dataclass(frozen=True)
class Filters:
    """The sidebar's state: one campaign (or all), a UTC date range, platforms, languages.

    ``start``/``end`` are inclusive UTC days; empty ``platforms``/``langs`` mean all.
    Hashable, so it can key a cache.
    """

    campaign: str | None
    start: date
    end: date
    platforms: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time())

    @property
    def end_at(self) -> datetime:
        """Exclusive end: midnight after ``end``."""
        return datetime.combine(self.end + timedelta(days=1), time())

    def previous(self) -> Filters:
        """The period of the same length just before this one."""
        days = (self.end - self.start).days + 1
        return Filters(
            self.campaign,
            self.start - timedelta(days=days),
            self.start - timedelta(days=1),
            self.platforms,
            self.langs,
        )


@dataclass(frozen=True)
class PostFilters:
    """The Posts page's own filters on top of the sidebar's."""

    search: str = ""
    sentiment: str | None = None
    copyright: str | None = None
    entity: str | None = None
    sort: str = "engagement"
    limit: int = 200


def where(f: Filters, alias: str = "f") -> tuple[str, dict[str, Any]]:
    """``WHERE`` text (fixed, with ``$named`` parameters) and its parameter values."""
    clauses = [f"{alias}.created_at >= $start_at", f"{alias}.created_at < $end_at"]
    params: dict[str, Any] = {"start_at": f.start_at, "end_at": f.end_at}
    if f.campaign:
        clauses.append(f"{alias}.campaign = $campaign")
        params["campaign"] = f.campaign
    if f.platforms:
        clauses.append(f"list_contains($platforms, {alias}.platform)")
        params["platforms"] = list(f.platforms)
    if f.langs:
        clauses.append(f"list_contains($langs, {alias}.lang)")
        params["langs"] = list(f.langs)
    return " AND ".join(clauses), params


AGGREGATED_STAGES = frozenset({"ingest", "campaign", "analyze", "languages", "topics", "flags"})
"""Write marks whose writes change the pre-aggregated tables (``trends`` and ``alerts``
write tables the pages read directly)."""


@dataclass(frozen=True)
class Relations:
    facts: str
    entities: str
    refreshed_at: datetime | None
    stale: bool  # something was written after the last refresh
    topics: str = "topic_facts"  # topic assignments with their post's facts and flag


def relations(con: duckdb.DuckDBPyConnection) -> Relations:
    """The aggregates if they were ever refreshed, else the live views they materialize."""
    marks = dict(con.execute("SELECT stage, written_at FROM write_marks").fetchall())
    refreshed = marks.pop("aggregates", None)
    if refreshed is None:
        return Relations("post_facts_live", "post_entities_live", None, False, "topic_facts_live")
    stale = any(at > refreshed for stage, at in marks.items() if stage in AGGREGATED_STAGES)
    # A topic run or flags newer than the refresh are not in topic_facts yet: read them live
    # (slower, but the Topics page never shows a run without its posts).
    topics_new = any(marks.get(stage, refreshed) > refreshed for stage in ("topics", "flags"))
    topics = "topic_facts_live" if topics_new else "topic_facts"
    return Relations("post_facts", "post_entities", refreshed, stale, topics)


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    return con.execute(sql, params).df()


def _grain(grain: str) -> str:
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}, not {grain!r}")
    return grain


def _dimension(dimension: str) -> str:
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {list(DIMENSIONS)}, not {dimension!r}")
    return DIMENSIONS[dimension]


# --- sidebar ---------------------------------------------------------------------------


def campaigns(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Campaigns with their window and the spike threshold of their alerts."""
    return _df(
        con,
        """
        SELECT campaign, coalesce(title, campaign) AS title, start_at, end_at,
               coalesce(TRY_CAST(config->>'$.alerts.spike_score' AS DOUBLE), $default)
                   AS spike_score
        FROM campaigns ORDER BY start_at DESC NULLS LAST, campaign
        """,
        {"default": DEFAULT_SPIKE_SCORE},
    )


def facets(con: duckdb.DuckDBPyConnection, campaign: str | None) -> dict[str, Any]:
    """Platforms, languages and the time span present (for the sidebar's choices)."""
    rel = relations(con)
    params = {"campaign": campaign}
    cond = "($campaign IS NULL OR campaign = $campaign)"
    span = con.execute(
        f"SELECT min(created_at), max(created_at), count(*), bool_or(is_simulated) "
        f"FROM {rel.facts} WHERE {cond}",
        params,
    ).fetchone()
    values = {}
    for column in ("platform", "lang"):
        values[column] = [
            r[0]
            for r in con.execute(
                f"SELECT {column} FROM {rel.facts} WHERE {cond} "
                f"GROUP BY 1 ORDER BY count(*) DESC, 1",
                params,
            ).fetchall()
        ]
    return {
        "first": span[0],
        "last": span[1],
        "posts": span[2],
        "simulated": bool(span[3]),
        "platforms": values["platform"],
        "langs": values["lang"],
        "refreshed_at": rel.refreshed_at,
        "stale": rel.stale,
    }


# --- overview --------------------------------------------------------------------------


def headline(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Headline figures of the period and of the previous one (rows ``current``/``previous``)."""
    rel = relations(con)
    prev = f.previous()
    cond, params = where(Filters(f.campaign, prev.start, f.end, f.platforms, f.langs))
    params["split"] = f.start_at
    return _df(
        con,
        f"""
        SELECT CASE WHEN f.created_at >= $split THEN 'current' ELSE 'previous' END AS period,
               count(*) AS posts,
               count(DISTINCT f.author_id) AS authors,
               sum(f.engagement) AS engagement,
               count(f.sentiment) AS sentiment_labelled,
               count(*) FILTER (f.sentiment = 'positive') AS positive,
               count(*) FILTER (f.sentiment = 'negative') AS negative,
               count(f.copyright) AS copyright_labelled,
               count(*) FILTER (f.copyright = 'concern') AS concern
        FROM {rel.facts} f WHERE {cond}
        GROUP BY 1
        """,
        params,
    )


def peak_hours(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """The busiest UTC hour of the period and of the previous one."""
    rel = relations(con)
    prev = f.previous()
    cond, params = where(Filters(f.campaign, prev.start, f.end, f.platforms, f.langs))
    params["split"] = f.start_at
    return _df(
        con,
        f"""
        SELECT CASE WHEN hour >= $split THEN 'current' ELSE 'previous' END AS period,
               arg_max(hour, posts) AS hour, max(posts) AS posts
        FROM (
            SELECT date_trunc('hour', f.created_at) AS hour, count(*) AS posts
            FROM {rel.facts} f WHERE {cond} GROUP BY 1
        )
        GROUP BY 1
        """,
        params,
    )


def volume(
    con: duckdb.DuckDBPyConnection, f: Filters, grain: str = "hour", by: str = "platform"
) -> pd.DataFrame:
    """Posts per time bucket (UTC) and platform or language: ``bucket, series, posts``."""
    rel = relations(con)
    cond, params = where(f)
    column = _dimension(by)
    return _df(
        con,
        f"""
        SELECT date_trunc('{_grain(grain)}', f.created_at) AS bucket, f.{column} AS series,
               count(*) AS posts, sum(f.engagement) AS engagement
        FROM {rel.facts} f WHERE {cond}
        GROUP BY ALL ORDER BY 1, 2
        """,
        params,
    )


def events(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """The campaign's dated events inside the period."""
    return _df(
        con,
        """
        SELECT event_at, title, kind, description, url FROM events
        WHERE ($campaign IS NULL OR campaign = $campaign)
          AND event_at >= $start_at AND event_at < $end_at
        ORDER BY event_at
        """,
        {"campaign": f.campaign, "start_at": f.start_at, "end_at": f.end_at},
    )


# --- sentiment ---------------------------------------------------------------------------


def sentiment_over_time(
    con: duckdb.DuckDBPyConnection, f: Filters, grain: str = "day"
) -> pd.DataFrame:
    """Labelled posts per bucket and sentiment: ``bucket, sentiment, posts``."""
    rel = relations(con)
    cond, params = where(f)
    return _df(
        con,
        f"""
        SELECT date_trunc('{_grain(grain)}', f.created_at) AS bucket, f.sentiment,
               count(*) AS posts
        FROM {rel.facts} f WHERE {cond} AND f.sentiment IS NOT NULL
        GROUP BY ALL ORDER BY 1, 2
        """,
        params,
    )


def sentiment_by(con: duckdb.DuckDBPyConnection, f: Filters, dimension: str) -> pd.DataFrame:
    """Labelled posts per platform or language and sentiment: ``series, sentiment, posts``."""
    rel = relations(con)
    cond, params = where(f)
    return _df(
        con,
        f"""
        SELECT f.{_dimension(dimension)} AS series, f.sentiment, count(*) AS posts
        FROM {rel.facts} f WHERE {cond} AND f.sentiment IS NOT NULL
        GROUP BY ALL ORDER BY 1, 2
        """,
        params,
    )


# --- copyright -------------------------------------------------------------------------


def concern_over_time(
    con: duckdb.DuckDBPyConnection, f: Filters, grain: str = "day"
) -> pd.DataFrame:
    """Copyright-concern share per bucket: ``bucket, labelled, concern, share``."""
    rel = relations(con)
    cond, params = where(f)
    return _df(
        con,
        f"""
        SELECT date_trunc('{_grain(grain)}', f.created_at) AS bucket,
               count(*) AS labelled, count(*) FILTER (f.copyright = 'concern') AS concern,
               concern / labelled AS share
        FROM {rel.facts} f WHERE {cond} AND f.copyright IS NOT NULL
        GROUP BY 1 ORDER BY 1
        """,
        params,
    )


def concern_by(con: duckdb.DuckDBPyConnection, f: Filters, dimension: str) -> pd.DataFrame:
    """Copyright-concern share per platform or language: ``series, labelled, concern, share``."""
    rel = relations(con)
    cond, params = where(f)
    return _df(
        con,
        f"""
        SELECT f.{_dimension(dimension)} AS series, count(*) AS labelled,
               count(*) FILTER (f.copyright = 'concern') AS concern,
               concern / labelled AS share
        FROM {rel.facts} f WHERE {cond} AND f.copyright IS NOT NULL
        GROUP BY 1 ORDER BY labelled DESC
        """,
        params,
    )


def concern_sides(con: duckdb.DuckDBPyConnection, f: Filters, per_side: int = 5) -> pd.DataFrame:
    """The most engaged concern posts of each sentiment (the arguments on each side)."""
    rel = relations(con)
    cond, params = where(f)
    params["n"] = per_side
    sides = " UNION ALL ".join(
        f"""(SELECT f.post_id, f.sentiment, f.engagement, f.concern_prob, f.platform,
                    f.created_at
             FROM {rel.facts} f
             WHERE {cond} AND f.copyright = 'concern' AND f.sentiment = '{sentiment}'
             ORDER BY f.engagement DESC, f.post_id LIMIT $n)"""
        for sentiment in SENTIMENTS
    )
    top = _df(con, sides, params)
    return _with_text(con, top).sort_values(
        ["sentiment", "engagement"], ascending=[True, False], ignore_index=True
    )


def _placeholders(values: list) -> str:
    """``?, ?, ...`` for binding a list of values one by one (the planner then sees
    constants, and looks posts up by their primary key instead of scanning)."""
    return ", ".join("?" for _ in values) or "NULL"


def _with_text(con: duckdb.DuckDBPyConnection, top: pd.DataFrame) -> pd.DataFrame:
    """Add ``author``, ``text`` and ``url`` to a few posts (looked up by id)."""
    ids = top["post_id"].tolist()
    details = con.execute(
        f"SELECT post_id, author_id, text, url FROM posts WHERE post_id IN ({_placeholders(ids)})",
        ids,
    ).df()
    authors = [a for a in details["author_id"].dropna().unique().tolist()]
    handles = con.execute(
        f"SELECT author_id, handle AS author FROM authors "
        f"WHERE author_id IN ({_placeholders(authors)})",
        authors,
    ).df()
    details = details.merge(handles, on="author_id", how="left").drop(columns="author_id")
    return top.merge(details, on="post_id", how="left")


# --- share of voice ----------------------------------------------------------------------


def mentions_over_time(
    con: duckdb.DuckDBPyConnection, f: Filters, grain: str = "day"
) -> pd.DataFrame:
    """Posts mentioning each tracked entity per bucket: ``bucket, entity, posts``."""
    rel = relations(con)
    cond, params = where(f)
    return _df(
        con,
        f"""
        SELECT date_trunc('{_grain(grain)}', f.created_at) AS bucket, f.entity,
               count(*) AS posts
        FROM {rel.entities} f WHERE {cond}
        GROUP BY ALL ORDER BY 1, 2
        """,
        params,
    )


def mention_totals(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Each tracked entity's mentions, share of voice, engagement and net sentiment."""
    rel = relations(con)
    cond, params = where(f)
    return _df(
        con,
        f"""
        WITH m AS (
            SELECT f.campaign, f.entity, count(*) AS posts, sum(f.engagement) AS engagement,
                   count(f.sentiment) AS labelled,
                   count(*) FILTER (f.sentiment = 'positive')
                       - count(*) FILTER (f.sentiment = 'negative') AS net
            FROM {rel.entities} f WHERE {cond}
            GROUP BY ALL
        )
        SELECT x.entity, x.kind, coalesce(m.posts, 0) AS posts,
               coalesce(m.posts, 0) / nullif(sum(coalesce(m.posts, 0)) OVER (), 0) AS share,
               coalesce(m.engagement, 0) AS engagement,
               m.net / nullif(m.labelled, 0) AS net_sentiment
        FROM entities x LEFT JOIN m USING (campaign, entity)
        WHERE $campaign IS NULL OR x.campaign = $campaign
        ORDER BY posts DESC, x.entity
        """,
        {**params, "campaign": f.campaign},
    )


def entity_names(con: duckdb.DuckDBPyConnection, campaign: str | None) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT entity FROM entities WHERE $c IS NULL OR campaign = $c ORDER BY 1",
            {"c": campaign},
        ).fetchall()
    ]


# --- posts -------------------------------------------------------------------------------


POST_COLUMNS = [
    "post_id", "created_at", "platform", "lang", "author", "text", "engagement", "sentiment",
    "sentiment_score", "copyright", "concern_prob", "url", "is_simulated",
]  # fmt: skip


def posts(con: duckdb.DuckDBPyConnection, f: Filters, pf: PostFilters) -> pd.DataFrame:
    """Posts matching the sidebar and the Posts page's filters, sorted, ``pf.limit`` rows.

    No join on large warehouses: with an entity chosen, the rows come from
    ``post_entities`` (which carries every column shown, sorted or filtered on); "text
    contains" is a case-insensitive substring test of ``text_lc``, the lower-cased text kept
    in ``post_facts`` (migration 0008).
    """
    if pf.sort not in SORTS:
        raise ValueError(f"sort must be one of {list(SORTS)}, not {pf.sort!r}")
    rel = relations(con)
    cond, params = where(f)
    extra = []
    source = rel.facts
    if pf.entity:
        source = rel.entities
        extra.append("f.entity = $entity")
        params["entity"] = pf.entity
    if pf.sentiment:
        extra.append("f.sentiment = $sentiment")
        params["sentiment"] = pf.sentiment
    if pf.copyright:
        extra.append("f.copyright = $copyright")
        params["copyright"] = pf.copyright
    if pf.search.strip():
        match = "contains(t.text_lc, lower($needle))"
        if pf.entity:
            extra.append(
                f"f.post_id IN (SELECT t.post_id FROM {rel.facts} t "
                f"WHERE {where(f, 't')[0]} AND {match})"
            )
        else:
            extra.append(match.replace("t.", "f."))
        params["needle"] = pf.search.strip()
    params["limit"] = pf.limit
    top = _df(
        con,
        f"""
        SELECT f.post_id, f.created_at, f.platform, f.lang, f.engagement, f.sentiment,
               f.sentiment_score, f.copyright, f.concern_prob, f.is_simulated
        FROM {source} f
        WHERE {" AND ".join([cond, *extra])}
        ORDER BY {SORTS[pf.sort]}
        LIMIT $limit
        """,
        params,
    )
    return _with_text(con, top)[POST_COLUMNS]


SIMILAR_CANDIDATES = 500
"""Posts re-ranked by exact cosine after the Hamming first pass on sign bits."""
_HAMMING = " + ".join(f"bit_count(xor(s.sig{i}, $q{i}))::INTEGER" for i in range(6))


def similar_posts(
    con: duckdb.DuckDBPyConnection, post_id: str, f: Filters | None = None, limit: int = 10
) -> pd.DataFrame:
    """Posts whose embedding is closest (cosine) to ``post_id``'s, same encoder.

    With signatures (``post_signatures``), the :data:`SIMILAR_CANDIDATES` posts nearest in
    Hamming distance of their embeddings' sign bits are re-ranked by exact cosine (fast,
    approximate); without, every embedding is compared (exact, slow on large warehouses).
    ``f`` keeps only posts matching the sidebar's filters.
    """
    columns = ["similarity", "post_id", "created_at", "platform", "text", "url"]
    query = con.execute(
        "SELECT model_id, embedding, rowid FROM embeddings WHERE post_id = $post_id "
        "ORDER BY created_at DESC LIMIT 1",
        {"post_id": post_id},
    ).fetchall()
    if not query:
        return pd.DataFrame(columns=columns)
    model, vector, row = query[0]
    # Signed? Looked up by row number (a scan of integers, not of ids); the words are then
    # those refresh_aggregates stored, recomputed from the same vector.
    signed = con.execute(
        "SELECT count(*) FROM post_signatures "
        "WHERE embedding_row = $row AND post_id = $post_id AND model_id = $model",
        {"row": row, "post_id": post_id, "model": model},
    ).fetchall()[0][0]
    cond, params = where(f, "s") if f is not None else ("TRUE", {})
    params |= {"post_id": post_id, "model": model, "limit": limit}
    if signed:
        words = signatures(np.asarray([vector], dtype=np.float32))[0]
        params |= {f"q{i}": int(word) for i, word in enumerate(words)}
        params["row"] = row
        candidates = _candidates(con, cond, {k: v for k, v in params.items() if k != "limit"})
        near = _rerank(con, candidates, model, vector).head(limit)
    else:  # not signed yet: compare with every embedding in scope
        rel = relations(con)
        scope = f"AND e.post_id IN (SELECT s.post_id FROM {rel.facts} s WHERE {cond})"
        near = _df(
            con,
            f"""
            SELECT e.post_id,
                   array_cosine_similarity(e.embedding, $vector::FLOAT[{len(vector)}])
                       AS similarity
            FROM embeddings e
            WHERE e.model_id = $model AND e.post_id <> $post_id
                  {scope if f is not None else ""}
            ORDER BY similarity DESC, e.post_id LIMIT $limit
            """,
            {**params, "vector": vector},
        )
    ids = near["post_id"].tolist()
    details = con.execute(
        f"SELECT post_id, created_at, platform, text, url FROM posts "
        f"WHERE post_id IN ({_placeholders(ids)})",
        ids,
    ).df()
    out = near.merge(details, on="post_id", how="inner")
    return out.sort_values(["similarity", "post_id"], ascending=[False, True], ignore_index=True)[
        columns
    ]


def _candidates(con: duckdb.DuckDBPyConnection, cond: str, params: dict[str, Any]) -> pd.DataFrame:
    """The :data:`SIMILAR_CANDIDATES` signatures nearest in Hamming distance, ties broken by
    ``post_id``: ``post_id, embedding_row``.

    Ids are long strings: rather than decode one per signature to order the whole scope,
    the scan keeps the rows no farther than the (N+1)-th nearest (one spare for the post
    itself), and only those rows' ids are read, by row number.
    """
    near = con.execute(
        f"""
        WITH d AS MATERIALIZED (
            SELECT s.rowid AS r, {_HAMMING} AS h FROM post_signatures s
            WHERE s.model_id = $model AND s.embedding_row <> $row AND {cond}
        )
        SELECT r, h FROM d
        WHERE h <= (SELECT max(h) FROM (SELECT h FROM d ORDER BY h LIMIT $n))
        """,
        {**{k: v for k, v in params.items() if k != "post_id"}, "n": SIMILAR_CANDIDATES + 1},
    ).df()
    ids = con.execute(
        "SELECT rowid AS r, post_id, embedding_row FROM post_signatures "
        "WHERE rowid IN (SELECT unnest($rows))",
        {"rows": near["r"].tolist()},
    ).df()
    ranked = near.merge(ids, on="r")
    ranked = (
        ranked[ranked["post_id"] != params["post_id"]]
        .sort_values(["h", "post_id"], ignore_index=True)
        .head(SIMILAR_CANDIDATES)
    )
    return ranked[["post_id", "embedding_row"]]


def _rerank(
    con: duckdb.DuckDBPyConnection, candidates: pd.DataFrame, model: str, vector: list[float]
) -> pd.DataFrame:
    """Exact cosine of the candidates, most similar first: their embeddings fetched by row
    number (checked against their id), or by id if rows moved since the signatures."""
    score = f"array_cosine_similarity(embedding, $vector::FLOAT[{len(vector)}]) AS similarity"
    found = con.execute(
        f"SELECT rowid AS embedding_row, post_id, model_id, {score} FROM embeddings "
        "WHERE rowid IN (SELECT unnest($rows))",
        {"vector": vector, "rows": candidates["embedding_row"].tolist()},
    ).df()
    checked = candidates.merge(found, on=["embedding_row", "post_id"], how="inner")
    if len(checked) < len(candidates) or (checked["model_id"] != model).any():
        checked = con.execute(
            f"SELECT post_id, {score} FROM embeddings "
            "WHERE model_id = $model AND post_id IN (SELECT unnest($ids))",
            {"vector": vector, "model": model, "ids": candidates["post_id"].tolist()},
        ).df()
    return checked[["post_id", "similarity"]].sort_values(
        ["similarity", "post_id"], ascending=[False, True], ignore_index=True
    )


def has_embeddings(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT EXISTS (SELECT 1 FROM embeddings)").fetchone()[0]
