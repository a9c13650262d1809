"""The dashboard's pre-aggregated tables (migrations 0004, 0008), kept up to date by writers.

- ``post_facts``: one row per post with what every chart filters and counts on (campaign,
  platform, language, time, author, engagement, current labels) and its lower-cased text
  (``text_lc``, for the Posts page's search), materializing the view ``post_facts_live``.
- ``post_entities``: one row per post and tracked entity it mentions, with the post's facts
  that the Posts page shows, sorts and filters on (materializing ``post_entities_live``);
  ``mention_aliases`` remembers which entities and aliases it was computed with.
- ``post_signatures``: sign bits of each embedding with the post's filter columns and the
  embedding's row number, the first pass of "similar posts" (their ``lang`` follows the
  post's facts when a language detection changes it).
- ``topic_facts``: one row per topic assignment (``post_topics``) with the post's facts and
  flag (``post_flags``), materializing ``topic_facts_live`` (migration 0008).

:func:`refresh_aggregates` brings them up to date in one transaction and records the
``aggregates`` write mark. Writers call it after each write (ingest batch, campaign load,
analyze batch), on the same short connection.

It is incremental. ``aggregate_state`` remembers how many rows of each append-only source
(``posts``, ``post_metrics``, ``labels``, ``simulated_truth``, ``embeddings``,
``post_topics``, ``language_detections``) the last refresh saw, and which model was
current per task; only posts with rows beyond those marks are recomputed, mentions matched
for new posts only, signatures computed for new embeddings only, topic facts written for
new assignments and changed posts, and every topic fact's flag rewritten when
``post_flags`` changed (the state keeps a fingerprint of it). Everything is rebuilt on the
first refresh; the facts and topic facts when another model became current (every post's
labels change); the mentions when the campaign's entities changed.
Call it with ``full=True`` after anything that rewrites or deletes stored rows
(``hypewatch reparse``): those are not append-only changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from warehouse.db import transaction
from warehouse.writes import mark_write

STAGE = "aggregates"
SOURCES = (
    "posts", "post_metrics", "labels", "simulated_truth", "embeddings", "post_topics",
    "language_detections",
)  # fmt: skip
"""Append-only tables whose new rows (by row number) make posts' aggregates change."""
_FLAGS = "SELECT count(*) || ':' || coalesce(bit_xor(hash(post_id, flag)), 0) FROM post_flags"
"""A fingerprint of ``post_flags`` (replaced, not appended to, by ``hypewatch trends``)."""
SIGNATURE_BATCH = 100_000

_MENTION_LABELS = (
    "lang", "sentiment", "sentiment_score", "copyright", "concern_prob", "is_simulated",
)  # fmt: skip
"""Facts of a post copied into its mention rows that a refresh may change (``lang`` with a
new language detection)."""

_ALIASES = """
    SELECT DISTINCT campaign, entity, lower(unnest(aliases)) AS alias FROM entities
"""


@dataclass
class RefreshReport:
    mode: str  # "full", "relabel" (a new model became current) or "incremental"
    facts: int  # post_facts rows (re)written
    mentions: int  # post_entities rows (re)written
    signatures: int  # post_signatures rows added
    seconds: float
    topics: int = 0  # topic_facts rows (re)written


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    return con.execute(sql, params).fetchall()[0][0]


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT name, value FROM aggregate_state").fetchall())


def _row_marks(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows each source holds now (one past its highest row number)."""
    return {t: _one(con, f"SELECT coalesce(max(rowid) + 1, 0) FROM {t}") for t in SOURCES}


def _save_state(con: duckdb.DuckDBPyConnection, marks: dict[str, int]) -> None:
    con.execute("DELETE FROM aggregate_state")
    con.execute(f"INSERT INTO aggregate_state SELECT 'flags', ({_FLAGS})")
    con.execute("INSERT INTO aggregate_state SELECT 'model:' || task, model_id FROM current_models")
    con.execute(
        "INSERT INTO aggregate_state SELECT 'rows:' || unnest($names), unnest($values)",
        {"names": list(marks), "values": [str(v) for v in marks.values()]},
    )


def _models_changed(con: duckdb.DuckDBPyConnection, state: dict[str, str]) -> bool:
    """True when the current model of a task is not the one the facts were built with."""
    current = dict(con.execute("SELECT 'model:' || task, model_id FROM current_models").fetchall())
    before = {k: v for k, v in state.items() if k.startswith("model:")}
    return current != before


def _entities_changed(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        _one(
            con,
            """
            SELECT count(*) FROM (
                (SELECT campaign, entity, aliases FROM entities
                 EXCEPT SELECT campaign, entity, aliases FROM mention_aliases)
                UNION ALL
                (SELECT campaign, entity, aliases FROM mention_aliases
                 EXCEPT SELECT campaign, entity, aliases FROM entities)
            )
            """,
        )
    )


def _rebuild_facts(con: duckdb.DuckDBPyConnection) -> int:
    con.execute("DELETE FROM post_facts")
    # In time order: date filters then skip whole row groups (zone maps).
    return _one(con, "INSERT INTO post_facts SELECT * FROM post_facts_live ORDER BY created_at")


def _insert_mentions(con: duckdb.DuckDBPyConnection, posts: str) -> int:
    """Match the posts of ``posts`` (a fixed relation) against every alias."""
    return _one(
        con,
        f"""
        INSERT INTO post_entities
        WITH aliases AS ({_ALIASES}),
        mentions AS (
            SELECT DISTINCT p.post_id, a.campaign, a.entity
            FROM (SELECT post_id, campaign, lower(text) AS t FROM {posts}) p
            JOIN aliases a ON a.campaign = p.campaign
            WHERE mentions_alias(p.t, a.alias)
        )
        SELECT m.post_id, m.campaign, m.entity, f.created_at, f.platform, f.lang,
               f.engagement, f.sentiment, f.sentiment_score, f.copyright, f.concern_prob,
               f.is_simulated
        FROM mentions m JOIN post_facts f USING (post_id)
        ORDER BY f.created_at
        """,
    )


def _rebuild_mentions(con: duckdb.DuckDBPyConnection) -> int:
    con.execute("DELETE FROM post_entities")
    con.execute("DELETE FROM mention_aliases")
    con.execute("INSERT INTO mention_aliases SELECT campaign, entity, aliases FROM entities")
    return _insert_mentions(con, "posts")


def _changed_posts(con: duckdb.DuckDBPyConnection, state: dict[str, str]) -> tuple[int, int]:
    """``_agg_new`` (posts added) and ``_agg_changed`` (those + posts with new engagement,
    labels or truth) since the last refresh -> (new, changed)."""
    seen = {t: int(state.get(f"rows:{t}", 0)) for t in SOURCES}
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _agg_new AS SELECT post_id FROM posts WHERE rowid >= $n",
        {"n": seen["posts"]},
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _agg_changed AS
        SELECT post_id FROM _agg_new
        UNION SELECT post_id FROM post_metrics WHERE rowid >= $metrics
        UNION SELECT post_id FROM labels WHERE rowid >= $labels
        UNION SELECT post_id FROM simulated_truth WHERE rowid >= $truth
        UNION SELECT post_id FROM language_detections WHERE rowid >= $languages
        """,
        {
            "metrics": seen["post_metrics"],
            "labels": seen["labels"],
            "truth": seen["simulated_truth"],
            "languages": seen["language_detections"],
        },
    )
    return _one(con, "SELECT count(*) FROM _agg_new"), _one(
        con, "SELECT count(*) FROM _agg_changed"
    )


def _refresh_facts(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute the facts of ``_agg_changed`` posts (the view's logic, restricted first;
    the language by the one rule, the macro ``lang_effective`` of migration 0010)."""
    con.execute("DELETE FROM post_facts WHERE post_id IN (SELECT post_id FROM _agg_changed)")
    return _one(
        con,
        """
        INSERT INTO post_facts
        WITH p AS (SELECT * FROM posts SEMI JOIN _agg_changed USING (post_id)),
        m AS (
            SELECT post_id, likes, reposts, replies, quotes
            FROM post_metrics SEMI JOIN _agg_changed USING (post_id)
            QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY observed_at DESC) = 1
        ),
        d AS (
            SELECT post_id, lang FROM language_detections
            SEMI JOIN _agg_changed USING (post_id)
            QUALIFY row_number() OVER (
                PARTITION BY post_id ORDER BY detected_at DESC, detector DESC
            ) = 1
        ),
        cur AS (
            SELECT l.* FROM labels l
            SEMI JOIN _agg_changed USING (post_id)
            JOIN current_models USING (task, model_id)
        ),
        s AS (SELECT * FROM cur WHERE task = 'sentiment'),
        c AS (SELECT * FROM cur WHERE task = 'copyright')
        SELECT
            p.post_id, p.campaign, p.platform, lang_effective(p.lang, d.lang), p.created_at,
            p.author_id,
            coalesce(m.likes, 0) + coalesce(m.reposts, 0) + coalesce(m.replies, 0)
                + coalesce(m.quotes, 0),
            s.label, s.score, c.label,
            CASE c.label WHEN 'concern' THEN c.score ELSE 1 - c.score END,
            t.post_id IS NOT NULL,
            lower(p.text)
        FROM p
        LEFT JOIN d USING (post_id)
        LEFT JOIN m USING (post_id)
        LEFT JOIN s USING (post_id)
        LEFT JOIN c USING (post_id)
        LEFT JOIN simulated_truth t USING (post_id)
        ORDER BY p.created_at
        """,
    )


def _update_mentions(con: duckdb.DuckDBPyConnection, *, everything: bool) -> int:
    """Copy changed engagement and labels from the facts into the mention rows."""
    scope = "" if everything else "AND e.post_id IN (SELECT post_id FROM _agg_changed)"
    copied = ("engagement", *_MENTION_LABELS)
    changed = " OR ".join(f"e.{c} IS DISTINCT FROM f.{c}" for c in copied)
    return _one(
        con,
        f"""
        UPDATE post_entities e
        SET {", ".join(f"{c} = f.{c}" for c in copied)}
        FROM post_facts f
        WHERE e.post_id = f.post_id {scope} AND ({changed})
        """,
    )


_TOPIC_FACTS = """
    INSERT INTO topic_facts
    SELECT pt.run_id, pt.post_id, pt.topic_id, f.campaign, f.platform, f.lang, f.created_at,
           f.engagement, f.sentiment, f.copyright, fl.flag
    FROM post_topics pt
    JOIN post_facts f USING (post_id)
    LEFT JOIN post_flags fl USING (post_id)
    WHERE {scope}
    ORDER BY f.created_at
"""


def _refresh_topic_facts(
    con: duckdb.DuckDBPyConnection, state: dict[str, str], *, everything: bool
) -> int:
    """Bring ``topic_facts`` up to date: rebuilt when ``everything``; else the rows of new
    ``post_topics`` rows and of ``_agg_changed`` posts rewritten, and every row's flag
    rewritten when ``post_flags`` changed. Returns the rows (re)written."""
    if everything:
        con.execute("DELETE FROM topic_facts")
        return _one(con, _TOPIC_FACTS.format(scope="TRUE"))
    params = {"seen": int(state.get("rows:post_topics", 0))}
    scope = "pt.rowid >= $seen"
    written = 0
    if _one(con, "SELECT count(*) FROM _agg_changed"):
        con.execute("DELETE FROM topic_facts WHERE post_id IN (SELECT post_id FROM _agg_changed)")
        scope += " OR pt.post_id IN (SELECT post_id FROM _agg_changed)"
    if _one(con, f"SELECT count(*) FROM post_topics pt WHERE {scope}", params):
        written += _one(con, _TOPIC_FACTS.format(scope=scope), params)
    if _one(con, _FLAGS) != state.get("flags"):
        written += _one(
            con,
            "UPDATE topic_facts t SET flag = f.flag FROM post_flags f "
            "WHERE t.post_id = f.post_id AND t.flag IS DISTINCT FROM f.flag",
        )
        written += _one(
            con,
            "UPDATE topic_facts SET flag = NULL "
            "WHERE flag IS NOT NULL AND post_id NOT IN (SELECT post_id FROM post_flags)",
        )
    return written


def _update_signature_langs(con: duckdb.DuckDBPyConnection, *, everything: bool) -> int:
    """Copy a changed language (a new detection) from the facts into the signatures."""
    scope = "" if everything else "AND s.post_id IN (SELECT post_id FROM _agg_changed)"
    return _one(
        con,
        f"""
        UPDATE post_signatures s SET lang = f.lang
        FROM post_facts f
        WHERE s.post_id = f.post_id {scope} AND s.lang IS DISTINCT FROM f.lang
        """,
    )


def signatures(vectors: np.ndarray) -> np.ndarray:
    """``(n, 384)`` float embeddings -> ``(n, 6)`` int64 words of their sign bits."""
    bits = np.packbits(np.asarray(vectors) > 0, axis=1)
    if bits.shape[1] % 8:
        bits = np.pad(bits, ((0, 0), (0, 8 - bits.shape[1] % 8)))
    return np.ascontiguousarray(bits).view(np.int64)[:, :6]


def _add_signatures(con: duckdb.DuckDBPyConnection, since_row: int) -> int:
    """Signatures of the embeddings from row ``since_row`` on that have none (numpy on
    Arrow batches, one bulk insert)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _agg_unsigned AS "
        "SELECT e.rowid AS embedding_row FROM embeddings e "
        "WHERE e.rowid >= $since AND NOT EXISTS (SELECT 1 FROM post_signatures s "
        "WHERE s.post_id = e.post_id AND s.model_id = e.model_id)",
        {"since": since_row},
    )
    if not _one(con, "SELECT count(*) FROM _agg_unsigned"):
        con.execute("DROP TABLE _agg_unsigned")
        return 0
    reader = con.sql(
        "SELECT e.post_id, e.model_id, e.rowid AS embedding_row, e.embedding "
        "FROM embeddings e WHERE e.rowid IN (SELECT embedding_row FROM _agg_unsigned)"
    ).to_arrow_reader(SIGNATURE_BATCH)
    parts = []
    for batch in reader:
        if not batch.num_rows:
            continue
        vectors = batch.column(3).values.to_numpy(zero_copy_only=False)
        words = signatures(vectors.reshape(batch.num_rows, -1))
        parts.append(
            pa.table(
                {
                    "post_id": batch.column(0),
                    "model_id": batch.column(1),
                    "embedding_row": batch.column(2),
                    **{f"sig{i}": pa.array(words[:, i], type=pa.int64()) for i in range(6)},
                }
            )
        )
    con.execute("DROP TABLE _agg_unsigned")
    con.register("_agg_signatures", pa.concat_tables(parts))
    try:
        return _one(
            con,
            """
            INSERT INTO post_signatures
            SELECT s.post_id, s.model_id, s.embedding_row, f.campaign, f.created_at,
                   f.platform, f.lang, s.sig0, s.sig1, s.sig2, s.sig3, s.sig4, s.sig5
            FROM _agg_signatures s JOIN post_facts f USING (post_id)
            ORDER BY f.created_at
            """,
        )
    finally:
        con.unregister("_agg_signatures")


def refresh_aggregates(con: duckdb.DuckDBPyConnection, *, full: bool = False) -> RefreshReport:
    """Bring ``post_facts``, ``post_entities``, ``post_signatures`` and ``topic_facts`` up to
    date (one transaction), then record the ``aggregates`` write mark."""
    start = time.perf_counter()
    with transaction(con):
        state = _state(con)
        marks = _row_marks(con)
        first = full or not state
        new = changed = 0
        if not first:
            new, changed = _changed_posts(con, state)
        relabel = not first and _models_changed(con, state)
        facts = 0
        if first or relabel:
            facts = _rebuild_facts(con)
        elif changed:
            facts = _refresh_facts(con)
        if first or _entities_changed(con):
            mentions = _rebuild_mentions(con)
        else:
            mentions = _update_mentions(con, everything=relabel) if facts else 0
            if new:
                mentions += _insert_mentions(con, "posts SEMI JOIN _agg_new USING (post_id)")
        topics = _refresh_topic_facts(con, state, everything=first or relabel)
        if full:
            con.execute("DELETE FROM post_signatures")
        elif facts:
            _update_signature_langs(con, everything=first or relabel)
        con.execute("DROP TABLE IF EXISTS _agg_new; DROP TABLE IF EXISTS _agg_changed")
        signed = _add_signatures(con, 0 if first else int(state.get("rows:embeddings", 0)))
        _save_state(con, marks)
        mark_write(con, STAGE, facts + mentions + signed + topics)
    mode = "full" if first else "relabel" if relabel else "incremental"
    return RefreshReport(mode, facts, mentions, signed, time.perf_counter() - start, topics=topics)
