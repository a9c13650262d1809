"""Alert delivery: fired alerts POSTed to a Slack-compatible incoming webhook.

``deliver_alerts`` sends every ``pending`` or ``failed`` alert (oldest first, up to
:data:`PER_MESSAGE` per message) as ``{"text": ...}`` with httpx: short timeouts, a few
attempts with exponential backoff on 5xx, 429 and network errors (tenacity), all inside a
worker thread that the caller waits on for at most ``alert_webhook_budget_s`` seconds, so
a slow or dead webhook never holds the pipeline longer than that. The outcome is written
back to ``alerts`` (``sent`` + ``delivered_at``, or ``failed`` + ``delivery_error``);
messages not finished within the budget stay ``pending``, and the next run retries them
and the failed ones.

The URL is a secret (``HYPEWATCH_ALERT_WEBHOOK_URL``, a ``SecretStr``): it is never
stored, logged or put in an error; httpx's own request log lines are redacted while
sending.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import httpx
from pydantic import SecretStr
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from warehouse.writes import mark_write, utcnow

log = logging.getLogger(__name__)

PER_MESSAGE = 20
"""Alerts per webhook message (one message per batch, one status per batch)."""
MAX_PER_RUN = 200
"""Alerts a run tries to deliver; the rest wait for the next run."""
REDACTED = "<webhook>"
_HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2")
"""Loggers whose records are redacted while sending (a filter does not reach child loggers)."""


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    pending: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [f"{self.sent} sent"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.pending:
            parts.append(f"{self.pending} still pending")
        return ", ".join(parts)


class _Retryable(Exception):
    """A delivery attempt that may succeed later (5xx, 429, timeout, network error)."""


class _Rejected(Exception):
    """The webhook refused the message (4xx other than 429): retrying will not help."""


class _Redact(logging.Filter):
    """Replace the webhook URL in httpx's log records while a delivery runs."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.url in text:
            record.msg, record.args = text.replace(self.url, REDACTED), ()
        return True


def _clean(text: str, url: str) -> str:
    """An error text without the URL (nor its path, where the secret of Slack URLs is)."""
    text = text.replace(url, REDACTED)
    try:
        path = httpx.URL(url).raw_path.decode(errors="replace")
    except Exception:  # not a URL at all: the whole string was replaced above
        path = ""
    if len(path) > 1:
        text = text.replace(path, REDACTED)
    return text[:300]


def payload(messages: Sequence[str]) -> dict[str, Any]:
    """Slack-compatible body: one line per alert in ``text``."""
    if len(messages) == 1:
        return {"text": f":rotating_light: {messages[0]}"}
    lines = "\n".join(f"• {m}" for m in messages)
    return {"text": f":rotating_light: {len(messages)} hypewatch alerts\n{lines}"}


def post_message(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    *,
    attempts: int,
    deadline: float,
) -> None:
    """POST one message, retrying transient failures until ``attempts`` or ``deadline``
    (``time.monotonic()``); raises ``_Retryable`` or ``_Rejected`` with a URL-free text."""

    def once() -> None:
        try:
            response = client.post(url, json=body)
        except httpx.TimeoutException:
            raise _Retryable("timed out") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise _Rejected(_clean(f"bad webhook URL: {exc}", url)) from None
        except httpx.HTTPError as exc:
            raise _Retryable(_clean(f"{type(exc).__name__}: {exc}", url)) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _Rejected(f"HTTP {response.status_code}: {_clean(response.text[:120], url)}")

    for attempt in Retrying(
        stop=stop_after_attempt(max(1, attempts))
        | stop_after_delay(max(0.0, deadline - time.monotonic())),
        wait=wait_exponential(multiplier=0.25, max=2.0),
        retry=retry_if_exception_type(_Retryable),
        reraise=True,
    ):
        with attempt:
            once()


def _pending(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT alert_id, message FROM alerts WHERE delivery_status IN ('pending', 'failed') "
        "ORDER BY fired_at, bucket_start, alert_id LIMIT ?",
        [MAX_PER_RUN],
    ).fetchall()


def deliver_alerts(
    con: duckdb.DuckDBPyConnection,
    url: SecretStr | str | None,
    *,
    timeout_s: float = 3.0,
    attempts: int = 3,
    budget_s: float = 5.0,
) -> DeliveryReport | None:
    """Send the pending and failed alerts; write each outcome back. ``None`` without a URL.

    Returns within about ``budget_s`` seconds whatever the webhook does.
    """
    if url is None:
        return None
    secret = url.get_secret_value() if isinstance(url, SecretStr) else url
    if not secret:
        return None
    rows = _pending(con)
    if not rows:
        return DeliveryReport()
    start = time.monotonic()
    deadline = start + budget_s
    batches = [rows[i : i + PER_MESSAGE] for i in range(0, len(rows), PER_MESSAGE)]
    outcomes: dict[int, tuple[str, str | None]] = {}  # batch -> (status, error)
    lock = threading.Lock()

    def work() -> None:
        redact = _Redact(secret)
        loggers = [logging.getLogger(n) for n in _HTTP_LOGGERS]
        for logger in loggers:
            logger.addFilter(redact)
        try:
            timeout = httpx.Timeout(timeout_s)
            with httpx.Client(timeout=timeout, follow_redirects=False) as client:
                for i, batch in enumerate(batches):
                    if time.monotonic() >= deadline:
                        return
                    try:
                        post_message(
                            client, secret, payload([m for _, m in batch]),
                            attempts=attempts, deadline=deadline,
                        )  # fmt: skip
                        outcome: tuple[str, str | None] = ("sent", None)
                    except (_Retryable, _Rejected) as exc:
                        outcome = ("failed", str(exc))
                    except Exception as exc:  # never let delivery break the run
                        outcome = ("failed", _clean(f"{type(exc).__name__}: {exc}", secret))
                    with lock:
                        outcomes[i] = outcome
        finally:
            for logger in loggers:
                logger.removeFilter(redact)

    worker = threading.Thread(target=work, name="hypewatch-webhook", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    with lock:
        done = dict(outcomes)
    report = _write_back(con, batches, done)
    report.seconds = time.monotonic() - start
    if report.failed:
        errors = {e for s, e in done.values() if s == "failed"}
        log.warning("webhook: %d alerts not delivered (%s)", report.failed, "; ".join(errors))
    if report.pending:
        log.warning(
            "webhook: %d alerts not sent within %.0f s, retried next run", report.pending, budget_s
        )
    if report.sent:
        log.info("webhook: %d alerts sent", report.sent)
    return report


def _write_back(
    con: duckdb.DuckDBPyConnection,
    batches: list[list[tuple[str, str]]],
    done: dict[int, tuple[str, str | None]],
) -> DeliveryReport:
    report = DeliveryReport()
    now = utcnow()
    updates = []
    for i, batch in enumerate(batches):
        ids = [alert for alert, _ in batch]
        if i not in done:
            report.pending += len(ids)
            continue
        status, error = done[i]
        if status == "sent":
            report.sent += len(ids)
            updates.append(("sent", now, None, ids))
        else:
            report.failed += len(ids)
            updates.append(("failed", None, error, ids))
    if not updates:
        return report
    con.execute("BEGIN TRANSACTION")
    try:
        for status, at, error, ids in updates:
            con.execute(
                "UPDATE alerts SET delivery_status = ?, delivered_at = ?, delivery_error = ? "
                "WHERE list_contains(?, alert_id)",
                [status, at, error, ids],
            )
        mark_write(con, "alerts", sum(len(u[3]) for u in updates))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report
