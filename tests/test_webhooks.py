"""Alert webhook: Slack-compatible POSTs to a local HTTP server, retried, bounded in time,
statuses written back, and the URL (a secret) nowhere in logs or the warehouse."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from hypewatch.webhooks import deliver_alerts
from warehouse.db import connect

SECRET_PATH = "/services/T000/B000/s3cr3tT0k3n"


class Hook:
    """A local webhook: answers with the next status of ``script`` (then the last one),
    optionally after ``delay_s``; records the bodies it received."""

    def __init__(self, script: list[int], delay_s: float = 0.0) -> None:
        self.script, self.delay_s, self.bodies = list(script), delay_s, []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                if hook.delay_s:
                    time.sleep(hook.delay_s)
                status = hook.script.pop(0) if len(hook.script) > 1 else hook.script[0]
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b"ok" if status == 200 else b"no")
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}{SECRET_PATH}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory() -> Iterator:
    hooks: list[Hook] = []

    def make(script: list[int], delay_s: float = 0.0) -> Hook:
        hooks.append(Hook(script, delay_s))
        return hooks[-1]

    yield make
    for hook in hooks:
        hook.close()


def warehouse(n: int = 2, status: str = "pending") -> duckdb.DuckDBPyConnection:
    con = connect(":memory:")
    for i in range(n):
        con.execute(
            "INSERT INTO alerts (alert_id, campaign, rule, bucket_start, grain, value, threshold, "
            "posts, message, fired_at, delivery_status) VALUES "
            "(?, 'c', 'negative_share', ?, 'day', 0.5, 0.45, 100, ?, ?, ?)",
            [f"c|negative_share|2025-03-2{i}", datetime(2025, 3, 20 + i), f"alert {i}",
             datetime(2025, 4, 1), status],
        )  # fmt: skip
    return con


def statuses(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT delivery_status, delivered_at IS NOT NULL, delivery_error FROM alerts "
        "ORDER BY alert_id"
    ).fetchall()


def test_success_posts_one_slack_message_and_marks_sent(hook_factory) -> None:
    hook = hook_factory([200])
    con = warehouse(2)
    report = deliver_alerts(con, SecretStr(hook.url))
    assert (report.sent, report.failed, report.pending) == (2, 0, 0)
    assert statuses(con) == [("sent", True, None)] * 2
    assert len(hook.bodies) == 1
    text = hook.bodies[0]["text"]
    assert "2 hypewatch alerts" in text and "alert 0" in text and "alert 1" in text
    assert deliver_alerts(con, SecretStr(hook.url)).sent == 0  # nothing left to send
    assert len(hook.bodies) == 1


def test_a_500_is_retried_then_sent(hook_factory) -> None:
    hook = hook_factory([500, 503, 200])
    con = warehouse(1)
    report = deliver_alerts(con, hook.url, attempts=3, budget_s=10)
    assert report.sent == 1 and len(hook.bodies) == 3
    assert statuses(con) == [("sent", True, None)]


def test_always_failing_is_failed_and_retried_on_the_next_run(hook_factory) -> None:
    hook = hook_factory([500])
    con = warehouse(1)
    report = deliver_alerts(con, hook.url, attempts=2, budget_s=10)
    assert (report.sent, report.failed) == (0, 1) and len(hook.bodies) == 2
    assert statuses(con) == [("failed", False, "HTTP 500")]
    hook.script = [200]
    assert deliver_alerts(con, hook.url).sent == 1  # the next run retries failed ones
    assert statuses(con) == [("sent", True, None)]


def test_a_4xx_is_not_retried(hook_factory) -> None:
    hook = hook_factory([404])
    con = warehouse(1)
    assert deliver_alerts(con, hook.url, attempts=3).failed == 1
    assert len(hook.bodies) == 1 and statuses(con)[0][0] == "failed"
    assert statuses(con)[0][2].startswith("HTTP 404")


def test_a_slow_server_never_holds_the_run_past_the_budget(hook_factory) -> None:
    """The server answers after 30 s; the run gives up after its 1 s budget (a bound on
    behaviour, far from the server's delay, not a speed goal)."""
    hook = hook_factory([200], delay_s=30.0)
    con = warehouse(1)
    start = time.monotonic()
    report = deliver_alerts(con, hook.url, timeout_s=0.3, attempts=2, budget_s=1.0)
    elapsed = time.monotonic() - start
    assert elapsed < 10.0, elapsed
    assert report.sent == 0 and report.failed + report.pending == 1
    assert statuses(con)[0][0] in ("pending", "failed")


def test_unreachable_webhook_fails_cleanly() -> None:
    con = warehouse(1)
    url = f"http://127.0.0.1:9{SECRET_PATH}"  # port 9 (discard): connection refused
    report = deliver_alerts(con, url, timeout_s=0.5, attempts=2, budget_s=3.0)
    assert report.failed == 1
    status, _, error = statuses(con)[0]
    assert status == "failed" and "Connect" in error and SECRET_PATH not in error


def test_no_url_sends_nothing() -> None:
    con = warehouse(1)
    assert deliver_alerts(con, None) is None
    assert statuses(con) == [("pending", False, None)]


def test_failing_webhook_does_not_fail_the_trends_run(
    tmp_path: Path, hook_factory, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """End to end: `hypewatch trends` fires alerts, the webhook answers 500: the run
    succeeds, the alerts are stored `failed`, the URL is in no log line and no table."""
    from hypewatch.cli import app
    from hypewatch.pipeline import build_demo
    from hypewatch.settings import get_settings
    from tests.test_alerts import CAMPAIGN, label_with_truth, launch

    hook = hook_factory([500])
    monkeypatch.setenv("HYPEWATCH_ALERT_WEBHOOK_URL", hook.url)
    monkeypatch.setenv("HYPEWATCH_ALERT_WEBHOOK_ATTEMPTS", "2")
    get_settings.cache_clear()
    db = tmp_path / "w.duckdb"
    con = connect(db)
    build_demo(con, launch(), size=3000, seed=42)
    label_with_truth(con)
    con.close()
    caplog.set_level(logging.DEBUG)
    try:
        result = CliRunner().invoke(app, ["trends", "--campaign", CAMPAIGN, "--db", str(db)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "alert webhook: 0 sent" in result.stdout and "failed" in result.stdout
    assert hook.bodies  # it was tried
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT DISTINCT delivery_status, delivery_error FROM alerts").fetchall()
    assert rows == [("failed", "HTTP 500")]
    dump = tmp_path / "dump"
    con.execute(f"EXPORT DATABASE '{dump}' (FORMAT csv)")
    con.close()
    everything = "".join(p.read_text(errors="replace") for p in dump.iterdir())
    for text in (everything, caplog.text, result.output):
        assert SECRET_PATH not in text and "s3cr3t" not in text


def test_a_malformed_url_fails_at_once_without_echoing_it() -> None:
    con = warehouse(1)
    report = deliver_alerts(con, "hooks.example.com/s3cr3t", attempts=3, budget_s=3.0)
    assert report.failed == 1
    status, _, error = statuses(con)[0]
    assert status == "failed" and error.startswith("bad webhook URL") and "s3cr3t" not in error
