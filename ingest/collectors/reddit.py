"""Reddit through PRAW (a "script" app, read-only): subreddit search and ``new``, plus the
comment tree of each submission found.

Native JSON: PRAW's models are built from Reddit's JSON, but turning them back into JSON
loses fields and shapes. The collector therefore uses ``Reddit.request`` (PRAW's public
raw call: OAuth, user agent and Reddit's rate-limit pacing handled by PRAW/prawcore, no
objects built), which returns the Listing JSON exactly as Reddit sent it; that is what
the ``reddit`` parser reads. prawcore's own retries are switched off so the one retry
policy of the collectors applies.

Requests per campaign: for each subreddit, one search per campaign query
(``/r/SUB/search?restrict_sr=1&sort=new``) and one ``/r/SUB/new``; without subreddits,
a site-wide ``/search`` per query.

Cursor: listings are newest first and paged with ``after``. A pass walks back until it
meets the newest submission of the previous pass (``mark``: its ``created_utc`` and
fullname) or ``since``. Mid-pass the cursor is ``{"mark", "after", "newest"}``; once the
pass is done ``newest`` (the newest submission of the pass) becomes ``mark``. The comment
trees of a listing page are stored before the page that moves the cursor, so a killed
run never skips them. Listings stop at about 1,000 items: older ones cannot be reached.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import praw
import prawcore
from prawcore.sessions import RetryStrategy

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

PAGE_SIZE = 100
COMMENT_LIMIT = 500


class _NoRetry(RetryStrategy):
    """prawcore retry strategy that never retries (the collectors' policy does)."""

    def _sleep_seconds(self) -> float | None:
        return None

    def consume_available_retry(self) -> _NoRetry:
        return self

    def should_retry_on_failure(self) -> bool:
        return False


def _children(listing: Any) -> list[dict] | None:
    if not isinstance(listing, dict) or listing.get("kind") != "Listing":
        return None
    children = (listing.get("data") or {}).get("children")
    return children if isinstance(children, list) else None


def _created(child: Any) -> float | None:
    data = child.get("data") if isinstance(child, dict) else None
    value = data.get("created_utc") if isinstance(data, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class RedditCollector(Collector):
    name = "reddit"
    format = "reddit"
    required_env = ("HYPEWATCH_REDDIT_CLIENT_ID", "HYPEWATCH_REDDIT_CLIENT_SECRET")

    def __init__(self, settings: Settings, *, reddit: praw.Reddit | None = None, **kw: Any):
        super().__init__(settings, **kw)
        self._reddit = reddit
        register_secret(secret_value(settings.reddit_client_secret))

    @property
    def reddit(self) -> praw.Reddit:
        if self._reddit is None:
            s = self.settings
            self._reddit = praw.Reddit(
                client_id=s.reddit_client_id,
                client_secret=secret_value(s.reddit_client_secret),
                user_agent=s.reddit_user_agent,
                reddit_url=s.reddit_url,
                oauth_url=s.reddit_oauth_url,
                check_for_updates=False,
                check_for_async=False,
                requestor_kwargs={"timeout": s.collect_http_timeout_s},
            )
        for core in (self._reddit._core, self._reddit._read_only_core):
            if core is not None and hasattr(core, "_retry_strategy_class"):
                core._retry_strategy_class = _NoRetry
        return self._reddit

    def requests(self, campaign: Campaign) -> list[Request]:
        queries, subs = campaign.queries.reddit, campaign.queries.reddit_subreddits
        out = []
        for sub in subs:
            sub = sub.removeprefix("r/")
            for q in queries:
                params = {"q": q, "restrict_sr": "1", "sort": "new", "t": "all"}
                out.append(self._request(f"r/{sub} search {q}", f"/r/{sub}/search", params))
            out.append(self._request(f"r/{sub} new", f"/r/{sub}/new", {}))
        if not subs:
            for q in queries:
                params = {"q": q, "sort": "new", "t": "all"}
                out.append(self._request(f"search {q}", "/search", params))
        return out

    def _request(self, query: str, path: str, params: dict[str, str]) -> Request:
        comments = " + comment trees" if self.settings.reddit_comments else ""
        shown = "&".join(f"{k}={v}" for k, v in params.items())
        describe = f"Reddit GET {path}{'?' + shown if shown else ''}{comments}"
        return Request(self.name, query, describe, {"path": path, "params": params})

    def describe_cursor(self, cursor: str | None) -> str:
        state = decode_cursor(cursor)
        mark = state.get("mark")
        done = "start of window"
        if isinstance(mark, list) and len(mark) == 2:
            when = datetime.fromtimestamp(mark[0], tz=UTC)
            done = f"newest done {when:%Y-%m-%d %H:%M:%S} UTC ({mark[1]})"
        return f"mid-pass after {state['after']}; {done}" if state.get("after") else done

    def pages(
        self, request: Request, cursor: str | None, since: datetime, until: datetime
    ) -> Iterator[Page]:
        state = decode_cursor(cursor)
        mark = state.get("mark") if isinstance(state.get("mark"), list) else None
        after = state.get("after")
        newest = state.get("newest") if after else None
        floor = max(since.timestamp(), mark[0] if mark else float("-inf"))
        ceiling = until.timestamp()
        fetched = 0
        while True:
            if self.page_limit_reached(fetched):
                raise self.page_limit_error()
            fetched += 1
            params = {**request.params["params"], "limit": PAGE_SIZE, "raw_json": 1}
            if after:
                params["after"] = after
            try:
                listing = self.call(
                    f"reddit {request.query}", self._get, request.params["path"], params
                )
            except MalformedPage as exc:
                yield malformed_page(self.format, request.query, exc)
                raise Incomplete(
                    f"malformed page rejected: {exc}; the next run retries from the stored cursor"
                ) from None
            children = _children(listing)
            if children is None:
                yield Page(self.format, listing, None)  # the parser rejects it
                raise Incomplete("Reddit answered with something that is not a Listing")
            keep = [c for c in children if floor <= (_created(c) or 0) < ceiling]
            for child in keep:
                created, name = _created(child), child["data"].get("name")
                if newest is None or (created, str(name)) > tuple(newest):
                    newest = [created, name]
            reached = any((_created(c) or 0) < floor for c in children)
            after = listing["data"].get("after")
            yield from self._comment_trees(keep)
            done = reached or not after or not children
            if done:
                next_state = {"mark": newest or mark}
            else:
                next_state = {"mark": mark, "after": after, "newest": newest}
            page = {**listing, "data": {**listing["data"], "children": keep}}
            yield Page(self.format, page, encode_cursor(next_state))
            if done:
                return

    def _comment_trees(self, submissions: list[dict]) -> Iterator[Page]:
        """The comment tree of each submission with comments (cursor left unchanged)."""
        if not self.settings.reddit_comments:
            return
        for child in submissions:
            data = child.get("data") or {}
            if child.get("kind") != "t3" or not data.get("num_comments") or not data.get("id"):
                continue
            path = f"/comments/{data['id']}"
            params = {"limit": COMMENT_LIMIT, "sort": "new", "raw_json": 1}
            try:
                tree = self.call(f"reddit comments {data['id']}", self._get, path, params)
            except MalformedPage as exc:
                yield malformed_page(self.format, path, exc)
                continue
            yield Page(self.format, tree, None)

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        return self.reddit.request(method="GET", path=path, params=params)

    def classify(self, exc: Exception) -> CollectorError | None:
        if isinstance(exc, prawcore.TooManyRequests):
            reset = reset_from_headers(exc.response.headers, self.clock())
            return RateLimited("Reddit rate limit (429)", reset)
        if isinstance(exc, prawcore.BadJSON):
            return MalformedPage("response is not JSON", exc.response.text)
        if isinstance(exc, prawcore.ServerError):
            return Transient(f"Reddit server error {exc.response.status_code}")
        if isinstance(exc, prawcore.RequestException):  # timeouts, connection errors
            return Transient(f"Reddit request failed: {exc.original_exception!r}")
        if isinstance(exc, prawcore.OAuthException | prawcore.InvalidToken):
            return SourceStopped(self._credentials_refused(exc))
        if isinstance(exc, prawcore.ResponseException):
            status = exc.response.status_code
            url = exc.response.url or ""
            if "access_token" in url or status == 401:
                return SourceStopped(self._credentials_refused(exc))
            if status in (500, 502, 503, 504, 520, 522):
                return Transient(f"Reddit server error {status}")
            if isinstance(exc, prawcore.Redirect | prawcore.NotFound):
                return CollectorError("Reddit: no such subreddit (or it was renamed)")
            if isinstance(exc, prawcore.Forbidden):
                return CollectorError(
                    "Reddit: the subreddit is private, quarantined or banned (403)"
                )
            return CollectorError(f"Reddit error {status}: {exc}")
        return None

    @staticmethod
    def _credentials_refused(exc: Exception) -> str:
        return (
            f"Reddit refused the app credentials ({exc}): check HYPEWATCH_REDDIT_CLIENT_ID and "
            "HYPEWATCH_REDDIT_CLIENT_SECRET (a 'script' app from reddit.com/prefs/apps)"
        )
