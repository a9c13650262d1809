"""Readers during an import: ``hypewatch sql``, ``status`` and the dashboard's reads answer
while another process imports (it opens the warehouse per batch and closes it), no DuckDB
lock text reaches a user, and a long read delays the import instead of failing it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.test_interrupted_runs import hn_file
from warehouse.db import connect
from warehouse.read import reading, release_all

HYPEWATCH = [sys.executable, "-m", "hypewatch.cli"]
POSTS = 3_000

# A real import in another process: 30 batches of 100 posts, each written in its own
# transaction; between batches the importer "parses" for 0.1 s (the progress callback),
# holding the file unless a reader waits.
IMPORTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    from hypewatch.pipeline import import_payloads, import_writes
    from ingest.files import iter_payloads

    def parsing(_: int) -> None:
        print("batch", flush=True)
        time.sleep(0.1)

    # as `hypewatch import`: the file stays open between batches until a reader waits
    writes = import_writes(Path(sys.argv[1]), waiting=lambda said: print(said, file=sys.stderr))
    payloads = iter_payloads(Path(sys.argv[2]), "hn")
    _, counts = import_payloads(
        writes, "hn", payloads, source="import:hn", batch_posts=100, progress=parsing
    )
    print("done", counts.new, flush=True)
    """
)


def _start_import(tmp_path: Path) -> tuple[Path, subprocess.Popen]:
    db = tmp_path / "w.duckdb"
    connect(db).close()
    source = hn_file(tmp_path / "hits.jsonl", POSTS)
    importer = subprocess.Popen(
        [sys.executable, "-c", IMPORTER, str(db), str(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert importer.stdout.readline().strip() == "batch"  # the first batch is stored
    return db, importer


def test_hypewatch_sql_and_status_answer_during_an_import(tmp_path: Path) -> None:
    db, importer = _start_import(tmp_path)
    outcomes, counts = [], []
    while importer.poll() is None:
        sql = subprocess.run(
            [*HYPEWATCH, "sql", "SELECT count(*) AS n FROM posts", "-f", "csv", "--db", str(db)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        status = subprocess.run(
            [*HYPEWATCH, "status", "--db", str(db)], capture_output=True, text=True, timeout=60
        )
        outcomes += [(sql.returncode, sql.stderr), (status.returncode, status.stderr)]
        if sql.returncode == 0:
            counts.append(int(sql.stdout.split()[1]))
    out, err = importer.communicate()
    assert importer.returncode == 0, err
    assert f"done {POSTS}" in out
    assert len(outcomes) >= 4  # the import lasted long enough to be read during it
    assert all(code == 0 for code, _ in outcomes), outcomes
    assert not any("lock" in text.lower() for _, text in outcomes), outcomes
    assert counts == sorted(counts) and counts[0] < POSTS  # read mid-import, never going back


def test_a_long_read_delays_the_import_and_never_fails_it(tmp_path: Path) -> None:
    db, importer = _start_import(tmp_path)
    with reading(db) as con:  # a long query holds the file for 3 s
        before = con.execute("SELECT count(*) FROM posts").fetchone()[0]
        time.sleep(3)
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == before
    release_all()
    out, err = importer.communicate(timeout=120)
    assert importer.returncode == 0, err
    assert f"done {POSTS}" in out
    assert "waiting for process" in err and "reading or writing the warehouse" in err, err
    with reading(db) as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == POSTS
        runs = con.execute("SELECT status FROM collection_runs").fetchall()
    release_all()
    assert runs == [("ok",)]
