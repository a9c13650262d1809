"""Alert delivery: fired alerts POSTed to a Slack-compatible incoming webhook.

Three steps, so that no warehouse connection is held while the network is used:

1. :func:`claim_alerts` claims the ``pending`` and ``failed`` alerts (oldest first) that
   have had fewer than ``max_attempts`` POSTs: they are marked ``unconfirmed`` until step 3
   records what happened, so a run that cannot record it never sends them twice;
2. :func:`send_alerts` POSTs them (up to :data:`PER_MESSAGE` per message) as
   ``{"text": ...}`` with httpx in a worker thread that the caller waits on for at most
   ``budget_s`` seconds: a few attempts with exponential backoff on 5xx, 429 and errors
   before anything was sent (tenacity). Each request gets ``min(timeout_s, time left)``
   and no attempt or backoff wait starts that cannot end before the deadline, so nothing
   is sent after the budget;
3. :func:`record_delivery` writes each batch's outcome back to ``alerts`` and adds its
   POSTs to ``delivery_attempts``.

Outcomes: ``sent`` (+ ``delivered_at``); ``failed`` (5xx, 429, no connection: retried by
the next run until ``max_attempts`` POSTs); ``rejected`` (a 4xx other than 429, e.g. a
revoked hook's 404: never retried); ``unconfirmed`` (the request went out but no answer
came in time: the webhook may have posted it, so it is NOT sent again automatically, which
would post it twice); ``pending`` (not started within the budget: the next run sends it).
:func:`deliver_alerts` does the three steps on one connection.

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
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from warehouse.db import transaction
from warehouse.writes import mark_write, utcnow

log = logging.getLogger(__name__)

PER_MESSAGE = 20
"""Alerts per webhook message (one message per batch, one status per batch)."""
MAX_PER_RUN = 200
"""Alerts a run tries to deliver; the rest wait for the next run."""
MAX_ATTEMPTS = 10
"""Default cap on an alert's POSTs over all runs (``alert_webhook_max_attempts``)."""
MIN_ATTEMPT_S = 0.05
"""An attempt is not started with less time than this left before the deadline."""
REDACTED = "<webhook>"
_HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2")
"""Loggers whose records are redacted while sending (a filter does not reach child loggers)."""


@dataclass
class DeliveryReport:
    """What a delivery did, in alerts."""

    sent: int = 0
    failed: int = 0
    pending: int = 0
    rejected: int = 0
    unconfirmed: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """``3 sent, 1 failed, ...`` (zero counts after ``sent`` left out)."""
        parts = [f"{self.sent} sent"]
        for name, label in (
            ("failed", "failed"),
            ("rejected", "rejected (not retried)"),
            ("unconfirmed", "unconfirmed (no answer in time; not resent)"),
            ("pending", "still pending"),
        ):
            if getattr(self, name):
                parts.append(f"{getattr(self, name)} {label}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Outcome:
    """One message's end: ``sent``, ``failed``, ``rejected``, ``unconfirmed`` or
    ``pending``; ``attempts`` is the POSTs made for it in this run."""

    status: str
    error: str | None
    attempts: int


@dataclass
class Delivery:
    """The batches :func:`send_alerts` was given and the outcome of each."""

    batches: list[list[tuple[str, str]]]
    outcomes: list[Outcome]
    seconds: float = 0.0


class _Retryable(Exception):
    """Nothing was delivered and a later attempt may succeed (5xx, 429, no connection)."""


class _Rejected(Exception):
    """The webhook refused the message (4xx other than 429): retrying will not help."""


class _Unconfirmed(Exception):
    """The request went out but no answer came: the message may have been posted."""


class _BadURL(Exception):
    """The URL cannot be requested (a setting to fix): nothing was sent, retried next run."""


class _NoTime(Exception):
    """Too little of the budget left to start an attempt: nothing was sent."""


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
    timeout_s: float,
    tried: list[int] | None = None,
) -> None:
    """POST one message, retrying transient failures until ``attempts`` or ``deadline``
    (``time.monotonic()``); raises ``_Retryable``, ``_Rejected``, ``_Unconfirmed``,
    ``_BadURL`` or ``_NoTime`` with a URL-free text. Each request gets ``min(timeout_s,
    time left)``; no attempt, and no wait before one, starts that cannot end by the
    deadline. ``tried[0]`` counts the POSTs."""

    def once() -> None:
        left = deadline - time.monotonic()
        if left < MIN_ATTEMPT_S:
            raise _NoTime("no time left in the budget")
        if tried is not None:
            tried[0] += 1
        try:
            response = client.post(url, json=body, timeout=httpx.Timeout(min(timeout_s, left)))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # nothing reached the webhook: safe to send again
            raise _Retryable(_clean(f"{type(exc).__name__}: {exc}", url)) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            if tried is not None:
                tried[0] -= 1  # nothing was sent: not an attempt on the alert
            raise _BadURL(_clean(f"bad webhook URL: {exc}", url)) from None
        except httpx.TimeoutException:
            raise _Unconfirmed("timed out waiting for the answer") from None
        except httpx.HTTPError as exc:
            raise _Unconfirmed(_clean(f"{type(exc).__name__}: {exc}", url)) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _Rejected(f"HTTP {response.status_code}: {_clean(response.text[:120], url)}")

    def no_time_for_next(state: Any) -> bool:
        # tenacity computes the wait before asking to stop: stop when the wait plus a
        # minimal attempt would end past the deadline
        return time.monotonic() + state.upcoming_sleep + MIN_ATTEMPT_S >= deadline

    for attempt in Retrying(
        stop=stop_after_attempt(max(1, attempts)) | no_time_for_next,
        wait=wait_exponential(multiplier=0.25, max=2.0),
        retry=retry_if_exception_type(_Retryable),
        reraise=True,
    ):
        with attempt:
            once()


SENDING = "sending: no outcome recorded"
"""``delivery_error`` of claimed alerts until their outcome is recorded (see
:func:`claim_alerts`)."""


def claim_alerts(
    con: duckdb.DuckDBPyConnection, *, max_attempts: int = MAX_ATTEMPTS
) -> list[tuple[str, str]]:
    """Claim the alerts to send: ``(alert_id, message)`` of the ``pending`` ones, and the
    ``failed`` ones with fewer than ``max_attempts`` POSTs so far; oldest first, at most
    :data:`MAX_PER_RUN`.

    They are marked ``unconfirmed`` (error :data:`SENDING`) in the same transaction,
    before anything is sent: if the outcome can never be recorded (the warehouse is
    locked, the process dies mid-way) they stay ``unconfirmed`` and are not sent again,
    as for an unanswered POST, instead of being posted twice.
    :func:`record_delivery` writes every claimed alert's real outcome.
    """
    with transaction(con):
        rows = con.execute(
            "SELECT alert_id, message FROM alerts WHERE delivery_status IN ('pending', 'failed') "
            "AND delivery_attempts < ? ORDER BY fired_at, bucket_start, alert_id LIMIT ?",
            [max_attempts, MAX_PER_RUN],
        ).fetchall()
        if rows:
            con.execute(
                "UPDATE alerts SET delivery_status = 'unconfirmed', delivery_error = ? "
                "WHERE list_contains(?, alert_id)",
                [SENDING, [alert for alert, _ in rows]],
            )
    return rows


def send_alerts(
    url: SecretStr | str,
    rows: Sequence[tuple[str, str]],
    *,
    timeout_s: float = 3.0,
    attempts: int = 3,
    budget_s: float = 5.0,
) -> Delivery:
    """POST ``rows`` (from :func:`claim_alerts`) within about ``budget_s`` seconds; no
    warehouse connection is needed (or should be held) meanwhile."""
    secret = url.get_secret_value() if isinstance(url, SecretStr) else url
    start = time.monotonic()
    deadline = start + budget_s
    batches = [list(rows[i : i + PER_MESSAGE]) for i in range(0, len(rows), PER_MESSAGE)]
    outcomes: dict[int, Outcome] = {}
    tries = [[0] for _ in batches]  # POSTs per batch, counted by the worker
    current: list[int | None] = [None]  # the batch being sent
    lock = threading.Lock()

    def work() -> None:
        redact = _Redact(secret)
        loggers = [logging.getLogger(n) for n in _HTTP_LOGGERS]
        for logger in loggers:
            logger.addFilter(redact)
        try:
            with httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False) as client:
                for i, batch in enumerate(batches):
                    if deadline - time.monotonic() < MIN_ATTEMPT_S:
                        return
                    with lock:
                        current[0] = i
                    try:
                        post_message(
                            client, secret, payload([m for _, m in batch]), attempts=attempts,
                            deadline=deadline, timeout_s=timeout_s, tried=tries[i],
                        )  # fmt: skip
                        outcome = Outcome("sent", None, tries[i][0])
                    except (_Retryable, _BadURL) as exc:
                        outcome = Outcome("failed", str(exc), tries[i][0])
                    except _NoTime:
                        outcome = Outcome("pending", None, tries[i][0])
                    except _Rejected as exc:
                        outcome = Outcome("rejected", str(exc), tries[i][0])
                    except _Unconfirmed as exc:
                        outcome = Outcome("unconfirmed", str(exc), tries[i][0])
                    except Exception as exc:  # never let delivery break the run
                        error = _clean(f"{type(exc).__name__}: {exc}", secret)
                        outcome = Outcome("failed", error, tries[i][0])
                    with lock:
                        outcomes[i] = outcome
                        current[0] = None
        finally:
            for logger in loggers:
                logger.removeFilter(redact)

    worker = threading.Thread(target=work, name="hypewatch-webhook", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    with lock:  # what the worker does from now on is not looked at
        done = dict(outcomes)
        in_flight = current[0]
        made = [t[0] for t in tries]
    result = []
    for i in range(len(batches)):
        if i in done:
            result.append(done[i])
        elif i == in_flight and made[i]:
            # a POST of this batch may still be under way: it may arrive, never resend it
            result.append(Outcome("unconfirmed", "no answer within the budget", made[i]))
        else:
            result.append(Outcome("pending", None, made[i]))
    return Delivery(batches, result, time.monotonic() - start)


def record_delivery(con: duckdb.DuckDBPyConnection, delivery: Delivery) -> DeliveryReport:
    """Write each batch's outcome back to ``alerts`` (one transaction), over the claim of
    :func:`claim_alerts` (batches not reached go back to ``pending``); logs a summary."""
    report = DeliveryReport(seconds=delivery.seconds)
    now = utcnow()
    updates = []
    for batch, outcome in zip(delivery.batches, delivery.outcomes, strict=True):
        ids = [alert for alert, _ in batch]
        setattr(report, outcome.status, getattr(report, outcome.status) + len(ids))
        at = now if outcome.status == "sent" else None
        updates.append((outcome.status, at, outcome.error, outcome.attempts, ids))
    if updates:
        with transaction(con):
            for status, at, error, attempts, ids in updates:
                con.execute(
                    "UPDATE alerts SET delivery_status = ?, delivered_at = ?, "
                    "delivery_error = ?, delivery_attempts = delivery_attempts + ? "
                    "WHERE list_contains(?, alert_id)",
                    [status, at, error, attempts, ids],
                )
            mark_write(con, "alerts", sum(len(u[4]) for u in updates))
    errors = sorted({o.error for o in delivery.outcomes if o.error and o.status != "sent"})
    if report.failed or report.rejected or report.unconfirmed:
        log.warning("webhook: alerts not delivered: %s (%s)", report.summary(), "; ".join(errors))
    elif report.pending:
        log.warning("webhook: %s; the pending ones are sent next run", report.summary())
    elif report.sent:
        log.info("webhook: %d alerts sent", report.sent)
    return report


def deliver_alerts(
    con: duckdb.DuckDBPyConnection,
    url: SecretStr | str | None,
    *,
    timeout_s: float = 3.0,
    attempts: int = 3,
    budget_s: float = 5.0,
    max_attempts: int = MAX_ATTEMPTS,
) -> DeliveryReport | None:
    """Read, send and record on one connection (held while sending: long-running callers
    use the three steps and close it meanwhile). ``None`` without a URL.

    Returns within about ``budget_s`` seconds whatever the webhook does.
    """
    if url is None:
        return None
    secret = url.get_secret_value() if isinstance(url, SecretStr) else url
    if not secret:
        return None
    rows = claim_alerts(con, max_attempts=max_attempts)
    if not rows:
        return DeliveryReport()
    delivery = send_alerts(secret, rows, timeout_s=timeout_s, attempts=attempts, budget_s=budget_s)
    return record_delivery(con, delivery)
