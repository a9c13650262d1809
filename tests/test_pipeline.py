"""``import_payloads``: parsing overlapped with writing, batch by batch, idempotent."""

from __future__ import annotations

import gc
from pathlib import Path

import duckdb
import pytest

from hypewatch.pipeline import checkpoints_deferred, import_payloads
from ingest.model import Reject
from warehouse.db import connect


def hit(i: int, points: int = 1) -> dict:
    return {
        "objectID": str(i),
        "created_at_i": 1742990000 + i,
        "author": f"user{i % 4}",
        "title": f"story {i} ジブリ",
        "points": points,
        "_tags": ["story"],
    }


def pages(n_pages: int, per_page: int, points: int = 1) -> list[dict]:
    return [
        {"hits": [hit(p * per_page + i, points) for i in range(per_page)]} for p in range(n_pages)
    ]


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    """Every stored row, except ``authors.last_seen`` (which a re-import moves on purpose)."""
    queries = {
        "posts": "SELECT * FROM posts",
        "authors": "SELECT * EXCLUDE (last_seen) FROM authors",
        "post_metrics": "SELECT * FROM post_metrics",
        "raw_payloads": "SELECT * FROM raw_payloads",
    }
    return {t: con.execute(f"{q} ORDER BY ALL").fetchall() for t, q in queries.items()}


@pytest.fixture
def con(tmp_path: Path):
    con = connect(tmp_path / "w.duckdb")
    yield con
    con.close()


def test_small_batches_store_what_one_batch_stores(con, tmp_path: Path) -> None:
    seen: list[int] = []
    run, counts = import_payloads(
        con, "hn", pages(6, 10), source="t", batch_posts=7, progress=seen.append
    )
    assert (counts.fetched, counts.new, counts.updated, counts.rejected) == (60, 60, 0, 0)
    assert sum(seen) == 6  # every payload reported once, batch by batch
    row = con.execute(
        "SELECT requests, fetched, new, status FROM collection_runs WHERE run_id = ?", [run]
    ).fetchone()
    assert row == (6, 60, 60, "ok")

    other = connect(tmp_path / "one_batch.duckdb")
    import_payloads(other, "hn", pages(6, 10), source="t")
    columns = "post_id, text, likes"
    query = f"SELECT {columns} FROM posts JOIN post_metrics USING (post_id) ORDER BY post_id"
    assert con.execute(query).fetchall() == other.execute(query).fetchall()
    other.close()


def test_reimport_changes_nothing_and_new_counts_add_snapshots(con) -> None:
    import_payloads(con, "hn", pages(4, 5), source="t", batch_posts=6)
    before = snapshot(con)
    _, again = import_payloads(con, "hn", pages(4, 5), source="t", batch_posts=6)
    assert (again.new, again.updated) == (0, 0)
    assert snapshot(con) == before
    _, more = import_payloads(con, "hn", pages(4, 5, points=9), source="t", batch_posts=6)
    assert (more.new, more.updated) == (0, 20)
    assert con.execute("SELECT count(*) FROM post_metrics").fetchone() == (40,)
    # the payload changed (points): one more raw payload per post, still one post row
    assert con.execute("SELECT count(*) FROM raw_payloads").fetchone() == (40,)
    assert con.execute("SELECT count(*) FROM posts").fetchone() == (20,)


def test_rejects_are_kept_with_the_run(con) -> None:
    items = [*pages(1, 3), Reject("hn", "t.jsonl line 2: invalid JSON", "{oops"), {"nope": 1}]
    run, counts = import_payloads(con, "hn", items, source="t", batch_posts=2)
    assert (counts.new, counts.rejected) == (3, 2)
    rows = con.execute("SELECT run_id, payload FROM rejects ORDER BY payload").fetchall()
    assert rows == [(run, '{"nope":1}'), (run, "{oops")]


def test_a_failed_write_fails_the_run_and_keeps_earlier_batches(con) -> None:
    con.execute("DROP TABLE rejects")  # the second batch carries a reject: it cannot be stored
    items = [*pages(2, 5), {"nope": 1}]
    with pytest.raises(duckdb.CatalogException, match="rejects"):
        import_payloads(con, "hn", items, source="t", batch_posts=5)
    assert con.execute("SELECT count(*) FROM posts").fetchone()[0] in (5, 10)
    row = con.execute("SELECT status, error FROM collection_runs").fetchone()
    assert row[0] == "failed" and "rejects" in row[1]
    assert gc.isenabled()


def test_the_garbage_collector_is_restored(con) -> None:
    assert gc.isenabled()
    import_payloads(con, "hn", pages(1, 2), source="t")
    assert gc.isenabled()
    gc.disable()
    try:
        import_payloads(con, "hn", pages(1, 2), source="t")
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_checkpoint_threshold_is_raised_during_a_load_and_restored(con) -> None:
    def threshold() -> str:
        return con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0]

    before = threshold()
    with checkpoints_deferred(con):
        raised = threshold()
        with checkpoints_deferred(con):
            pass
        assert threshold() == raised  # a nested load keeps the outer value
    assert threshold() == before != raised
    with pytest.raises(ValueError, match="unknown payload format"), checkpoints_deferred(con):
        import_payloads(con, "no-such-format", [], source="t")
    assert threshold() == before
