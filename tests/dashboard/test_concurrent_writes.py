"""The dashboard keeps working while the pipeline writes, and never shows a lock error.

DuckDB allows one read-write process or several read-only ones, never both. A writer
subprocess here does what writers must do (docs/dashboard.md): open the warehouse per batch
(retrying while a reader holds it), write in a short transaction, refresh the aggregates,
close. Meanwhile the dashboard's queries run from several threads and through AppTest.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import queries
from dashboard.auth import AUTH_ENV
from dashboard.queries import Filters, PostFilters
from dashboard.server import DB_ENV
from tests.dashboard import CAMPAIGN, copy_of, warehouse
from warehouse.read import WarehouseBusy, reading
from warehouse.sandbox import run_user_sql

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
ROOT = Path(__file__).resolve().parents[2]
SECONDS = 8.0

WRITER = """
import random, sys, time
from warehouse.aggregates import refresh_aggregates
from warehouse.read import connect_writer
from warehouse.writes import mark_write

path, seconds = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + seconds
batch = 0
while time.monotonic() < deadline:
    con = connect_writer(path)  # announces itself, retries while readers finish
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "INSERT INTO posts SELECT post_id || '.w' || $n, platform, native_id || '.w' || $n, "
            "campaign, author_id, created_at, now()::TIMESTAMP, lang, text, url, NULL, NULL, "
            "NULL, NULL, hashtags FROM posts WHERE NOT contains(post_id, '.w') "
            "ORDER BY post_id LIMIT 20",
            {"n": batch},
        )
        mark_write(con, "ingest", 20)
        con.execute("COMMIT")
        refresh_aggregates(con)
    finally:
        con.close()
    batch += 1
    time.sleep(random.uniform(0.0, 0.02))
print(batch)
"""

HOLDER = """
import sys, time
from warehouse.db import connect
con = connect(sys.argv[1])
print("open", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""

FILTERS = Filters(CAMPAIGN, date(2025, 3, 20), date(2025, 4, 4))


def _start(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _reader(path: Path, stop: threading.Event, errors: list, counts: list) -> None:
    """One dashboard session's worth of queries, over and over."""
    calls = [
        lambda c: queries.headline(c, FILTERS),
        lambda c: queries.volume(c, FILTERS, "hour"),
        lambda c: queries.mention_totals(c, FILTERS),
        lambda c: queries.posts(c, FILTERS, PostFilters(search="ghibli", limit=50)),
    ]
    while not stop.is_set():
        for call in calls:
            try:
                with reading(path) as con:
                    call(con)
                    counts.append(con.execute("SELECT count(*) FROM posts").fetchone()[0])
                run_user_sql(path, "SELECT count(*) FROM post_facts")
            except Exception as exc:  # anything surfaced to the dashboard is a failure
                errors.append(repr(exc))


def test_dashboard_reads_while_a_writer_commits_in_a_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_of(warehouse(), tmp_path)
    monkeypatch.setenv(DB_ENV, str(path))
    monkeypatch.setenv(AUTH_ENV, "none")
    with reading(path) as con:
        before = con.execute("SELECT count(*) FROM posts").fetchone()[0]

    writer = _start(WRITER, str(path), str(SECONDS))
    stop, errors, counts = threading.Event(), [], []
    threads = [
        threading.Thread(target=_reader, args=(path, stop, errors, counts)) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    surfaced, runs = [], 0
    try:
        at = AppTest.from_file(str(APP), default_timeout=60)
        deadline = time.monotonic() + SECONDS
        pages = ["views/overview.py", "views/share_of_voice.py", "views/posts.py"]
        while time.monotonic() < deadline:
            at.run() if runs == 0 else at.switch_page(pages[runs % len(pages)]).run()
            runs += 1
            surfaced += [e.value for e in at.exception]
            surfaced += [e.value for e in (*at.error, *at.warning) if "imulated" not in e.value]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        out, err = writer.communicate(timeout=120)

    assert writer.returncode == 0, err
    batches = int(out.strip())
    assert batches >= 5, f"the writer committed only {batches} batches"
    assert not errors, errors[:5]
    assert not surfaced, surfaced[:5]
    assert runs >= 3 and len(counts) >= 10
    assert max(counts) > before  # readers saw the writer's new posts
    with reading(path) as con:
        after = con.execute("SELECT count(*) FROM posts").fetchone()[0]
        facts = con.execute("SELECT count(*) FROM post_facts").fetchone()[0]
    assert after == before + 20 * batches == facts


def test_a_writer_that_keeps_the_file_open_gets_a_clear_busy_message(tmp_path: Path) -> None:
    """What DuckDB does: a read-write holder blocks read-only opens entirely."""
    path = copy_of(warehouse(), tmp_path)
    holder = _start(HOLDER, str(path), "3")
    try:
        assert holder.stdout.readline().strip() == "open"
        start = time.monotonic()
        with (
            pytest.raises(WarehouseBusy, match="writers open it per batch"),
            reading(path, timeout_s=0.5),
        ):
            pass
        assert time.monotonic() - start < 2
    finally:
        holder.communicate(timeout=30)
    with reading(path, timeout_s=5) as con:  # released: readers get in again
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] > 0
