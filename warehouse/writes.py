"""Bulk, idempotent writes into the warehouse.

Every write goes through Arrow tables registered with DuckDB and set-based SQL, never a
Python loop of single-row inserts. :func:`store_batch` stores one batch of parsed posts in
one transaction, together with the collection run's counters and cursor, so a batch is
either stored whole, with its cursor, or not at all. It is :func:`prepare_batch` (Python:
parsed objects -> Arrow tables) followed by :func:`write_batch` (DuckDB only), so that a
pipeline can prepare the next batch while DuckDB writes this one.

Idempotency: a post already stored is never inserted twice. A re-collected post updates
its row only where a field changed (e.g. after a parser fix), and adds an engagement
snapshot to ``post_metrics`` only when its counts changed; a raw payload is added only
when it differs (md5) from every payload already stored for that post.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from ingest.model import Author, ParseResult, Post, RawPayload, Reject
from warehouse.db import transaction

_TS = pa.timestamp("us")
_TS_UTC = pa.timestamp("us", tz="UTC")

_POST_COLUMNS = (
    "post_id", "platform", "native_id", "campaign", "author_id", "created_at", "collected_at",
    "lang", "text", "url", "reply_to_id", "quote_of_id", "repost_of_id", "conversation_id",
    "hashtags",
)  # fmt: skip
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


def _json_bytes(value: Any) -> bytes:
    """``value`` as JSON (UTF-8); a value JSON cannot hold becomes its ``str()`` as a string."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return orjson.dumps(str(value))


def _json_column(values: Iterable[Any]) -> pa.Array:
    """A string column of JSON texts, serialised straight to UTF-8 bytes (no ``str`` copies).

    The texts are joined into one buffer with their offsets beside it: a third of the
    time of ``pa.array(texts)``, which converts them one Python object at a time.
    """
    values = list(values)
    dumps = orjson.dumps
    try:
        texts = [dumps(v) for v in values]
    except TypeError:  # rare: something orjson cannot serialise; redo one by one
        texts = [_json_bytes(v) for v in values]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), out=offsets[1:])
    data = pa.py_buffer(b"".join(texts))
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(len(texts), pa.py_buffer(offsets.astype(np.int32)), data)
    return pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(offsets), data)


def _last_wins(items: Sequence[Any], key: str) -> Sequence[Any]:
    """``items`` with one item per ``key`` value, the last one, in first-seen order."""
    get = attrgetter(key)
    last = {get(item): i for i, item in enumerate(items)}
    if len(last) == len(items):
        return items
    return [items[i] for i in last.values()]


def _columns(items: Sequence[Any], names: Iterable[str]) -> dict[str, list]:
    return {name: list(map(attrgetter(name), items)) for name in names}


def posts_table(posts: Sequence[Post], campaign: str | None, collected_at: datetime) -> pa.Table:
    """Column-wise Arrow table of posts, one row per post (the last of duplicates wins)."""
    posts = _last_wins(posts, "post_id")
    n = len(posts)
    col = _columns(posts, Post.__slots__)
    string = pa.string()
    return pa.table(
        {
            "post_id": pa.array(col["post_id"], type=string),
            "platform": pa.array(col["platform"], type=string),
            "native_id": pa.array(col["native_id"], type=string),
            "campaign": pa.nulls(n, string) if campaign is None else pa.repeat(campaign, n),
            "author_id": pa.array(col["author_id"], type=string),
            "created_at": _timestamps(col["created_at"]),
            "collected_at": pa.repeat(pa.scalar(collected_at, type=_TS), n),
            "lang": pa.array(col["lang"], type=string),
            "text": pa.array(col["text"], type=string),
            "url": pa.array(col["url"], type=string),
            "reply_to_id": pa.array(col["reply_to_id"], type=string),
            "quote_of_id": pa.array(col["quote_of_id"], type=string),
            "repost_of_id": pa.array(col["repost_of_id"], type=string),
            "conversation_id": pa.array(col["conversation_id"], type=string),
            "hashtags": pa.array(col["hashtags"], type=pa.list_(string)),
            **{m: pa.array(col[m], type=pa.int64()) for m in _METRICS},
        }
    )


def _authors_table(authors: Sequence[Author], seen_at: datetime) -> pa.Table:
    authors = _last_wins(authors, "author_id")
    col = _columns(authors, Author.__slots__)
    string, int64 = pa.string(), pa.int64()
    return pa.table(
        {
            "author_id": pa.array(col["author_id"], type=string),
            "platform": pa.array(col["platform"], type=string),
            "native_id": pa.array(col["native_id"], type=string),
            "handle": pa.array(col["handle"], type=string),
            "display_name": pa.array(col["display_name"], type=string),
            "followers": pa.array(col["followers"], type=int64),
            "following": pa.array(col["following"], type=int64),
            "post_count": pa.array(col["post_count"], type=int64),
            "verified": pa.array(col["verified"], type=pa.bool_()),
            "created_at": _timestamps(col["created_at"]),
            "seen_at": pa.repeat(pa.scalar(seen_at, type=_TS), len(authors)),
        }
    )


def _raw_table(raw: Sequence[RawPayload], collected_at: datetime) -> pa.Table:
    return pa.table(
        {
            "post_id": pa.array([r.post_id for r in raw], type=pa.string()),
            "format": pa.array([r.format for r in raw], type=pa.string()),
            "collected_at": pa.repeat(pa.scalar(collected_at, type=_TS), len(raw)),
            "payload": _json_column(r.payload for r in raw),
        }
    )


def _rejects_table(rejects: Sequence[Reject], at: datetime) -> pa.Table:
    def text(payload: Any) -> str:
        return payload if isinstance(payload, str) else _json_bytes(payload).decode()

    return pa.table(
        {
            "format": pa.array([r.format for r in rejects], type=pa.string()),
            "reason": pa.array([r.reason for r in rejects], type=pa.string()),
            "payload": pa.array([text(r.payload) for r in rejects], type=pa.string()),
            "rejected_at": pa.repeat(pa.scalar(at, type=_TS), len(rejects)),
        }
    )


@dataclass
class PreparedBatch:
    """One parsed batch as Arrow tables, ready for :func:`write_batch` (no DuckDB needed).

    ``raw_unique`` says that no post has two raw payloads in the batch, so the payloads
    need no de-duplication among themselves.
    """

    posts: pa.Table | None
    authors: pa.Table | None
    raw: pa.Table | None
    rejects: pa.Table | None
    fetched: int
    raw_unique: bool


def prepare_batch(
    result: ParseResult, *, campaign: str | None = None, collected_at: datetime | None = None
) -> PreparedBatch:
    """Turn a :class:`ParseResult` into Arrow tables; pure Python/Arrow, thread-safe."""
    at = collected_at or utcnow()
    posts = posts_table(result.posts, campaign, at) if result.posts else None
    raw_ids = {r.post_id for r in result.raw}
    return PreparedBatch(
        posts=posts,
        authors=_authors_table(result.authors, at) if result.authors else None,
        raw=_raw_table(result.raw, at) if result.raw else None,
        rejects=_rejects_table(result.rejects, at) if result.rejects else None,
        # X pages repeat quoted tweets: a post counts once per batch
        fetched=(posts.num_rows if posts is not None else 0) + len(result.rejects),
        raw_unique=len(raw_ids) == len(result.raw),
    )


def _store_authors(con: duckdb.DuckDBPyConnection) -> None:
    """Upsert the registered ``_batch_authors``: reported values win, NULLs keep old ones."""
    con.execute(
        """
        INSERT INTO authors
        SELECT author_id, platform, native_id, handle, display_name, followers, following,
               post_count, verified, created_at, seen_at, seen_at
        FROM _batch_authors
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


_ANY_METRIC = " OR ".join(f"{m} IS NOT NULL" for m in _METRICS)
_INSERT_POSTS = f"INSERT INTO posts SELECT {', '.join(_POST_COLUMNS)} FROM _batch_posts"
_INSERT_METRICS = (
    f"INSERT INTO post_metrics SELECT post_id, collected_at, {', '.join(_METRICS)} "
    "FROM _batch_posts"
)


def _store_posts(con: duckdb.DuckDBPyConnection) -> tuple[int, int, bool]:
    """Insert new posts, update changed ones, snapshot changed metrics.

    Reads the registered ``_batch_posts``; returns (new, updated, any post existed). When
    none of the batch's posts is stored yet (the usual first load), they are inserted
    with their metrics without any comparison. Otherwise the posts already stored are
    kept in the temp table ``_existing`` for :func:`_store_raw`.
    """
    existing = con.execute(
        "CREATE OR REPLACE TEMP TABLE _existing AS "
        "SELECT post_id FROM _batch_posts SEMI JOIN posts USING (post_id)"
    ).fetchone()[0]
    if not existing:
        new = con.execute(_INSERT_POSTS).fetchone()[0]
        con.execute(f"{_INSERT_METRICS} WHERE {_ANY_METRIC}")
        return new, 0, False

    new = con.execute(f"{_INSERT_POSTS} ANTI JOIN _existing USING (post_id)").fetchone()[0]
    changed = " OR ".join(f"p.{c} IS DISTINCT FROM s.{c}" for c in _MUTABLE_POST_COLUMNS)
    assignments = ", ".join(f"{c} = s.{c}" for c in _MUTABLE_POST_COLUMNS)
    updated_ids = {
        r[0]
        for r in con.execute(
            "CREATE OR REPLACE TEMP TABLE _changed AS SELECT s.post_id, "
            f"{', '.join('s.' + c for c in _MUTABLE_POST_COLUMNS)} FROM _batch_posts s "
            f"JOIN posts p USING (post_id) WHERE {changed}; "
            "SELECT post_id FROM _changed"
        ).fetchall()
    }
    if updated_ids:
        con.execute(
            f"UPDATE posts SET {assignments} FROM _changed s WHERE posts.post_id = s.post_id"
        )
    con.execute("DROP TABLE _changed")

    differs = " OR ".join(f"s.{m} IS DISTINCT FROM m.{m}" for m in _METRICS)
    any_reported = " OR ".join(f"s.{m} IS NOT NULL" for m in _METRICS)
    snapshotted = con.execute(
        f"""
        INSERT INTO post_metrics
        SELECT s.post_id, s.collected_at, {", ".join("s." + m for m in _METRICS)}
        FROM _batch_posts s
        LEFT JOIN (
            SELECT post_id, {", ".join(_METRICS)} FROM post_metrics
            SEMI JOIN _existing USING (post_id)
            QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY observed_at DESC) = 1
        ) m USING (post_id)
        WHERE ({any_reported}) AND (m.post_id IS NULL OR {differs})
        RETURNING post_id
        """
    ).fetchall()
    if snapshotted:
        existing_ids = {r[0] for r in con.execute("SELECT post_id FROM _existing").fetchall()}
        updated_ids.update(pid for (pid,) in snapshotted if pid in existing_ids)
    return new, len(updated_ids), True


def _store_raw(con: duckdb.DuckDBPyConnection, any_existed: bool, unique: bool) -> None:
    """Add the registered ``_batch_raw`` payloads not stored yet. Only posts stored before
    this batch (``_existing``, left by :func:`_store_posts`) can already have a payload,
    so only they are compared, by (post_id, md5)."""
    batch = (
        "SELECT post_id, format, collected_at, md5(payload) AS payload_md5, payload FROM _batch_raw"
    )
    if not unique:
        batch = f"SELECT DISTINCT ON (post_id, payload_md5) * FROM ({batch})"
    if not any_existed:
        con.execute(f"INSERT INTO raw_payloads {batch}")
        return
    con.execute(
        f"""
        INSERT INTO raw_payloads
        WITH batch AS ({batch})
        SELECT * FROM batch ANTI JOIN _existing USING (post_id)
        UNION ALL
        SELECT * FROM (SELECT * FROM batch SEMI JOIN _existing USING (post_id))
        ANTI JOIN raw_payloads USING (post_id, payload_md5)
        """
    )


def write_batch(
    con: duckdb.DuckDBPyConnection,
    batch: PreparedBatch,
    *,
    run_id: int | None = None,
    cursor: str | None = None,
    requests: int = 0,
) -> WriteCounts:
    """Write one prepared batch in ONE transaction, with the run's counters and cursor."""
    counts = WriteCounts(fetched=batch.fetched)
    if batch.rejects is not None:
        counts.rejected = batch.rejects.num_rows
    views = {
        name: table
        for name, table in (
            ("_batch_authors", batch.authors),
            ("_batch_posts", batch.posts),
            ("_batch_raw", batch.raw),
            ("_batch_rejects", batch.rejects),
        )
        if table is not None
    }
    with transaction(con):
        for name, table in views.items():
            con.register(name, table)
        _write(con, batch, counts, run_id=run_id, cursor=cursor, requests=requests)
        for name in views:
            con.unregister(name)
    return counts


def _write(
    con: duckdb.DuckDBPyConnection,
    batch: PreparedBatch,
    counts: WriteCounts,
    *,
    run_id: int | None,
    cursor: str | None,
    requests: int,
) -> None:
    """The statements of :func:`write_batch`, inside its transaction; fills ``counts``."""
    if batch.authors is not None:
        _store_authors(con)
    any_existed = False
    if batch.posts is not None:
        counts.new, counts.updated, any_existed = _store_posts(con)
    if batch.raw is not None:
        _store_raw(con, any_existed, batch.raw_unique)
    con.execute("DROP TABLE IF EXISTS _existing")
    if counts.new or counts.updated:
        mark_write(con, "ingest", counts.new + counts.updated)
    if batch.rejects is not None:
        con.execute(
            "INSERT INTO rejects "
            "SELECT ?, format, reason, payload, rejected_at FROM _batch_rejects",
            [run_id],
        )
    if run_id is not None:
        con.execute(
            """
            UPDATE collection_runs SET
                requests = requests + ?, fetched = fetched + ?, new = new + ?,
                updated = updated + ?, rejected = rejected + ?,
                cursor_after = coalesce(?, cursor_after)
            WHERE run_id = ?
            """,
            [requests, counts.fetched, counts.new, counts.updated, counts.rejected, cursor, run_id],
        )


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
    prepared = prepare_batch(result, campaign=campaign, collected_at=collected_at)
    return write_batch(con, prepared, run_id=run_id, cursor=cursor, requests=requests)


def mark_write(con: duckdb.DuckDBPyConnection, stage: str, rows: int) -> None:
    """Record that ``stage`` changed the warehouse (call inside the writing transaction)."""
    con.execute(
        "INSERT INTO write_marks VALUES (?, ?, ?) ON CONFLICT (stage) DO UPDATE SET "
        "written_at = excluded.written_at, rows = excluded.rows",
        [stage, utcnow(), rows],
    )


RUN_STATUSES = ("ok", "partial", "failed", "interrupted")
"""How a collection run ends (``running`` while it is open); ``interrupted`` is set only by
:func:`mark_interrupted_runs`, for a run whose process ended without closing it."""


def start_run(
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    campaign: str | None = None,
    query: str | None = None,
    cursor_before: str | None = None,
) -> int:
    """Record the start of a collection or import run, owned by this process (see
    :func:`mark_interrupted_runs`); returns its ``run_id``."""
    return con.execute(
        "INSERT INTO collection_runs (source, campaign, query, cursor_before, started_at, status, "
        "owner_host, owner_pid, owner_start) "
        "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?) RETURNING run_id",
        [source, campaign, query, cursor_before, utcnow(), *run_owner()],
    ).fetchone()[0]


def finish_run(
    con: duckdb.DuckDBPyConnection, run_id: int, status: str = "ok", error: str | None = None
) -> None:
    """Close a run as ``ok``, ``partial``, ``failed`` or ``interrupted`` (with the error)."""
    if status not in RUN_STATUSES:
        raise ValueError(f"run status must be ok, partial, failed or interrupted, not {status!r}")
    con.execute(
        "UPDATE collection_runs SET status = ?, error = ?, ended_at = ? WHERE run_id = ?",
        [status, error, utcnow(), run_id],
    )


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of ``/proc/PID/stat`` (state first); ``None`` without such a file."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()  # after "PID (command name)"


def _start_token(stat: list[str]) -> str:
    # the boot, and the clock tick since boot when the process started (field 22)
    return f"{_boot_id()}:{stat[19]}"


def run_owner() -> tuple[str, int, str | None]:
    """This process as the owner of a run: ``(owner_host, owner_pid, owner_start)``.

    ``owner_start`` tells this process from a later one given the same pid: on Linux the
    boot id and the clock tick since boot when it started; ``None`` without ``/proc``.
    """
    stat = _proc_stat(os.getpid())
    return socket.gethostname(), os.getpid(), None if stat is None else _start_token(stat)


def owner_alive(pid: int, start: str | None) -> bool:
    """Whether the process that started a run on this host still runs: process ``pid``
    exists, has not ended (a zombie waiting for its parent has) and, where its start was
    recorded, started then (else the pid was reused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    stat = _proc_stat(pid)
    if stat is None:  # no /proc (macOS), or hidden from us: the pid is all there is
        return True
    if stat[0] in ("Z", "X"):
        return False
    return start is None or _start_token(stat) == start


_OWNED_RUNS = ("collection_runs", "analysis_runs")


def mark_interrupted_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Close as ``interrupted`` the runs still ``running`` whose process, on this host, has
    ended (killed: SIGKILL, the OOM killer, a power cut); returns how many.

    Runs owned by another host, or written before owners were recorded, are left alone.
    :func:`~warehouse.db.connect` calls this each time it opens the warehouse read-write.
    """
    host = socket.gethostname()
    tables = [
        t
        for (t,) in con.execute(
            "SELECT table_name FROM duckdb_columns() WHERE column_name = 'owner_start' "
            "AND table_name IN ?",
            [list(_OWNED_RUNS)],
        ).fetchall()
    ]
    closed = 0
    for table in tables:
        gone = [
            (run_id, pid)
            for run_id, pid, start in con.execute(
                f"SELECT run_id, owner_pid, owner_start FROM {table} "
                "WHERE status = 'running' AND owner_host = ? AND owner_pid IS NOT NULL",
                [host],
            ).fetchall()
            if not owner_alive(pid, start)
        ]
        for run_id, pid in gone:
            closed += con.execute(
                f"UPDATE {table} SET status = 'interrupted', ended_at = ?, error = ? "
                "WHERE run_id = ? AND status = 'running'",
                [
                    utcnow(),
                    f"the process (pid {pid} on {host}) ended without closing the run",
                    run_id,
                ],
            ).fetchone()[0]
    return closed


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
    with transaction(con):
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
    with transaction(con):
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
    return n_emb, n_lab


def store_languages(con: duckdb.DuckDBPyConnection, detections: pa.Table) -> int:
    """Store one chunk of language detections (``language_detections`` columns) in one
    transaction; a post already detected by the same detector keeps its row."""
    with transaction(con):
        con.register("_languages", detections)
        stored = con.execute(
            "INSERT INTO language_detections "
            "SELECT post_id, detector, lang, confidence, detected_at FROM _languages n "
            "WHERE NOT EXISTS (SELECT 1 FROM language_detections d "
            "WHERE d.post_id = n.post_id AND d.detector = n.detector)"
        ).fetchone()[0]
        con.unregister("_languages")
        if stored:
            mark_write(con, "languages", stored)
    return stored


def start_analysis_run(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    *,
    campaign: str | None,
    models: Sequence[str],
    device: str | None = None,
    backend: str | None = None,
    engine: str = "local",
    workers: int | None = None,
) -> int:
    """Record the start of an analysis stage run; returns its ``run_id``."""
    return con.execute(
        "INSERT INTO analysis_runs (stage, campaign, models, device, backend, started_at, status, "
        "owner_host, owner_pid, owner_start, engine, workers) "
        "VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?) RETURNING run_id",
        [stage, campaign, list(models), device, backend, utcnow(), *run_owner(), engine, workers],
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


@dataclass
class AnalysisRun:
    """The ``analysis_runs`` row an :func:`analysis_run` block records; set ``posts``."""

    run_id: int
    posts: int = 0


@contextmanager
def analysis_run(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    *,
    campaign: str | None,
    models: Sequence[str],
    device: str | None = None,
    backend: str | None = None,
    started: float | None = None,
) -> Iterator[AnalysisRun]:
    """Record one run of an analysis stage around the block: ``running`` on entry, then
    ``ok``, or ``failed`` with the error (which propagates), with the block's ``posts``
    and the seconds since ``started`` (a ``time.perf_counter()`` value; default: entry)."""
    started = time.perf_counter() if started is None else started
    run = AnalysisRun(
        start_analysis_run(
            con, stage, campaign=campaign, models=models, device=device, backend=backend
        )
    )
    try:
        yield run
    except BaseException as exc:
        finish_analysis_run(
            con, run.run_id, posts=run.posts, seconds=time.perf_counter() - started,
            status="failed", error=f"{type(exc).__name__}: {exc}",
        )  # fmt: skip
        raise
    finish_analysis_run(con, run.run_id, posts=run.posts, seconds=time.perf_counter() - started)


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
