"""Ctrl-C ends a command with one line and exit status 130; an import's run is closed as
``interrupted`` and what it committed before stays stored."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from warehouse.db import connect
from warehouse.read import WarehouseBusy, reading, release_all

HYPEWATCH = [sys.executable, "-m", "hypewatch.cli"]


def ctrl_c_delivered() -> None:
    """In the child: SIGINT handled as in a terminal, even when this test runs in the
    background (a shell starts background jobs with SIGINT ignored, and Python then never
    raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _running_run(db: Path) -> bool:
    try:
        with reading(db, timeout_s=0.5) as con:
            row = con.execute("SELECT count(*) FROM collection_runs").fetchone()
    except WarehouseBusy:
        return False
    finally:
        release_all()
    return row[0] > 0


def test_ctrl_c_during_an_import_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    connect(db).close()
    source = tmp_path / "hits.jsonl"
    source.write_bytes(
        b"".join(
            orjson.dumps({"objectID": str(i), "created_at_i": 1742990000 + i, "title": f"p {i}"})
            + b"\n"
            for i in range(400_000)
        )
    )
    importer = subprocess.Popen(
        [*HYPEWATCH, "import", str(source), "--format", "hn", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_delivered,
    )
    deadline = time.monotonic() + 60
    while not _running_run(db) and importer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert importer.poll() is None, "the import ended before it could be interrupted"
    importer.send_signal(signal.SIGINT)
    _, err = importer.communicate(timeout=60)
    assert importer.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted (Ctrl-C)"), err
    with reading(db) as con:
        status, error = con.execute("SELECT status, error FROM collection_runs").fetchone()
        stored = con.execute("SELECT count(*) FROM posts").fetchone()[0]
    release_all()
    assert (status, error) == ("interrupted", "stopped by Ctrl-C")
    assert 0 <= stored < 400_000
