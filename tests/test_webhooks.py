"""Alert webhook: Slack-compatible POSTs to a local HTTP server, retried, bounded in time,
statuses written back, and the URL (a secret) nowhere in logs or the warehouse."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from pydantic import SecretStr

from hypewatch.webhooks import (
    SENDING,
    DeliveryReport,
    claim_alerts,
    deliver_alerts,
    record_delivery,
    send_alerts,
)
from warehouse.db import connect

SECRET_PATH = "/services/T000/B000/s3cr3tT0k3n"


class Hook:
    """A local webhook: answers with the next status of ``script`` (then the last one),
    optionally after ``delay_s``; records the bodies it received. ``on_post`` (if set) is
    called while each request is handled."""

    def __init__(self, script: list[int], delay_s: float = 0.0) -> None:
        self.script, self.delay_s, self.bodies = list(script), delay_s, []
        self.on_post: Callable[[], None] | None = None
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                if hook.on_post is not None:
                    hook.on_post()
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


def attempts_made(con: duckdb.DuckDBPyConnection) -> list[int]:
    rows = con.execute("SELECT delivery_attempts FROM alerts ORDER BY alert_id").fetchall()
    return [r[0] for r in rows]


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


def test_a_sent_alert_whose_outcome_cannot_be_recorded_is_never_sent_twice(hook_factory) -> None:
    """The POST succeeds but writing the outcome back fails (e.g. the warehouse is
    locked): the alerts stay claimed as ``unconfirmed``, and the next run skips them."""
    hook = hook_factory([200])
    con = warehouse(2)
    rows = claim_alerts(con)
    assert statuses(con) == [("unconfirmed", False, SENDING)] * 2  # claimed before sending
    delivery = send_alerts(hook.url, rows)
    assert [o.status for o in delivery.outcomes] == ["sent"] and len(hook.bodies) == 1
    # ... and the process dies here, before record_delivery
    assert deliver_alerts(con, hook.url).sent == 0 and len(hook.bodies) == 1
    assert statuses(con) == [("unconfirmed", False, SENDING)] * 2


def test_alerts_not_reached_within_the_budget_go_back_to_pending(hook_factory) -> None:
    hook = hook_factory([200])
    con = warehouse(1)
    rows = claim_alerts(con)
    record_delivery(con, send_alerts(hook.url, rows, budget_s=0.0))  # no time for any POST
    assert statuses(con) == [("pending", False, None)] and attempts_made(con) == [0]
    assert not hook.bodies
    assert deliver_alerts(con, hook.url).sent == 1  # the next run sends it


def test_a_4xx_is_rejected_and_never_retried(hook_factory) -> None:
    """A revoked hook (404) is POSTed once, not again in the run nor in the next runs."""
    hook = hook_factory([404])
    con = warehouse(1)
    assert deliver_alerts(con, hook.url, attempts=3).rejected == 1
    assert len(hook.bodies) == 1 and statuses(con)[0][0] == "rejected"
    assert statuses(con)[0][2].startswith("HTTP 404")
    assert deliver_alerts(con, hook.url, attempts=3) == DeliveryReport()  # nothing to send
    assert len(hook.bodies) == 1 and attempts_made(con) == [1]


def test_a_429_is_retried(hook_factory) -> None:
    hook = hook_factory([429, 200])
    con = warehouse(1)
    assert deliver_alerts(con, hook.url, attempts=3, budget_s=10).sent == 1
    assert len(hook.bodies) == 2 and attempts_made(con) == [2]


def test_failed_alerts_stop_after_max_attempts(hook_factory) -> None:
    """Always 500: 2 POSTs a run, at most 3 POSTs an alert: the third run sends nothing."""
    hook = hook_factory([500])
    con = warehouse(1)
    first = deliver_alerts(con, hook.url, attempts=2, budget_s=10, max_attempts=3)
    assert first.failed == 1 and attempts_made(con) == [2]
    second = deliver_alerts(con, hook.url, attempts=2, budget_s=10, max_attempts=3)
    assert second.failed == 1 and attempts_made(con) == [4]
    third = deliver_alerts(con, hook.url, attempts=2, budget_s=10, max_attempts=3)
    assert third == DeliveryReport() and len(hook.bodies) == 4
    assert statuses(con) == [("failed", False, "HTTP 500")]
    # a higher cap (the setting raised) retries it again
    hook.script = [200]
    assert deliver_alerts(con, hook.url, max_attempts=5).sent == 1 and attempts_made(con) == [5]


def test_an_answer_just_after_the_budget_is_not_sent_twice(hook_factory) -> None:
    """The webhook takes the message and answers 0.4 s after the 1 s budget (with a 3 s
    request timeout). Before, the run ended with the POST still under way, left the alert
    `pending`, and the next run posted it again. Now the request is cut at the deadline
    and the alert is `unconfirmed`: the next run does not send it again."""
    hook = hook_factory([200], delay_s=1.4)
    con = warehouse(1)
    report = deliver_alerts(con, hook.url, timeout_s=3.0, attempts=3, budget_s=1.0)
    assert report.unconfirmed == 1 and report.sent == 0
    time.sleep(1.0)  # the slow answer has come and gone
    assert len(hook.bodies) == 1  # nothing was sent after the budget
    hook.delay_s = 0.0
    again = deliver_alerts(con, hook.url, timeout_s=3.0, attempts=3, budget_s=1.0)
    assert again == DeliveryReport()
    assert len(hook.bodies) == 1  # one message in all, across the two runs
    assert statuses(con) == [("unconfirmed", False, statuses(con)[0][2])]
    assert attempts_made(con) == [1]


def test_no_retry_starts_that_cannot_end_within_the_budget(hook_factory) -> None:
    """A 500 after 0.6 s with a 1 s budget: the second attempt gets only the time left,
    so nothing reaches the webhook after the run ended."""
    hook = hook_factory([500], delay_s=0.6)
    con = warehouse(1)
    report = deliver_alerts(con, hook.url, timeout_s=3.0, attempts=5, budget_s=1.0)
    assert report.sent == 0
    seen = len(hook.bodies)
    time.sleep(2.5)  # an attempt or a backoff left running would post by now
    assert len(hook.bodies) == seen <= 2


def test_a_slow_server_never_holds_the_run_past_the_budget(hook_factory) -> None:
    """The server answers after 30 s; the run gives up after its 1 s budget (a bound on
    behaviour, far from the server's delay, not a speed goal)."""
    hook = hook_factory([200], delay_s=30.0)
    con = warehouse(1)
    start = time.monotonic()
    report = deliver_alerts(con, hook.url, timeout_s=0.3, attempts=2, budget_s=1.0)
    elapsed = time.monotonic() - start
    assert elapsed < 10.0, elapsed
    assert report.sent == 0 and report.unconfirmed == 1
    # the request went out and no answer came: it may have been posted, so it is neither
    # retried in the run nor sent again by the next one
    assert statuses(con)[0][0] == "unconfirmed" and len(hook.bodies) == 1


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
    tmp_path: Path, labelled_demo_copy: Path, hook_factory, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """End to end: `hypewatch trends` fires alerts, the webhook answers 500: the run
    succeeds, the alerts are stored `failed`, the URL is in no log line and no table."""
    from tests.test_alerts import trends_cli

    hook = hook_factory([500])
    monkeypatch.setenv("HYPEWATCH_ALERT_WEBHOOK_URL", hook.url)
    monkeypatch.setenv("HYPEWATCH_ALERT_WEBHOOK_ATTEMPTS", "2")
    db = labelled_demo_copy
    caplog.set_level(logging.DEBUG)
    result = trends_cli(db)
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
    assert attempts_made(con) == [0]  # nothing was sent: a fixed URL sends it next run


def test_the_trends_command_posts_with_the_warehouse_closed(
    labelled_demo_copy: Path, hook_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the webhook handles the POST, the warehouse can be opened read-only (the
    command closed its writer first); the outcome is written back after."""
    from tests.test_alerts import trends_cli

    db = labelled_demo_copy
    hook = hook_factory([200])
    opened: list[str] = []

    def read_warehouse() -> None:
        try:
            reader = duckdb.connect(str(db), read_only=True)
        except duckdb.Error as exc:
            opened.append(f"locked: {exc}")
            return
        opened.append(str(reader.execute("SELECT count(*) FROM alerts").fetchone()[0]))
        reader.close()

    hook.on_post = read_warehouse
    monkeypatch.setenv("HYPEWATCH_ALERT_WEBHOOK_URL", hook.url)
    result = trends_cli(db)
    assert result.exit_code == 0, result.output
    assert len(opened) == 1 and opened[0].isdigit(), opened
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT DISTINCT delivery_status, delivery_attempts FROM alerts").fetchall()
    con.close()
    assert rows == [("sent", 1)] and int(opened[0]) > 0
