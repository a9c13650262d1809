"""The SQL sandbox holds its limits on the worker process itself: memory (peak RSS), time
(wall clock, even for calls DuckDB cannot interrupt), files beside the warehouse, and the
same statement filter for ``hypewatch sql`` as for the SQL page."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.dashboard import copy_of, warehouse
from warehouse.sandbox import QueryRefused, SandboxLimits, check_statement, run_user_sql

MB = 2**20
SMALL = SandboxLimits(memory_mb=256, max_bytes=8 * MB, max_rows=100_000)
"""Limits small enough to reach quickly; the defaults are 1 GB and 64 MB."""
HYPEWATCH = [sys.executable, "-m", "hypewatch.cli"]


@pytest.fixture(scope="module")
def db() -> Path:
    return warehouse()


def _baseline(db: Path) -> int:
    """An idle worker's peak RSS: what the memory limit comes on top of."""
    return run_user_sql(db, "SELECT 1", limits=SMALL).peak_rss


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT len(range(0, 100000000))",  # one 800 MB list
        "SELECT length(string_agg(repeat('x', 100000), '')) FROM range(30000)",  # 3 GB
        "SELECT length(repeat('x', 1000000000))",  # one 1 GB string, uninterruptible
        "SELECT count(*) FROM (SELECT range FROM range(100000000) ORDER BY random())",
    ],
)
def test_memory_limit_holds_for_the_whole_process(db: Path, sql: str) -> None:
    baseline = _baseline(db)
    with pytest.raises(QueryRefused, match="memory limit of 256 MB") as refused:
        run_user_sql(db, sql, limits=SMALL, timeout_s=30)
    assert "\n" not in str(refused.value)
    assert refused.value.peak_rss < baseline + 256 * MB + 32 * MB
    assert run_user_sql(db, "SELECT 42 AS x", limits=SMALL).rows == [(42,)]  # usable again


def test_a_huge_result_is_cut_at_the_byte_limit_not_fetched(db: Path) -> None:
    """10 GB of rows at the page's highest row limit (it escaped as an OSError before)."""
    limits = SandboxLimits(memory_mb=512, max_bytes=8 * MB, max_rows=100_000)
    baseline = run_user_sql(db, "SELECT 1", limits=limits).peak_rss
    for _ in range(3):  # and again on the same worker
        result = run_user_sql(
            db, "SELECT repeat('x', 100000) AS s FROM range(100000)", limits=limits
        )
        assert result.truncated and result.limit == "bytes"
        assert 0 < result.table.num_rows < 100 and result.table.nbytes <= 8 * MB
        assert result.peak_rss < baseline + 512 * MB


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT length(repeat('x', 1000000000))",  # one call DuckDB cannot interrupt
        "SELECT len(range(0, 300000000))",
        "SELECT count(*) FROM range(10000000000) t(i) WHERE i % 7 = 3",
    ],
)
def test_time_limit_holds_even_for_calls_duckdb_cannot_interrupt(db: Path, sql: str) -> None:
    roomy = SandboxLimits(memory_mb=6000)  # so only the time limit can stop them
    start = time.monotonic()
    with pytest.raises(QueryRefused, match="time limit of 1 s"):
        run_user_sql(db, sql, timeout_s=1, limits=roomy)
    assert time.monotonic() - start < 4  # 1 s, the kill grace, a little slack
    assert run_user_sql(db, "SELECT 42 AS x", limits=roomy).rows == [(42,)]


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN ANALYZE SET VARIABLE x = 1",
        "EXPLAIN ANALYZE CREATE TEMP MACRO m(x) AS x",
        "EXPLAIN ANALYZE COPY (SELECT 1) TO 'out.csv'",
        "EXPLAIN /* hidden */ ANALYSE COPY (SELECT 1) TO 'out.csv'",
        "EXPLAIN (ANALYZE, FORMAT json) COPY (SELECT 1) TO 'out.csv'",
        "EXPLAIN ANALYZE INSERT INTO events SELECT * FROM events",
    ],
)
def test_explain_is_allowed_around_a_select_only(sql: str) -> None:
    with pytest.raises(QueryRefused, match="EXPLAIN is allowed around a SELECT only"):
        check_statement(sql)


def test_explain_analyze_of_a_select_runs(db: Path) -> None:
    result = run_user_sql(db, "EXPLAIN ANALYZE SELECT count(*) FROM posts")
    assert result.table.num_rows >= 1


def test_the_spill_folder_beside_the_warehouse_is_out_of_reach(tmp_path: Path) -> None:
    path = copy_of(warehouse(), tmp_path)
    spill = Path(f"{path}.tmp")  # DuckDB allows its own temp folder even with file access off
    spill.mkdir()
    (spill / "planted.csv").write_text("secret\n")
    for sql in (
        f"SELECT * FROM read_text('{spill}/planted.csv')",
        f"SELECT * FROM read_csv('{spill}/planted.csv')",
        f"SELECT * FROM glob('{spill}/*')",
    ):
        with pytest.raises(QueryRefused, match="cannot read or write files"):
            run_user_sql(path, sql)
    with pytest.raises(QueryRefused):
        run_user_sql(path, f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{spill}/x.csv'")
    assert sorted(p.name for p in spill.iterdir()) == ["planted.csv"]


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYPEWATCH_SQL_MEMORY_MB": "256"}
    return subprocess.run(
        [*HYPEWATCH, "sql", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT 1; SELECT 2", "one statement"),
        ("PRAGMA show_tables", "PRAGMA"),
        ("SET threads = 1", "settings"),
        ("COPY (SELECT 1) TO '/tmp/hypewatch-cli-leak.csv'", "COPY"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/hypewatch-cli-leak.csv'", "EXPLAIN"),
        ("SELECT * FROM read_text('/etc/hostname')", "cannot read or write files"),
        ("SELECT length(string_agg(repeat('x', 100000), '')) FROM range(30000)", "memory"),
    ],
)
def test_hypewatch_sql_uses_the_sandbox(db: Path, sql: str, words: str) -> None:
    done = _cli(sql, "--db", str(db))
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words.lower() in lines[0].lower(), done.stderr
    assert not Path("/tmp/hypewatch-cli-leak.csv").exists()


def test_hypewatch_sql_time_and_row_limits(db: Path) -> None:
    start = time.monotonic()
    done = _cli("SELECT count(*) FROM range(1e12::BIGINT)", "--timeout", "1", "--db", str(db))
    assert done.returncode == 1 and "time limit of 1 s" in done.stderr
    assert time.monotonic() - start < 15
    done = _cli("SELECT * FROM range(50)", "--max-rows", "7", "-f", "csv", "--db", str(db))
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["range", *map(str, range(7))]
    assert "only the first 7 rows" in done.stderr


def test_no_worker_outlives_its_parent(db: Path) -> None:
    script = (
        "import os, sys\n"
        "from warehouse.sandbox import run_user_sql, sandbox_for\n"
        f"run_user_sql({str(db)!r}, 'SELECT 1')\n"
        f"box = sandbox_for({str(db)!r})\n"
        "print(box._idle[0].process.pid, flush=True)\n"
        "os._exit(0)\n"  # no atexit clean-up: the worker must notice on its own
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
