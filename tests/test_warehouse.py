"""Warehouse: migrations, idempotent bulk writes, metrics snapshots, read-only safety."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from ingest.model import Author, ParseResult, Post, RawPayload, Reject
from warehouse.db import (
    WarehouseError,
    code_version,
    connect,
    migrations,
    schema_version,
    transaction,
)
from warehouse.read import reading, release_all
from warehouse.writes import analysis_run, finish_run, last_cursor, start_run, store_batch

T0 = datetime(2025, 3, 25, 17, 0, tzinfo=UTC)


def batch(n: int, *, likes: int = 1, start: int = 0) -> ParseResult:
    result = ParseResult()
    for i in range(start, start + n):
        pid = f"x:{i}"
        result.posts.append(
            Post(
                post_id=pid,
                platform="x",
                native_id=str(i),
                created_at=T0 + timedelta(minutes=i),
                text=f"post {i} — ジブリ 🎨",
                author_id=f"x:u{i % 3}",
                lang="en",
                hashtags=["ghibli"],
                likes=likes,
                reposts=0,
            )
        )
        result.raw.append(RawPayload(pid, "x-v2", {"data": [{"id": str(i)}]}))
    result.authors = [Author(f"x:u{k}", "x", f"u{k}", handle=f"user{k}") for k in range(3)]
    return result


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "w.duckdb"


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_new_warehouse_is_at_code_version(db: Path) -> None:
    con = connect(db)
    assert schema_version(con) == code_version() == len(migrations())
    con.close()
    # reopening applies nothing and keeps the version
    con = connect(db)
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == code_version()


def test_newer_warehouse_is_refused_and_untouched(db: Path) -> None:
    con = connect(db)
    con.execute("INSERT INTO schema_version VALUES (999, 'from_the_future', now()::TIMESTAMP)")
    store_batch(con, batch(3))
    con.close()
    with pytest.raises(WarehouseError, match=r"schema version 999.*upgrade hypewatch"):
        connect(db)
    with (
        pytest.raises(WarehouseError, match=r"schema version 999.*upgrade hypewatch"),
        reading(db),
    ):
        pass
    con = duckdb.connect(str(db), read_only=True)
    assert count(con, "posts") == 3


def test_not_a_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("this is not a database")
    with pytest.raises(WarehouseError, match=r"notes\.duckdb"):
        connect(bogus)
    with pytest.raises(WarehouseError, match="no warehouse"), reading(tmp_path / "missing.duckdb"):
        pass


def test_import_twice_leaves_posts_unchanged(db: Path) -> None:
    con = connect(db)
    first = store_batch(con, batch(50), campaign="c")
    before = con.execute("SELECT * FROM posts ORDER BY post_id").fetchall()
    second = store_batch(con, batch(50), campaign="c")
    assert (first.new, first.updated) == (50, 0)
    assert (second.new, second.updated) == (0, 0)
    assert con.execute("SELECT * FROM posts ORDER BY post_id").fetchall() == before
    assert count(con, "post_metrics") == 50
    assert count(con, "raw_payloads") == 50
    assert count(con, "authors") == 3


def test_recollected_post_adds_a_snapshot_not_a_post(db: Path) -> None:
    con = connect(db)
    store_batch(con, batch(10, likes=1))
    counts = store_batch(con, batch(10, likes=7))
    assert (counts.new, counts.updated) == (0, 10)
    assert count(con, "posts") == 10
    assert count(con, "post_metrics") == 20
    assert con.execute("SELECT likes FROM posts_enriched WHERE post_id = 'x:3'").fetchone() == (7,)


def test_duplicates_inside_one_batch_are_stored_once(db: Path) -> None:
    con = connect(db)
    doubled = batch(5)
    doubled.extend(batch(5))
    counts = store_batch(con, doubled)
    assert counts.new == 5
    assert count(con, "posts") == 5


def test_changed_text_updates_the_row(db: Path) -> None:
    con = connect(db)
    store_batch(con, batch(3))
    fixed = batch(3)
    fixed.posts[1].text = "re-parsed text"
    counts = store_batch(con, fixed)
    assert counts.updated == 1
    assert con.execute("SELECT text FROM posts WHERE post_id = 'x:1'").fetchone() == (
        "re-parsed text",
    )


def test_times_are_stored_as_utc(db: Path) -> None:
    con = connect(db)
    result = batch(1)
    result.posts[0].created_at = datetime.fromisoformat("2025-03-26T02:00:00+09:00")
    store_batch(con, result)
    assert con.execute("SELECT created_at FROM posts").fetchone()[0] == datetime(2025, 3, 25, 17, 0)


def test_failed_batch_rolls_back_and_keeps_stored_data(db: Path) -> None:
    con = connect(db)
    store_batch(con, batch(5))
    broken = batch(5, start=100)
    broken.posts[2].text = None  # violates NOT NULL: the whole batch must be refused
    with pytest.raises(duckdb.Error):
        store_batch(con, broken)
    assert count(con, "posts") == 5
    assert count(con, "post_metrics") == 5


def test_run_counters_and_cursor_are_stored_with_the_batch(db: Path) -> None:
    con = connect(db)
    run = start_run(con, "x", campaign="c", query="ghibli")
    result = batch(4)
    result.rejects.append(Reject("x-v2", "x-v2: tweet has no created_at", {"id": "9"}))
    store_batch(con, result, run_id=run, cursor="since:42", requests=1)
    finish_run(con, run, "ok")
    row = con.execute(
        "SELECT requests, fetched, new, rejected, cursor_after, status FROM collection_runs"
    ).fetchone()
    assert row == (1, 5, 4, 1, "since:42", "ok")
    assert last_cursor(con, "x", "ghibli", "c") == "since:42"
    assert last_cursor(con, "x", "ghibli", "another-campaign") is None
    assert con.execute("SELECT run_id, reason FROM rejects").fetchone() == (
        run,
        "x-v2: tweet has no created_at",
    )
    with pytest.raises(ValueError, match="ok, partial, failed or interrupted"):
        finish_run(con, run, "done")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO posts (post_id) VALUES ('x')",
        "DELETE FROM posts",
        "CREATE TABLE t (i INT)",
        "COPY posts TO 'out.csv'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "ATTACH 'other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
    ],
)
def test_readonly_connection_refuses(db: Path, statement: str) -> None:
    connect(db).close()
    with reading(db) as con, pytest.raises(duckdb.Error):
        con.execute(statement)
    release_all(db)


def test_write_mark_moves_only_when_data_changed(db: Path) -> None:
    con = connect(db)
    store_batch(con, batch(5))
    first = con.execute(
        "SELECT written_at, rows FROM write_marks WHERE stage = 'ingest'"
    ).fetchone()
    assert first[1] == 5
    store_batch(con, batch(5))  # nothing new: readers' caches stay valid
    assert con.execute("SELECT written_at, rows FROM write_marks").fetchone() == first
    store_batch(con, batch(5, likes=9))
    assert con.execute("SELECT rows FROM write_marks").fetchone() == (5,)


def test_raw_payloads_round_trip_and_are_zstd_compressed(db: Path) -> None:
    con = connect(db)
    result = batch(3)
    result.raw[1].payload = {"data": [{"id": "1", "text": 'ジブリ 🎨 "quoted"\n', "n": 2**40}]}
    store_batch(con, result)
    con.execute("CHECKPOINT")
    stored = con.execute(
        "SELECT post_id, payload, payload_md5 = md5(payload) FROM raw_payloads ORDER BY post_id"
    ).fetchall()
    assert [(pid, orjson.loads(text), ok) for pid, text, ok in stored] == [
        (r.post_id, r.payload, True) for r in result.raw
    ]
    (sql,) = con.execute(
        "SELECT sql FROM duckdb_tables() WHERE table_name = 'raw_payloads'"
    ).fetchone()
    assert "USING COMPRESSION ZSTD" in sql.upper()


def test_a_payload_json_cannot_hold_is_kept_as_its_text(db: Path) -> None:
    con = connect(db)
    result = batch(1)
    result.raw[0].payload = {"data": [{"id": "0", "big": 2**70}]}  # orjson: int64 range only
    store_batch(con, result)
    (text,) = con.execute("SELECT payload FROM raw_payloads").fetchone()
    assert orjson.loads(text) == str(result.raw[0].payload)


def test_raw_payload_added_only_when_it_changed(db: Path) -> None:
    con = connect(db)
    store_batch(con, batch(4))
    store_batch(con, batch(4))  # same payloads: nothing added
    assert count(con, "raw_payloads") == 4
    changed = batch(4)
    changed.raw[2].payload = {"data": [{"id": "2", "text": "edited"}]}
    store_batch(con, changed)
    rows = con.execute(
        "SELECT post_id, count(*) FROM raw_payloads GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [("x:0", 1), ("x:1", 1), ("x:2", 2), ("x:3", 1)]


def test_repeated_post_in_one_batch_keeps_each_distinct_payload_once(db: Path) -> None:
    con = connect(db)
    doubled = batch(2)
    doubled.extend(batch(2))  # the same posts and payloads again (an X page quoting them)
    doubled.extend(batch(1, likes=5))
    doubled.raw[-1].payload = {"data": [{"id": "0", "public_metrics": {"like_count": 5}}]}
    counts = store_batch(con, doubled)
    assert (counts.fetched, counts.new) == (2, 2)
    assert count(con, "raw_payloads") == 3  # x:0 twice (two payloads), x:1 once
    # the last occurrence of a post wins
    assert con.execute("SELECT likes FROM post_metrics WHERE post_id = 'x:0'").fetchone() == (5,)


def test_rejects_alone_are_kept_with_their_run(db: Path) -> None:
    con = connect(db)
    run = start_run(con, "import:x-v2")
    rejects = ParseResult(
        rejects=[Reject("x-v2", "x-v2: bad", {"id": 1}), Reject("x-v2", "x", "l")]
    )
    counts = store_batch(con, rejects, run_id=run)
    assert (counts.fetched, counts.rejected, counts.new) == (2, 2, 0)
    rows = con.execute("SELECT run_id, reason, payload FROM rejects ORDER BY reason").fetchall()
    assert rows == [(run, "x", "l"), (run, "x-v2: bad", '{"id":1}')]
    assert count(con, "posts") == 0


def test_upgrade_to_zstd_raw_payloads_keeps_them(db: Path) -> None:
    old = duckdb.connect(str(db))  # a warehouse as version 6 left it
    old.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
        "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    for migration in migrations()[:6]:
        old.execute(migration.sql)
        old.execute("INSERT INTO schema_version VALUES (?, ?, now())", [migration.version, "m"])
    old.execute(
        "INSERT INTO raw_payloads VALUES ('x:1', 'x-v2', '2025-03-25 17:00', md5('{\"id\":1}'), "
        "'{\"id\":1}')"
    )
    old.close()
    con = connect(db)
    assert schema_version(con) == code_version()
    assert con.execute("SELECT post_id, payload FROM raw_payloads").fetchall() == [
        ("x:1", '{"id":1}')
    ]
    store_batch(con, batch(2))
    assert count(con, "raw_payloads") == 3


def test_analysis_run_records_ok_and_failed_runs(db: Path) -> None:
    con = connect(db)
    with analysis_run(con, "topics", campaign="c", models=["m"]) as run:
        run.posts = 5
    with pytest.raises(ValueError), analysis_run(con, "trends", campaign=None, models=[]) as run:
        run.posts = 2  # stored before the failure
        raise ValueError("bad input")
    rows = con.execute(
        "SELECT stage, campaign, models, posts, status, error, seconds >= 0, ended_at IS NOT NULL "
        "FROM analysis_runs ORDER BY run_id"
    ).fetchall()
    assert rows == [
        ("topics", "c", ["m"], 5, "ok", None, True, True),
        ("trends", None, [], 2, "failed", "ValueError: bad input", True, True),
    ]


def test_transaction_commits_the_block_or_rolls_it_back(db: Path) -> None:
    con = connect(db)
    con.execute("CREATE TABLE t (x INTEGER)")
    with transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(KeyboardInterrupt), transaction(con):
        con.execute("INSERT INTO t VALUES (2)")
        raise KeyboardInterrupt
    assert con.execute("SELECT list(x) FROM t").fetchone()[0] == [1]
    with transaction(con):  # no transaction was left open
        con.execute("INSERT INTO t VALUES (3)")
    assert con.execute("SELECT list(x ORDER BY x) FROM t").fetchone()[0] == [1, 3]
