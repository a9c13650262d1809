"""Imports parsed in worker processes (``ParsePool``): same rows as in-process, rejects kept,
a dead worker fails the run clearly and keeps what was written."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import duckdb
import orjson
import pytest

from hypewatch.parse_pool import ParsePool, WorkerDied
from hypewatch.pipeline import ImportJob, import_file, import_payloads, import_pooled
from ingest.model import Reject
from ingest.simulator import simulate
from warehouse.db import connect
from warehouse.writes import utcnow

# Stored rows, without the columns that hold the time of the write.
SNAPSHOT = {
    "posts": "SELECT * EXCLUDE (collected_at) FROM posts",
    "authors": "SELECT * EXCLUDE (first_seen, last_seen) FROM authors",
    "post_metrics": "SELECT * EXCLUDE (observed_at) FROM post_metrics",
    "raw_payloads": "SELECT post_id, format, payload_md5, payload FROM raw_payloads",
    "rejects": "SELECT format, reason, payload FROM rejects",
}


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    return {t: con.execute(f"{q} ORDER BY ALL").fetchall() for t, q in SNAPSHOT.items()}


@pytest.fixture(scope="module")
def corpus() -> dict[str, list]:
    """A small simulated week, grouped by format, with one bad payload per format."""
    groups: dict[str, list] = {}
    for fmt, payload in simulate(size=1500, seed=5).payloads:
        groups.setdefault(fmt, []).append(payload)
    for items in groups.values():
        items.insert(len(items) // 2, {"unexpected": True})
    return groups


@pytest.fixture(scope="module")
def pool():
    with ParsePool(workers=2, chunk_bytes=50_000) as pool:  # many chunks per format
        yield pool


def test_pool_stores_the_same_rows_as_in_process(corpus, pool, tmp_path: Path) -> None:
    alone = connect(tmp_path / "alone.duckdb")
    for fmt, items in corpus.items():
        import_payloads(alone, fmt, items, source=f"t:{fmt}", batch_posts=300)
    pooled = connect(tmp_path / "pooled.duckdb")
    jobs = [ImportJob(fmt, items, f"t:{fmt}") for fmt, items in corpus.items()]
    results = import_pooled(pooled, pool, jobs)

    assert snapshot(pooled) == snapshot(alone)
    assert snapshot(pooled)["rejects"]  # the bad payloads were stored as rejects
    runs = pooled.execute(
        "SELECT run_id, source, status, requests, new, rejected FROM collection_runs "
        "ORDER BY run_id"
    ).fetchall()
    assert [r[0] for r in runs] == [run_id for run_id, _ in results]
    assert [(r[1], r[2], r[3]) for r in runs] == [
        (f"t:{fmt}", "ok", len(items)) for fmt, items in corpus.items()
    ]
    assert sum(r[4] for r in runs) == pooled.execute("SELECT count(*) FROM posts").fetchone()[0]
    assert [r[5] for r in runs] == [1] * len(corpus)

    before = snapshot(pooled)  # importing the same payloads again changes nothing
    again = import_pooled(pooled, pool, jobs)
    assert all((c.new, c.updated) == (0, 0) for _, c in again)
    assert {k: v for k, v in snapshot(pooled).items() if k != "rejects"} == {
        k: v for k, v in before.items() if k != "rejects"
    }
    alone.close()
    pooled.close()


def test_a_bad_record_in_a_worker_becomes_a_reject(pool, tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    good = {"hits": [{"objectID": "1", "created_at_i": 1742990000, "title": "ok", "author": "a"}]}
    bad_hit = {"hits": [{"objectID": "2", "created_at_i": "yesterday", "title": "x"}]}
    items = [good, bad_hit, "not a page", Reject("hn", "f line 9: invalid JSON", "{oops")]
    ((run_id, counts),) = import_pooled(con, pool, [ImportJob("hn", items, "t")])
    assert (counts.new, counts.rejected) == (1, 3)
    reasons = [r[0] for r in con.execute("SELECT reason FROM rejects ORDER BY reason").fetchall()]
    assert any("created_at" in r for r in reasons), reasons
    assert "f line 9: invalid JSON" in reasons
    assert con.execute("SELECT DISTINCT run_id FROM rejects").fetchall() == [(run_id,)]
    con.close()


def count_pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the pools ``hypewatch.pipeline`` starts (a list holding the count)."""
    import hypewatch.pipeline

    started = [0]

    class CountedPool(ParsePool):
        def __init__(self, *args: object, **kwargs: object) -> None:
            started[0] += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(hypewatch.pipeline, "ParsePool", CountedPool)
    return started


def test_a_big_jsonl_file_goes_through_the_pool_with_bad_lines_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hypewatch.parse_pool

    monkeypatch.setattr(hypewatch.parse_pool, "POOL_MIN_POSTS", 0)  # any file is "big"
    started = count_pools(monkeypatch)
    hits = [{"objectID": str(i), "created_at_i": 1742990000 + i, "title": "t"} for i in range(5)]
    lines = [orjson.dumps({"hits": [hit]}) for hit in hits]
    lines.insert(2, b"{not json")
    path = tmp_path / "hn.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    con = connect(tmp_path / "w.duckdb")
    _, counts = import_file(con, path, "hn")
    assert (counts.new, counts.rejected) == (5, 1)
    (reason,) = con.execute("SELECT reason FROM rejects").fetchone()
    assert reason.startswith("hn.jsonl line 3: invalid JSON")
    assert started == [1]
    con.close()


def test_a_worker_that_dies_fails_the_run_and_keeps_earlier_batches(corpus, tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    items = corpus["x-v2"]

    with ParsePool(workers=2, chunk_bytes=20_000) as doomed:

        def kill_workers(_: int) -> None:  # after the first batch is written
            if killed:
                return
            killed.append(doomed.pids()[0])
            os.kill(killed[0], signal.SIGKILL)

        killed: list[int] = []

        with pytest.raises(
            WorkerDied,
            match=r"parse worker process died .*; the \d+ batch\(es\) written before are kept",
        ):
            import_pooled(con, doomed, [ImportJob("x-v2", items, "t")], progress=kill_workers)

    stored = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    assert stored > 0  # the first batch stays stored
    status, error, new = con.execute("SELECT status, error, new FROM collection_runs").fetchone()
    assert status == "failed" and "WorkerDied" in error
    assert new == stored  # the run's counters are those of the batches written
    con.close()


def test_closing_the_pool_leaves_no_worker_behind() -> None:
    pool = ParsePool(workers=2)
    pool.submit("hn", None, None, utcnow(), []).result()  # the workers are up
    pids = pool.pids()
    assert len(pids) == 2
    pool.close()
    assert not _still_alive(pids)


def test_workers_start_when_the_main_module_cannot_be_imported_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """spawn/forkserver children re-run the parent's main script; after a Streamlit AppTest
    (in the same test session) that script is the dashboard app, which fails outside
    Streamlit. The pool starts its workers without it."""
    import sys
    import types

    script = tmp_path / "not_twice.py"
    script.write_text("raise SystemExit('the main script ran in a worker')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    with ParsePool(workers=2) as pool:
        batch = pool.submit("hn", None, None, utcnow(), []).result(timeout=60)
    assert batch is not None
    assert sys.modules["__main__"] is main


def _still_alive(pids: list[int], wait_s: float = 10) -> list[int]:
    """The processes among ``pids`` still running after up to ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _alive(pid)]
        time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_an_interrupt_closes_the_run_and_the_workers(corpus, tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")

    def interrupt(_: int) -> None:  # Ctrl-C right after the first batch is written
        pids.extend(pool.pids())
        raise KeyboardInterrupt

    pids: list[int] = []
    pool = ParsePool(workers=2, chunk_bytes=20_000)
    with pytest.raises(KeyboardInterrupt), pool:
        import_pooled(con, pool, [ImportJob("x-v2", corpus["x-v2"], "t")], progress=interrupt)
    assert len(pids) == 2
    assert not _still_alive(pids)
    status, error, new = con.execute("SELECT status, error, new FROM collection_runs").fetchone()
    assert (status, error) == ("interrupted", "stopped by Ctrl-C")
    assert new == con.execute("SELECT count(*) FROM posts").fetchone()[0] > 0
    con.close()


@pytest.mark.parametrize("whole_document", [False, True])
def test_a_jsonl_file_stores_the_same_rows_with_or_without_the_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole_document: bool
) -> None:
    import hypewatch.parse_pool

    rows = [{"key": str(i), "body": f"row {i}", "created_at": 1742990000 + i} for i in range(6)]
    if whole_document:  # one pretty-printed JSON array
        path = tmp_path / "rows.json"
        path.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    else:  # lines: objects, an array of rows, a bad line, a row the parser rejects
        path = tmp_path / "rows.jsonl"
        lines = [orjson.dumps(r) for r in rows[:3]] + [orjson.dumps(rows[3:]), b"{bad", b"[1]"]
        path.write_bytes(b"\n".join(lines) + b"\n")
    mapping = {"id": "key", "text": "body"}
    stored = []
    started = count_pools(monkeypatch)
    for min_posts in (10**9, 0):  # in-process, then through the pool
        monkeypatch.setattr(hypewatch.parse_pool, "POOL_MIN_POSTS", min_posts)
        con = connect(tmp_path / f"w{min_posts}.duckdb")
        _, counts = import_file(con, path, "jsonl", mapping=mapping)
        stored.append((counts.new, counts.rejected, snapshot(con)))
        con.close()
    assert started == [1]
    assert stored[0] == stored[1]
    assert stored[0][:2] == (6, 0 if whole_document else 2)


def test_the_demo_stores_the_same_rows_with_or_without_the_pool(tmp_path: Path) -> None:
    from hypewatch.campaigns import find_campaign
    from hypewatch.pipeline import build_demo
    from hypewatch.settings import PROJECT_ROOT

    campaign = find_campaign("gpt4o-image-launch", PROJECT_ROOT / "campaigns")
    stored = []
    for pool in (False, True):
        con = connect(tmp_path / f"demo-{pool}.duckdb")
        report = build_demo(con, campaign, size=600, seed=3, pool=pool)
        runs = con.execute(
            "SELECT source, status, requests, new FROM collection_runs ORDER BY run_id"
        ).fetchall()
        stored.append((snapshot(con), runs, {f: c.new for f, c in report.runs.items()}))
        con.close()
    assert stored[0] == stored[1]
    assert sum(stored[0][2].values()) == 600
