"""X (Twitter) API v2 search through tweepy: recent search, or full-archive search (Pro).

Each campaign query is one request, paged with ``tweepy.Paginator`` (``max_results=100``,
author and referenced-tweet expansions). The client returns plain dicts
(``return_type=dict``), so each page handed to the ``x-v2`` parser is the native JSON.

Cursor (JSON in ``collection_runs.cursor_after``): search returns newest first, so a
pass over a query walks back from the newest tweet to ``since_id``. The newest id of the
pass (``newest_id``, from its first page) may only become the next ``since_id`` once the
whole pass is stored. Mid-pass the cursor is ``{"since_id": S, "next_token": T,
"newest_id": N, "start_time", "end_time"}``: a killed run resumes at ``T`` with the same
parameters; when the pass ends the cursor becomes ``{"since_id": N}``. Tweets posted
during a pass are newer than ``N`` and come with the next pass: nothing is lost and, the
warehouse being idempotent, nothing is stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
import tweepy

from ingest.collectors.base import (
    Collector,
    CollectorError,
    Incomplete,
    MalformedPage,
    Page,
    RateLimited,
    Request,
    SourceStopped,
    Transient,
    decode_cursor,
    encode_cursor,
    malformed_page,
    reset_from_headers,
)
from ingest.collectors.redaction import register_secret, secret_value

if TYPE_CHECKING:
    from hypewatch.campaigns import Campaign
    from hypewatch.settings import Settings

log = logging.getLogger("hypewatch.collect")

DEFAULT_HOST = "https://api.twitter.com"
EXPANSIONS = ["author_id", "referenced_tweets.id"]
TWEET_FIELDS = [
    "created_at", "lang", "public_metrics", "conversation_id", "entities", "referenced_tweets",
    "author_id",
]  # fmt: skip
USER_FIELDS = ["username", "name", "public_metrics", "verified", "created_at"]
RECENT_WINDOW = timedelta(days=7)
END_MARGIN = timedelta(seconds=30)  # end_time must be at least 10 s before now
FULL_ARCHIVE_INTERVAL_S = 1.0  # full-archive search: at most one request per second
_TWITTER_EPOCH_MS = 1288834974657
_END = object()


class _ApiSession(requests.Session):
    """tweepy's session with a default timeout and a configurable API host (for tests)."""

    def __init__(self, host: str, timeout: float) -> None:
        super().__init__()
        self.host = host.rstrip("/")
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        url = str(url)
        if self.host != DEFAULT_HOST and url.startswith(DEFAULT_HOST):
            url = self.host + url[len(DEFAULT_HOST) :]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def snowflake_time(tweet_id: str) -> datetime | None:
    """When a tweet id (snowflake) was minted; ``None`` for non-snowflake ids."""
    try:
        number = int(tweet_id)
    except (TypeError, ValueError):
        return None
    if number < 2**22:
        return None
    return datetime.fromtimestamp(((number >> 22) + _TWITTER_EPOCH_MS) / 1000, tz=UTC)


def _newest(*ids: str | None) -> str | None:
    valid = [i for i in ids if i and str(i).isdigit()]
    return max(valid, key=int) if valid else None


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body(response: Any) -> dict:
    try:
        body = response.json()
    except Exception:
        return {}
    return body if isinstance(body, dict) else {}


class XCollector(Collector):
    name = "x"
    format = "x-v2"
    required_env = ("HYPEWATCH_X_BEARER_TOKEN",)

    def __init__(self, settings: Settings, *, client: tweepy.Client | None = None, **kw: Any):
        super().__init__(settings, **kw)
        token = secret_value(settings.x_bearer_token) or ""
        register_secret(token)
        self.full_archive = settings.x_full_archive
        self.client = client or tweepy.Client(bearer_token=token, return_type=dict)
        self.client.session = _ApiSession(settings.x_api_url, settings.collect_http_timeout_s)
        self._last_request_at: float | None = None

    @property
    def endpoint(self) -> str:
        return "full-archive" if self.full_archive else "recent"

    def requests(self, campaign: Campaign) -> list[Request]:
        path = "/2/tweets/search/all" if self.full_archive else "/2/tweets/search/recent"
        return [
            Request(self.name, q, f"X {self.endpoint} search GET {path} query={q!r}")
            for q in campaign.queries.x
        ]

    def describe_cursor(self, cursor: str | None) -> str:
        state = decode_cursor(cursor)
        if state.get("next_token"):
            token, then = state["next_token"], state.get("newest_id")
            return f"mid-pass: next_token {token} (then since_id {then})"
        if state.get("since_id"):
            return f"since_id {state['since_id']}"
        return "start of window"

    # -- fetching

    def _window(
        self, state: dict, since: datetime, until: datetime
    ) -> tuple[dict[str, Any], str | None] | None:
        """Search parameters of a new pass and its since_id; ``None``: nothing to fetch."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        end = min(until, now - END_MARGIN)
        start = since
        since_id = state.get("since_id")
        if not self.full_archive:
            oldest = now - RECENT_WINDOW + timedelta(minutes=1)
            start = max(start, oldest)
            minted = snowflake_time(since_id) if since_id else None
            if minted is not None and minted < oldest:
                log.info(
                    "since_id %s is older than recent search reaches: using start_time", since_id
                )
                since_id = None
        minted = snowflake_time(since_id) if since_id else None
        if end <= start or (minted is not None and minted >= end):
            return None
        params: dict[str, Any] = {"end_time": _iso(end)}
        if since_id:
            params["since_id"] = since_id
        else:
            params["start_time"] = _iso(start)
        return params, since_id

    def pages(
        self, request: Request, cursor: str | None, since: datetime, until: datetime
    ) -> Iterator[Page]:
        state = decode_cursor(cursor)
        mark = state.get("since_id")
        if state.get("next_token"):
            window = {k: state[k] for k in ("start_time", "end_time", "since_id") if state.get(k)}
            token, pending = state["next_token"], state.get("newest_id")
        else:
            planned = self._window(state, since, until)
            if planned is None:
                yield Page(self.format, None, cursor, requests=0)
                return
            window, mark = planned
            token, pending = None, None
        try:
            yield from self._pass(request.query, window, mark, token, pending)
        except CollectorError as exc:
            if token is None or "400" not in str(exc):
                raise
            # A stored next_token the API no longer accepts: restart the pass from since_id.
            log.warning(
                "x %r: stored next_token refused (%s); restarting the pass", request.query, exc
            )
            planned = self._window({"since_id": mark}, since, until)
            if planned is not None:
                yield from self._pass(request.query, planned[0], planned[1], None, pending)

    def _pass(
        self,
        query: str,
        window: dict[str, Any],
        mark: str | None,
        token: str | None,
        pending: str | None,
    ) -> Iterator[Page]:
        method = (
            self.client.search_all_tweets if self.full_archive else self.client.search_recent_tweets
        )
        paginator = tweepy.Paginator(
            method,
            query=query,
            max_results=100,
            expansions=EXPANSIONS,
            tweet_fields=TWEET_FIELDS,
            user_fields=USER_FIELDS,
            pagination_token=token,
            **window,
        )
        pages = iter(paginator)
        fetched = 0
        while True:
            if self.page_limit_reached(fetched):
                raise self.page_limit_error()
            try:
                body = self.call(f"x {self.endpoint} search", lambda: self._next(pages))
            except MalformedPage as exc:
                yield malformed_page(self.format, f"X search {query!r}", exc)
                raise Incomplete(
                    f"malformed page rejected: {exc}; the next run retries from the stored cursor"
                ) from None
            if body is _END:
                return
            fetched += 1
            meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
            pending = _newest(pending, meta.get("newest_id"))
            next_token = meta.get("next_token")
            if next_token:
                state = {**window, "since_id": mark, "next_token": next_token, "newest_id": pending}
            else:
                state = {"since_id": _newest(pending, mark)}
            yield Page(self.format, body, encode_cursor(state))
            if not next_token:
                return

    def _next(self, pages: Iterator[Any]) -> Any:
        if self.full_archive:
            self._pace()
        try:
            return next(pages, _END)
        finally:
            self._last_request_at = self.clock()

    def _pace(self) -> None:
        """Full-archive search allows one request per second."""
        if self._last_request_at is None:
            return
        wait = FULL_ARCHIVE_INTERVAL_S - (self.clock() - self._last_request_at)
        if wait > 0:
            self.sleep(wait)

    # -- errors

    def classify(self, exc: Exception) -> CollectorError | None:
        if isinstance(exc, requests.exceptions.JSONDecodeError):
            return MalformedPage(f"response is not JSON ({exc.msg})", exc.doc)
        if isinstance(exc, tweepy.TooManyRequests):
            body = _body(exc.response)
            if body.get("title") == "UsageCapExceeded" or "usage-capped" in str(body.get("type")):
                period = body.get("period") or "Monthly"
                return SourceStopped(
                    f"X API usage cap reached (UsageCapExceeded, {period} cap of the "
                    f"{body.get('product_name') or 'current'} plan): no more posts can be read "
                    "until the cap resets; the stored cursors resume then"
                )
            reset = reset_from_headers(exc.response.headers, self.clock())
            return RateLimited(f"X API rate limit (429) on {self.endpoint} search", reset)
        if isinstance(exc, tweepy.Unauthorized):
            return SourceStopped(
                "X API refused the credentials (401 Unauthorized): check HYPEWATCH_X_BEARER_TOKEN"
            )
        if isinstance(exc, tweepy.Forbidden):
            return SourceStopped(self._forbidden(exc))
        if isinstance(exc, tweepy.TwitterServerError):
            return Transient(f"X API server error: {exc}")
        if isinstance(exc, tweepy.BadRequest):
            return CollectorError(f"X API rejected the request: {exc}")
        if isinstance(exc, tweepy.HTTPException):
            return CollectorError(f"X API error: {exc}")
        if isinstance(exc, requests.exceptions.Timeout):
            return Transient(f"X API timeout: {exc}")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return Transient(f"X API connection error: {exc}")
        return None

    def _forbidden(self, exc: tweepy.Forbidden) -> str:
        body = _body(exc.response)
        if body.get("reason") == "client-not-enrolled":
            return (
                "X API: this app is not enrolled for this endpoint (403 client-not-enrolled): "
                "use keys of an app attached to a Project with an access tier that includes "
                f"{self.endpoint} search (recent: Basic or higher; full-archive: Pro)"
            )
        if 453 in exc.api_codes:
            return (
                "X API: your access tier only covers a subset of endpoints (403, error 453): "
                f"{self.endpoint} search needs "
                + ("the Pro tier" if self.full_archive else "the Basic tier or higher")
            )
        detail = body.get("detail") or "; ".join(str(m) for m in exc.api_messages) or str(exc)
        return f"X API forbidden (403): {detail}"
