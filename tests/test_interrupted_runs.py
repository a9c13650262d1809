"""A killed import (SIGKILL, as the OOM killer sends) leaves no process behind, and the next
command that opens the warehouse read-write closes its run as ``interrupted``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from hypewatch.pipeline import import_file
from warehouse import writes
from warehouse.db import connect
from warehouse.writes import finish_run, start_analysis_run, start_run

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds a process's children through /proc"
)

# An import through the parse pool that stops after its first batch (pretending to be
# busy) until it is killed: the workers are up and have been handed chunks.
IMPORTER = textwrap.dedent(
    """
    import functools, sys, time
    from pathlib import Path

    import hypewatch.parse_pool as parse_pool
    import hypewatch.pipeline as pipeline
    from warehouse.db import connect

    parse_pool.POOL_MIN_POSTS = 0  # a small file goes through the pool as a big one does
    pipeline.ParsePool = functools.partial(parse_pool.ParsePool, workers=2, chunk_bytes=20_000)

    def stalled(_: int) -> None:
        print("written", flush=True)
        time.sleep(600)

    con = connect(sys.argv[1])
    pipeline.import_file(con, Path(sys.argv[2]), "hn", progress=stalled)
    """
)


def hn_file(path: Path, n: int) -> Path:
    hits = [
        {"objectID": str(i), "created_at_i": 1742990000 + i, "title": f"post {i}", "author": "a"}
        for i in range(n)
    ]
    path.write_bytes(b"\n".join(orjson.dumps({"hits": [hit]}) for hit in hits) + b"\n")
    return path


def stat(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` from field 3 (state) on; ``None`` once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``: pid -> start tick (to tell it from a reused pid)."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := stat(int(entry))) is not None:
            parents[int(entry)] = (int(fields[1]), fields[19])
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, start) in parents.items():
            if ppid == parent and child not in found:
                found[child] = start
                todo.append(child)
    return found


def running(procs: dict[int, str]) -> dict[int, str]:
    """Those of ``procs`` still running (a zombie waiting to be reaped has ended)."""
    alive = {}
    for pid, start in procs.items():
        fields = stat(pid)
        if fields is not None and fields[19] == start and fields[0] not in ("Z", "X"):
            alive[pid] = start
    return alive


def test_a_killed_import_leaves_no_process_and_its_run_is_interrupted(tmp_path: Path) -> None:
    db, data = tmp_path / "w.duckdb", hn_file(tmp_path / "hn.jsonl", 3000)
    importer = subprocess.Popen(
        [sys.executable, "-c", IMPORTER, str(db), str(data)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    left: dict[int, str] = {}
    try:
        assert importer.stdout.readline() == b"written\n"
        below = descendants(importer.pid)  # workers, fork server, resource tracker
        assert len(below) >= 3, below
        importer.kill()  # SIGKILL: nothing of the importer's own code runs any more
        importer.wait(timeout=30)
        deadline = time.monotonic() + 5
        left = running(below)
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = running(below)
        assert not left, f"still running 5 s after the importer was killed: {sorted(left)}"
    finally:
        importer.kill()
        importer.wait(timeout=30)
        for pid in running(left):
            os.kill(pid, signal.SIGKILL)  # the old code's orphans: not left on the machine

    con = connect(db)  # the next command
    (status, ended, error, new) = con.execute(
        "SELECT status, ended_at IS NOT NULL, error, new FROM collection_runs"
    ).fetchone()
    assert (status, ended) == ("interrupted", True)
    assert error.startswith(f"the process (pid {importer.pid} on ")
    assert error.endswith(") ended without closing the run")
    assert new == con.execute("SELECT count(*) FROM posts").fetchone()[0] > 0  # kept

    import_file(con, hn_file(tmp_path / "again.jsonl", 10), "hn")  # a successful rerun
    statuses = con.execute("SELECT status FROM collection_runs ORDER BY run_id").fetchall()
    assert statuses == [("interrupted",), ("ok",)]
    con.close()


# A process that starts a collection run and an analysis run, then stays until killed.
OWNER = textwrap.dedent(
    """
    import sys, time
    from warehouse.db import connect
    from warehouse.writes import start_analysis_run, start_run

    con = connect(sys.argv[1])
    start_run(con, "x", query="q")
    start_analysis_run(con, "analyze", campaign=None, models=["m"])
    con.close()  # as a collector between two short writes: the file is free, the run open
    print("started", flush=True)
    time.sleep(600)
    """
)


def test_runs_of_a_killed_process_are_interrupted_and_of_a_live_one_not(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(db)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert owner.stdout.readline() == b"started\n"
        con = connect(db)  # the owner still runs: its runs stay open
        runs = "SELECT status FROM {} ORDER BY run_id"
        assert con.execute(runs.format("collection_runs")).fetchall() == [("running",)]
        assert con.execute(runs.format("analysis_runs")).fetchall() == [("running",)]
        mine = start_run(con, "y")  # this process's own run, open too
        con.close()
        owner.kill()
        owner.wait(timeout=30)
    finally:
        owner.kill()
        owner.wait(timeout=30)

    # `hypewatch status` reads only, and already shows the dead owner's run as interrupted
    shown = subprocess.run(
        [sys.executable, "-m", "hypewatch.cli", "status", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "interrupted" in shown.stdout and f"pid {owner.pid}" in shown.stdout, shown.stdout

    con = connect(db)
    assert con.execute(
        "SELECT run_id, status, error IS NULL FROM collection_runs ORDER BY run_id"
    ).fetchall() == [(1, "interrupted", False), (mine, "running", True)]
    assert con.execute("SELECT status, error FROM analysis_runs").fetchone() == (
        "interrupted",
        f"the process (pid {owner.pid} on {socket.gethostname()}) ended without closing the run",
    )
    assert writes.mark_interrupted_runs(con) == 0  # once
    finish_run(con, mine, "ok")
    con.close()


def test_a_reused_pid_or_another_host_is_not_the_owner(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    reused = start_run(con, "reused")  # this pid, but "started" at another moment
    other_host = start_run(con, "elsewhere")
    start_analysis_run(con, "analyze", campaign=None, models=[])
    con.execute(
        "UPDATE collection_runs SET owner_start = owner_start || '0' WHERE run_id = ?", [reused]
    )
    con.execute(
        "UPDATE collection_runs SET owner_host = 'elsewhere', owner_pid = 2147483647 "
        "WHERE run_id = ?",
        [other_host],
    )
    con.execute("UPDATE analysis_runs SET owner_host = NULL, owner_pid = NULL")  # before 0011
    assert writes.mark_interrupted_runs(con) == 1
    assert con.execute("SELECT source, status FROM collection_runs ORDER BY run_id").fetchall() == [
        ("reused", "interrupted"),
        ("elsewhere", "running"),
    ]
    assert con.execute("SELECT status FROM analysis_runs").fetchone() == ("running",)
    con.close()


def test_upgrading_closes_runs_left_running_by_an_older_hypewatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before 0011 no owner was recorded; the process of such a run runs older code, which
    cannot open the upgraded warehouse, so it can never close the run itself."""
    import warehouse.db as db

    path = tmp_path / "old.duckdb"
    shipped = db.migrations()
    monkeypatch.setattr(db, "migrations", lambda: shipped[:10])
    con = db.connect(path)
    con.execute(
        "INSERT INTO collection_runs (source, started_at, status) VALUES "
        "('x', now()::TIMESTAMP, 'running'), ('y', now()::TIMESTAMP, 'ok')"
    )
    con.close()
    monkeypatch.setattr(db, "migrations", lambda: shipped)
    con = db.connect(path)
    rows = con.execute(
        "SELECT source, status, ended_at IS NOT NULL, owner_pid FROM collection_runs "
        "ORDER BY run_id"
    ).fetchall()
    assert rows == [("x", "interrupted", True, None), ("y", "ok", False, None)]
    con.close()
