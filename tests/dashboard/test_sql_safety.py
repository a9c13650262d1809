"""The SQL page is read-only and sandboxed: every forbidden statement is refused clearly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.auth import AUTH_ENV
from dashboard.server import DB_ENV
from tests.dashboard import warehouse
from warehouse.sandbox import QueryRefused, run_user_sql

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
SECRET = Path("/etc/passwd")

FORBIDDEN = {
    "insert": ("INSERT INTO events VALUES ('x', now(), 't', NULL, NULL, NULL)", "read-only"),
    "update": ("UPDATE posts SET text = 'x'", "read-only"),
    "delete": ("DELETE FROM posts", "read-only"),
    "create table": ("CREATE TABLE t (i INTEGER)", "read-only"),
    "create temp table": ("CREATE TEMP TABLE t AS SELECT 1", "read-only"),
    "create macro": ("CREATE TEMP MACRO m(x) AS x", "read-only"),
    "create secret": ("CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')", "read-only"),
    "drop": ("DROP VIEW posts_enriched", "read-only"),
    "alter": ("ALTER TABLE posts ADD COLUMN x INTEGER", "read-only"),
    "copy to": ("COPY posts TO '/tmp/hypewatch-leak.csv'", "COPY"),
    "copy query to": ("COPY (SELECT 1) TO '/tmp/hypewatch-leak.csv'", "COPY"),
    "copy from": ("COPY posts FROM '/etc/passwd'", "COPY"),
    "export": ("EXPORT DATABASE '/tmp/hypewatch-export'", "EXPORT"),
    "import": ("IMPORT DATABASE '/tmp/hypewatch-export'", "PRAGMA"),
    "attach": ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
    "attach memory": ("ATTACH ':memory:' AS m", "ATTACH"),
    "detach": ("DETACH other", "DETACH"),
    "install": ("INSTALL httpfs", "INSTALL and LOAD"),
    "load": ("LOAD httpfs", "INSTALL and LOAD"),
    "read_csv": ("SELECT * FROM read_csv('/etc/passwd')", "cannot read or write files"),
    "read_text": ("SELECT * FROM read_text('/etc/passwd')", "cannot read or write files"),
    "read_blob": ("SELECT * FROM read_blob('/etc/passwd')", "cannot read or write files"),
    "glob": ("SELECT * FROM glob('/etc/*')", "cannot read or write files"),
    "file as table": ("SELECT * FROM '/etc/passwd'", "passwd"),
    "read_parquet url": (
        "SELECT * FROM read_parquet('https://example.com/x.parquet')",
        "cannot read or write files",
    ),
    "set": ("SET threads = 1", "settings"),
    "set external access": ("SET enable_external_access = true", "settings"),
    "unlock": ("SET lock_configuration = false", "settings"),
    "reset": ("RESET threads", "settings"),
    "pragma set": ("PRAGMA threads = 4", "settings"),
    "pragma": ("PRAGMA show_tables", "PRAGMA"),
    "set variable": ("SET VARIABLE x = 1", "settings"),
    "use": ("USE system", "settings"),
    "begin": ("BEGIN TRANSACTION", "transactions"),
    "checkpoint": ("CHECKPOINT", "CALL"),
    "call": ("CALL pragma_database_size()", "CALL"),
    "vacuum": ("VACUUM", "read-only"),
    "prepare": ("PREPARE p AS SELECT 1", "PREPARE"),
    "two statements": ("SELECT 1; DELETE FROM posts", "one statement"),
    "hidden write": ("SELECT 1; COPY posts TO '/tmp/x.csv'", "one statement"),
}


@pytest.fixture(scope="module")
def db() -> Path:
    return warehouse()


@pytest.mark.parametrize("name", list(FORBIDDEN))
def test_forbidden_statements_are_refused_with_a_clear_message(db: Path, name: str) -> None:
    sql, words = FORBIDDEN[name]
    with pytest.raises(QueryRefused) as refused:
        run_user_sql(db, sql)
    message = str(refused.value)
    assert words.lower() in message.lower(), message
    assert "\n" not in message
    assert not Path("/tmp/hypewatch-leak.csv").exists()


def test_the_warehouse_is_unchanged_after_the_attempts(db: Path) -> None:
    for sql, _ in FORBIDDEN.values():
        with pytest.raises(QueryRefused):
            run_user_sql(db, sql)
    assert run_user_sql(db, "SELECT count(*) AS n FROM posts").frame["n"][0] > 0
    assert run_user_sql(db, "SELECT count(*) AS n FROM events").frame["n"][0] == 8


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT platform, count(*) AS n FROM posts GROUP BY 1",
        "WITH t AS (SELECT 1 AS x) SELECT * FROM t",
        "FROM posts_enriched LIMIT 3",
        "SHOW TABLES",
        "DESCRIBE posts",
        "SUMMARIZE post_metrics",
        "EXPLAIN SELECT * FROM posts",
        "SELECT current_setting('TimeZone') AS tz",
    ],
)
def test_read_only_queries_run(db: Path, sql: str) -> None:
    result = run_user_sql(db, sql)
    assert len(result.frame) > 0 and not result.truncated


def test_times_are_utc(db: Path) -> None:
    assert run_user_sql(db, "SELECT current_setting('TimeZone') AS tz").frame["tz"][0] == "UTC"


def test_row_limit(db: Path) -> None:
    result = run_user_sql(db, "SELECT * FROM range(5000)", max_rows=100)
    assert len(result.frame) == 100 and result.truncated


def test_time_limit_interrupts_a_long_query(db: Path) -> None:
    start = time.monotonic()
    with pytest.raises(QueryRefused, match="time limit"):
        run_user_sql(
            db, "SELECT count(*) FROM range(10000000000) t(i) WHERE i % 7 = 3", timeout_s=0.5
        )
    assert time.monotonic() - start < 5
    assert run_user_sql(db, "SELECT 42 AS x").frame["x"][0] == 42  # still usable


@pytest.fixture
def sql_page(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv(DB_ENV, str(db))
    monkeypatch.setenv(AUTH_ENV, "none")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    return at.switch_page("views/sql.py").run()


@pytest.mark.parametrize("name", ["insert", "copy to", "attach", "install", "read_csv", "set"])
def test_sql_page_shows_the_refusal(sql_page: AppTest, name: str) -> None:
    sql, words = FORBIDDEN[name]
    sql_page.text_area(key="sql_text").input(sql)
    sql_page.button(key="sql_run").click().run()
    assert not sql_page.exception
    errors = [e.value for e in sql_page.error]
    assert len(errors) == 1 and words.lower() in errors[0].lower(), errors


def test_sql_page_runs_a_query_and_offers_csv(sql_page: AppTest) -> None:
    sql_page.text_area(key="sql_text").input(
        "SELECT platform, count(*) AS posts FROM posts GROUP BY 1 ORDER BY 1"
    )
    sql_page.number_input(key="sql_rows").set_value(3)
    sql_page.button(key="sql_run").click().run()
    assert not sql_page.exception and not sql_page.error
    frames = [d.value for d in sql_page.dataframe if "posts" in d.value.columns]
    assert len(frames[0]) == 3
    assert any("row limit" in c.value for c in sql_page.caption)
    assert sql_page.get("download_button")


def test_schema_panel_shows_documented_tables(sql_page: AppTest) -> None:
    labels = [e.label for e in sql_page.expander]
    for name in ("posts", "posts_enriched", "post_labels", "post_facts", "write_marks"):
        assert any(f"`{name}`" in label for label in labels), name
    docs = [c.value for c in sql_page.caption]
    assert any("One row per post, reply, quote or repost" in d for d in docs)
