"""Bulk, idempotent writes into the warehouse.

Every write goes through Arrow tables registered with DuckDB and set-based SQL, never a
Python loop of single-row inserts. :func:`store_batch` stores one batch of parsed posts in
one transaction, together with the collection run's counters and cursor, so a batch is
either stored whole, with its cursor, or not at all.

Idempotency: a post already stored is never inserted twice. A re-collected post updates
its row only where a field changed (e.g. after a parser fix), and adds an engagement
snapshot to ``post_metrics`` only when its counts changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from ingest.model import Author, ParseResult, Post, RawPayload, Reject

_TS = pa.timestamp("us")
_TS_UTC = pa.timestamp("us", tz="UTC")

# Post columns that a re-collection may change (``campaign``/``collected_at`` keep their
# first value).
_MUTABLE_POST_COLUMNS = (
    "platform", "native_id", "author_id", "created_at", "lang", "text", "url",
    "reply_to_id", "quote_of_id", "repost_of_id", "conversation_id", "hashtags",
)  # fmt: skip
_METRICS = ("likes", "reposts", "replies", "quotes", "views")


@dataclass
class WriteCounts:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    rejected: int = 0

    def add(self, other: WriteCounts) -> None:
        self.fetched += other.fetched
        self.new += other.new
        self.updated += other.updated
        self.rejected += other.rejected


def utcnow() -> datetime:
    """Now, as the naive UTC timestamp the warehouse stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def _timestamps(values: Sequence[datetime | None]) -> pa.Array:
    """Aware datetimes -> naive UTC Arrow timestamps (the warehouse convention)."""
    return pa.array(values, type=_TS_UTC).cast(_TS)


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return orjson.dumps(str(value)).decode()


def posts_table(posts: Sequence[Post], campaign: str | None, collected_at: datetime) -> pa.Table:
    """Column-wise Arrow table of posts (one row per post, batch order kept in ``_i``)."""
    n = len(posts)

    def col(name: str) -> list:
        return [getattr(p, name) for p in posts]

    return pa.table(
        {
            "_i": pa.array(range(n), type=pa.int64()),
            "post_id": pa.array(col("post_id"), type=pa.string()),
            "platform": pa.array(col("platform"), type=pa.string()),
            "native_id": pa.array(col("native_id"), type=pa.string()),
            "campaign": pa.array([campaign] * n, type=pa.string()),
            "author_id": pa.array(col("author_id"), type=pa.string()),
            "created_at": _timestamps(col("created_at")),
            "collected_at": pa.array([collected_at] * n, type=_TS),
            "lang": pa.array(col("lang"), type=pa.string()),
            "text": pa.array(col("text"), type=pa.string()),
            "url": pa.array(col("url"), type=pa.string()),
            "reply_to_id": pa.array(col("reply_to_id"), type=pa.string()),
            "quote_of_id": pa.array(col("quote_of_id"), type=pa.string()),
            "repost_of_id": pa.array(col("repost_of_id"), type=pa.string()),
            "conversation_id": pa.array(col("conversation_id"), type=pa.string()),
            "hashtags": pa.array(col("hashtags"), type=pa.list_(pa.string())),
            **{m: pa.array(col(m), type=pa.int64()) for m in _METRICS},
        }
    )


def _authors_table(authors: Sequence[Author], seen_at: datetime) -> pa.Table:
    def col(name: str) -> list:
        return [getattr(a, name) for a in authors]

    n = len(authors)
    return pa.table(
        {
            "_i": pa.array(range(n), type=pa.int64()),
            "author_id": pa.array(col("author_id"), type=pa.string()),
            "platform": pa.array(col("platform"), type=pa.string()),
            "native_id": pa.array(col("native_id"), type=pa.string()),
            "handle": pa.array(col("handle"), type=pa.string()),
            "display_name": pa.array(col("display_name"), type=pa.string()),
            "followers": pa.array(col("followers"), type=pa.int64()),
            "following": pa.array(col("following"), type=pa.int64()),
            "post_count": pa.array(col("post_count"), type=pa.int64()),
            "verified": pa.array(col("verified"), type=pa.bool_()),
            "created_at": _timestamps(col("created_at")),
            "seen_at": pa.array([seen_at] * n, type=_TS),
        }
    )


def _raw_table(raw: Sequence[RawPayload], collected_at: datetime) -> pa.Table:
    return pa.table(
        {
            "post_id": pa.array([r.post_id for r in raw], type=pa.string()),
            "format": pa.array([r.format for r in raw], type=pa.string()),
            "collected_at": pa.array([collected_at] * len(raw), type=_TS),
            "payload": pa.array([_json_text(r.payload) for r in raw], type=pa.string()),
        }
    )


def _rejects_table(rejects: Sequence[Reject], run_id: int | None, at: datetime) -> pa.Table:
    def text(payload: Any) -> str:
        return payload if isinstance(payload, str) else _json_text(payload)

    return pa.table(
        {
            "run_id": pa.array([run_id] * len(rejects), type=pa.int64()),
            "format": pa.array([r.format for r in rejects], type=pa.string()),
            "reason": pa.array([r.reason for r in rejects], type=pa.string()),
            "payload": pa.array([text(r.payload) for r in rejects], type=pa.string()),
            "rejected_at": pa.array([at] * len(rejects), type=_TS),
        }
    )


def _store_posts(con: duckdb.DuckDBPyConnection, table: pa.Table) -> tuple[int, int]:
    """Insert new posts, update changed ones, snapshot changed metrics -> (new, updated)."""
    con.register("_batch_posts", table)
    try:
        # Last occurrence of each post in the batch wins.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _stage AS SELECT * EXCLUDE (_i) FROM _batch_posts "
            "QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY _i DESC) = 1"
        )
    finally:
        con.unregister("_batch_posts")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _existing AS "
        "SELECT post_id FROM _stage SEMI JOIN posts USING (post_id)"
    )
    post_columns = [
        r[0] for r in con.execute("SELECT name FROM pragma_table_info('posts')").fetchall()
    ]
    new = con.execute(
        f"INSERT INTO posts SELECT {', '.join(post_columns)} FROM _stage "
        "ANTI JOIN _existing USING (post_id)"
    ).fetchone()[0]

    changed = " OR ".join(f"p.{c} IS DISTINCT FROM s.{c}" for c in _MUTABLE_POST_COLUMNS)
    assignments = ", ".join(f"{c} = s.{c}" for c in _MUTABLE_POST_COLUMNS)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _changed AS SELECT s.post_id FROM _stage s "
        f"JOIN posts p USING (post_id) WHERE {changed}"
    )
    con.execute(
        f"UPDATE posts SET {assignments} FROM _stage s "
        "WHERE posts.post_id = s.post_id AND posts.post_id IN (SELECT post_id FROM _changed)"
    )

    metric_list = ", ".join(_METRICS)
    differs = " OR ".join(f"s.{m} IS DISTINCT FROM m.{m}" for m in _METRICS)
    any_reported = " OR ".join(f"s.{m} IS NOT NULL" for m in _METRICS)
    snapshotted = con.execute(
        f"""
        INSERT INTO post_metrics
        SELECT s.post_id, s.collected_at, {", ".join("s." + m for m in _METRICS)}
        FROM _stage s
        LEFT JOIN (
            SELECT post_id, {metric_list} FROM post_metrics
            WHERE post_id IN (SELECT post_id FROM _existing)
            QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY observed_at DESC) = 1
        ) m USING (post_id)
        WHERE ({any_reported}) AND (m.post_id IS NULL OR {differs})
        RETURNING post_id
        """
    ).fetchall()
    updated_ids = {r[0] for r in con.execute("SELECT post_id FROM _changed").fetchall()}
    existing = {r[0] for r in con.execute("SELECT post_id FROM _existing").fetchall()}
    updated_ids.update(pid for (pid,) in snapshotted if pid in existing)
    con.execute("DROP TABLE _stage; DROP TABLE _changed")  # _existing: see _store_raw
    return new, len(updated_ids)


def _store_authors(con: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    con.register("_batch_authors", table)
    try:
        con.execute(
            """
            INSERT INTO authors
            SELECT author_id, platform, native_id, handle, display_name, followers, following,
                   post_count, verified, created_at, seen_at, seen_at
            FROM _batch_authors
            QUALIFY row_number() OVER (PARTITION BY author_id ORDER BY _i DESC) = 1
            ON CONFLICT (author_id) DO UPDATE SET
                handle = coalesce(excluded.handle, handle),
                display_name = coalesce(excluded.display_name, display_name),
                followers = coalesce(excluded.followers, followers),
                following = coalesce(excluded.following, following),
                post_count = coalesce(excluded.post_count, post_count),
                verified = coalesce(excluded.verified, verified),
                created_at = coalesce(excluded.created_at, created_at),
                last_seen = greatest(excluded.last_seen, last_seen)
            """
        )
    finally:
        con.unregister("_batch_authors")


def _store_raw(con: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    """Add payloads not stored yet. Only posts stored before this batch (``_existing``,
    left by :func:`_store_posts`) can already have a payload, so only they are compared."""
    con.register("_batch_raw", table)
    try:
        con.execute(
            """
            INSERT INTO raw_payloads
            WITH batch AS (
                SELECT DISTINCT ON (post_id, payload_md5) * FROM (
                    SELECT post_id, format, collected_at, md5(payload) AS payload_md5, payload
                    FROM _batch_raw
                )
            )
            SELECT * FROM batch b
            WHERE b.post_id NOT IN (SELECT post_id FROM _existing)
               OR NOT EXISTS (
                    SELECT 1 FROM raw_payloads x
                    WHERE x.post_id = b.post_id AND x.payload_md5 = b.payload_md5
               )
            """
        )
    finally:
        con.unregister("_batch_raw")


def store_batch(
    con: duckdb.DuckDBPyConnection,
    result: ParseResult,
    *,
    campaign: str | None = None,
    run_id: int | None = None,
    cursor: str | None = None,
    requests: int = 0,
    collected_at: datetime | None = None,
) -> WriteCounts:
    """Store one parsed batch in ONE transaction, with the run's counters and cursor.

    When ``run_id`` is given, ``collection_runs`` gets the batch's counts added and, when
    ``cursor`` is given, ``cursor_after`` set, in the same transaction as the posts: after
    a crash the stored cursor always matches the stored posts.
    """
    at = collected_at or utcnow()
    distinct_posts = len({p.post_id for p in result.posts})  # X pages repeat quoted tweets
    counts = WriteCounts(fetched=distinct_posts + len(result.rejects), rejected=len(result.rejects))
    con.execute("BEGIN TRANSACTION")
    try:
        if result.authors:
            _store_authors(con, _authors_table(result.authors, at))
        if result.posts:
            counts.new, counts.updated = _store_posts(con, posts_table(result.posts, campaign, at))
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE _existing (post_id VARCHAR)")
        if result.raw:
            _store_raw(con, _raw_table(result.raw, at))
        con.execute("DROP TABLE _existing")
        if counts.new or counts.updated:
            mark_write(con, "ingest", counts.new + counts.updated)
        if result.rejects:
            con.register("_batch_rejects", _rejects_table(result.rejects, run_id, at))
            con.execute("INSERT INTO rejects SELECT * FROM _batch_rejects")
            con.unregister("_batch_rejects")
        if run_id is not None:
            con.execute(
                """
                UPDATE collection_runs SET
                    requests = requests + ?, fetched = fetched + ?, new = new + ?,
                    updated = updated + ?, rejected = rejected + ?,
                    cursor_after = coalesce(?, cursor_after)
                WHERE run_id = ?
                """,
                [
                    requests,
                    counts.fetched,
                    counts.new,
                    counts.updated,
                    counts.rejected,
                    cursor,
                    run_id,
                ],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def mark_write(con: duckdb.DuckDBPyConnection, stage: str, rows: int) -> None:
    """Record that ``stage`` changed the warehouse (call inside the writing transaction)."""
    con.execute(
        "INSERT INTO write_marks VALUES (?, ?, ?) ON CONFLICT (stage) DO UPDATE SET "
        "written_at = excluded.written_at, rows = excluded.rows",
        [stage, utcnow(), rows],
    )


def start_run(
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    campaign: str | None = None,
    query: str | None = None,
    cursor_before: str | None = None,
) -> int:
    """Record the start of a collection or import run; returns its ``run_id``."""
    return con.execute(
        "INSERT INTO collection_runs (source, campaign, query, cursor_before, started_at, status) "
        "VALUES (?, ?, ?, ?, ?, 'running') RETURNING run_id",
        [source, campaign, query, cursor_before, utcnow()],
    ).fetchone()[0]


def finish_run(
    con: duckdb.DuckDBPyConnection, run_id: int, status: str = "ok", error: str | None = None
) -> None:
    """Close a run as ``ok``, ``partial`` or ``failed`` (with the error message)."""
    if status not in {"ok", "partial", "failed"}:
        raise ValueError(f"run status must be ok, partial or failed, not {status!r}")
    con.execute(
        "UPDATE collection_runs SET status = ?, error = ?, ended_at = ? WHERE run_id = ?",
        [status, error, utcnow(), run_id],
    )


def last_cursor(
    con: duckdb.DuckDBPyConnection, source: str, query: str | None, campaign: str | None = None
) -> str | None:
    """Where the last run of ``source`` for ``query`` (and ``campaign``) stopped."""
    row = con.execute(
        "SELECT cursor_after FROM collection_runs "
        "WHERE source = ? AND query IS NOT DISTINCT FROM ? AND campaign IS NOT DISTINCT FROM ? "
        "AND cursor_after IS NOT NULL ORDER BY run_id DESC LIMIT 1",
        [source, query, campaign],
    ).fetchone()
    return row[0] if row else None


def store_campaign(con: duckdb.DuckDBPyConnection, campaign: Any) -> None:
    """Load (or reload) a campaign's row, entities and events, replacing its old ones."""
    naive = lambda dt: dt.astimezone(UTC).replace(tzinfo=None)  # noqa: E731
    entities = pa.table(
        {
            "campaign": [campaign.name] * len(campaign.entities),
            "entity": [e.name for e in campaign.entities],
            "kind": [e.kind for e in campaign.entities],
            "aliases": pa.array([e.aliases for e in campaign.entities], type=pa.list_(pa.string())),
        }
    )
    events = pa.table(
        {
            "campaign": [campaign.name] * len(campaign.events),
            "event_at": pa.array([naive(e.at) for e in campaign.events], type=_TS),
            "title": [e.title for e in campaign.events],
            "kind": [e.kind for e in campaign.events],
            "description": [e.description for e in campaign.events],
            "url": [e.url for e in campaign.events],
        }
    )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM entities WHERE campaign = ?", [campaign.name])
        con.execute("DELETE FROM events WHERE campaign = ?", [campaign.name])
        con.execute("DELETE FROM campaigns WHERE campaign = ?", [campaign.name])
        con.execute(
            "INSERT INTO campaigns VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                campaign.name, campaign.title, campaign.description, naive(campaign.start),
                naive(campaign.end), campaign.model_dump_json(), utcnow(),
            ],
        )  # fmt: skip
        con.register("_entities", entities)
        con.execute("INSERT INTO entities SELECT * FROM _entities")
        con.unregister("_entities")
        con.register("_events", events)
        con.execute("INSERT INTO events SELECT * FROM _events")
        con.unregister("_events")
        mark_write(con, "campaign", len(campaign.entities) + len(campaign.events))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def embeddings_table(post_ids: Sequence[str], model_id: str, matrix: Any, at: datetime) -> pa.Table:
    """Arrow table for ``embeddings``: one FLOAT[d] row per post."""
    import numpy as np

    values = np.ascontiguousarray(matrix, dtype=np.float32)
    n, dim = values.shape
    return pa.table(
        {
            "post_id": pa.array(post_ids, type=pa.string()),
            "model_id": pa.array([model_id] * n, type=pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), dim),
            "created_at": pa.array([at] * n, type=_TS),
        }
    )


def labels_table(
    post_ids: Sequence[str],
    task: str,
    model_id: str,
    labels: Sequence[str],
    probs: Any,
    label_names: Sequence[str],
    at: datetime,
) -> pa.Table:
    """Arrow table for ``labels``: the predicted label, its probability and every label's."""
    import numpy as np

    probs = np.asarray(probs, dtype=np.float64)
    n, k = probs.shape
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    prob_map = pa.MapArray.from_arrays(
        offsets, pa.array(list(label_names) * n, type=pa.string()), pa.array(probs.reshape(-1))
    )
    return pa.table(
        {
            "post_id": pa.array(post_ids, type=pa.string()),
            "task": pa.array([task] * n, type=pa.string()),
            "label": pa.array(labels, type=pa.string()),
            "score": pa.array(probs.max(axis=1) if n else [], type=pa.float64()),
            "probs": prob_map,
            "model_id": pa.array([model_id] * n, type=pa.string()),
            "created_at": pa.array([at] * n, type=_TS),
        }
    )


def store_analysis(
    con: duckdb.DuckDBPyConnection,
    embeddings: pa.Table | None,
    labels: Sequence[pa.Table],
) -> tuple[int, int]:
    """Store embeddings and labels of one chunk in one transaction (existing rows kept)."""
    con.execute("BEGIN TRANSACTION")
    try:
        n_emb = 0
        if embeddings is not None and embeddings.num_rows:
            con.register("_emb", embeddings)
            n_emb = con.execute(
                "INSERT INTO embeddings SELECT * FROM _emb ON CONFLICT DO NOTHING"
            ).fetchone()[0]
            con.unregister("_emb")
        n_lab = 0
        for table in labels:
            con.register("_lab", table)
            n_lab += con.execute(
                "INSERT INTO labels SELECT * FROM _lab ON CONFLICT DO NOTHING"
            ).fetchone()[0]
            con.unregister("_lab")
        if n_emb or n_lab:
            mark_write(con, "analyze", n_emb + n_lab)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return n_emb, n_lab


def start_analysis_run(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    *,
    campaign: str | None,
    models: Sequence[str],
    device: str | None = None,
    backend: str | None = None,
) -> int:
    """Record the start of an analysis stage run; returns its ``run_id``."""
    return con.execute(
        "INSERT INTO analysis_runs (stage, campaign, models, device, backend, started_at, status) "
        "VALUES (?, ?, ?, ?, ?, ?, 'running') RETURNING run_id",
        [stage, campaign, list(models), device, backend, utcnow()],
    ).fetchone()[0]


def finish_analysis_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    *,
    posts: int,
    seconds: float,
    status: str = "ok",
    error: str | None = None,
) -> None:
    con.execute(
        "UPDATE analysis_runs SET posts = ?, seconds = ?, status = ?, error = ?, ended_at = ? "
        "WHERE run_id = ?",
        [posts, seconds, status, error, utcnow(), run_id],
    )


def store_truth(con: duckdb.DuckDBPyConnection, truth: Iterable[dict]) -> int:
    """Store a simulator's ground truth in ``simulated_truth`` (idempotent)."""
    rows = list(truth)
    table = pa.table(
        {
            "post_id": [r["post_id"] for r in rows],
            "storyline": [r["storyline"] for r in rows],
            "sentiment": [r["sentiment"] for r in rows],
            "copyright": [r["copyright"] for r in rows],
            "is_spam": pa.array([bool(r["is_spam"]) for r in rows], type=pa.bool_()),
        }
    )
    con.register("_truth", table)
    try:
        return con.execute(
            "INSERT INTO simulated_truth SELECT * FROM _truth ANTI JOIN simulated_truth "
            "USING (post_id)"
        ).fetchone()[0]
    finally:
        con.unregister("_truth")
