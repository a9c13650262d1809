"""Bluesky: the Jetstream firehose filtered on campaign keywords (no credentials), plus
``app.bsky.feed.searchPosts`` through the atproto SDK when a handle and app password are
configured.

Jetstream (``wss://…/subscribe?wantedCollections=app.bsky.feed.post&cursor=<time_us>``)
sends commit events, not postViews. A ``create`` of an ``app.bsky.feed.post`` whose text
contains a campaign keyword (case-insensitive) becomes the postView-like JSON the
``bluesky`` parser reads: ``{"uri": "at://DID/app.bsky.feed.post/RKEY", "cid",
"author": {"did"}, "record", "indexedAt"}`` (no handle or counts: the firehose has none).
A run is bounded (``jetstream_max_events``, ``jetstream_max_seconds``, or the first event
at or after ``until``). Cursor ``{"time_us": T}``: the time of the last event read
(matching or not); the next run replays from ``T``. Jetstream keeps only a few days of
events: an older cursor starts at the oldest event it still has.

searchPosts (``sort=latest``, newest first, cursor paging): the same pass scheme as X.
Mid-pass the cursor is ``{"since", "cursor", "newest", "until"}``; once the pass is done
``newest`` (the newest post time of the pass) becomes ``since`` of the next one.
The raw JSON of each page comes from ``Client.invoke_query`` (no model conversion).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

from ingest.collectors.base import (
    MAX_REJECT_TEXT,
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
from ingest.collectors.redaction import redact, register_secret, secret_value
from ingest.model import Reject

if TYPE_CHECKING:
    from atproto import Client

    from hypewatch.campaigns import Campaign
    from hypewatch.settings import Settings

log = logging.getLogger("hypewatch.collect")

POST_COLLECTION = "app.bsky.feed.post"
FLUSH_POSTS = 200  # matching posts per stored page
FLUSH_EVENTS = 20_000  # events read per stored page (moves the cursor without matches)
SEARCH_PAGE_SIZE = 100


def _iso_us(time_us: int) -> str:
    when = datetime.fromtimestamp(time_us / 1_000_000, tz=UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jetstream_post(event: Any) -> dict | None:
    """A Jetstream ``app.bsky.feed.post`` create event -> postView-like JSON (else None)."""
    if not isinstance(event, dict) or event.get("kind") != "commit":
        return None
    commit = event.get("commit")
    if not isinstance(commit, dict):
        return None
    if commit.get("operation") != "create" or commit.get("collection") != POST_COLLECTION:
        return None
    did, rkey, record = event.get("did"), commit.get("rkey"), commit.get("record")
    time_us = event.get("time_us")
    if not (isinstance(did, str) and isinstance(rkey, str) and isinstance(record, dict)):
        return None
    view: dict[str, Any] = {
        "uri": f"at://{did}/{POST_COLLECTION}/{rkey}",
        "cid": commit.get("cid"),
        "author": {"did": did},
        "record": record,
    }
    if isinstance(time_us, int):
        view["indexedAt"] = _iso_us(time_us)
    return view


def matches(record: dict, keywords: list[str]) -> bool:
    """Whether the post text (or its tags) contains one of the lower-cased ``keywords``."""
    text = record.get("text")
    haystack = text.casefold() if isinstance(text, str) else ""
    tags = record.get("tags")
    if isinstance(tags, list):
        haystack += " " + " ".join(f"#{t}".casefold() for t in tags if isinstance(t, str))
    return any(k in haystack for k in keywords)


def _sort_time(view: Any) -> str | None:
    """searchPosts filters on ``sortAt``, the earlier of createdAt and indexedAt."""
    if not isinstance(view, dict):
        return None
    record = view.get("record") if isinstance(view.get("record"), dict) else {}
    times = [t for t in (record.get("createdAt"), view.get("indexedAt")) if isinstance(t, str)]
    parsed = []
    for value in times:
        try:
            parsed.append(datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC))
        except ValueError:
            continue
    return _iso(min(parsed)) if parsed else None


_PAST_UNTIL = object()


class _Batch:
    """Jetstream events read since the last stored page: matching posts, rejects, cursor."""

    def __init__(self, fmt: str, keywords: list[str]) -> None:
        self.format = fmt
        self.keywords = keywords
        self.posts: list[dict] = []
        self.rejects: list[Reject] = []
        self.last_us: int | None = None
        self.events = 0
        self.requests = 1  # the connection counts once, on the first page

    @property
    def full(self) -> bool:
        return len(self.posts) >= FLUSH_POSTS or self.events >= FLUSH_EVENTS

    def add(self, message: str | bytes, until_us: int) -> object | None:
        """Keep a matching post; ``_PAST_UNTIL`` when the event is at or after ``until``."""
        self.events += 1
        try:
            event = orjson.loads(message)
        except orjson.JSONDecodeError as exc:
            text = message if isinstance(message, str) else repr(message)
            reason = f"{self.format}: malformed Jetstream message ({exc})"
            self.rejects.append(Reject(self.format, reason, redact(text)[:MAX_REJECT_TEXT]))
            return None
        time_us = event.get("time_us") if isinstance(event, dict) else None
        if isinstance(time_us, int):
            if time_us >= until_us:
                return _PAST_UNTIL
            self.last_us = time_us
        view = jetstream_post(event)
        if view is not None and matches(view["record"], self.keywords):
            self.posts.append(view)
        return None

    def flush(self) -> Page:
        """The batch as a page (cursor: the last event read), then start a new batch."""
        cursor = encode_cursor({"time_us": self.last_us}) if self.last_us is not None else None
        page = Page(self.format, self.posts or None, cursor, self.requests, self.rejects)
        self.posts, self.rejects, self.events, self.requests = [], [], 0, 0
        return page


class BlueskyCollector(Collector):
    name = "bluesky"
    format = "bluesky"

    def __init__(self, settings: Settings, *, client: Client | None = None, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self.handle = settings.bluesky_handle
        self.password = secret_value(settings.bluesky_app_password)
        register_secret(self.password)
        self._client = client
        self._logged_in = client is not None
        self._last_response: httpx.Response | None = None

    @property
    def can_search(self) -> bool:
        return bool(self.handle and self.password) or self._logged_in

    def notes(self) -> list[str]:
        if self.can_search:
            return []
        return [
            "searchPosts skipped: set HYPEWATCH_BLUESKY_HANDLE and "
            "HYPEWATCH_BLUESKY_APP_PASSWORD to search too (Jetstream needs none)"
        ]

    @staticmethod
    def keywords(campaign: Campaign) -> list[str]:
        words = campaign.queries.keywords or campaign.queries.bluesky
        return sorted({w.casefold().strip() for w in words if w.strip()})

    def requests(self, campaign: Campaign) -> list[Request]:
        out = []
        words = self.keywords(campaign)
        if words:
            url = self._jetstream_url(None)
            out.append(
                Request(
                    self.name,
                    f"jetstream {campaign.name}",
                    f"Jetstream {url} (cursor=<time_us>), posts containing any of "
                    f"{len(words)} keywords: {', '.join(words)}",
                    {"kind": "jetstream", "keywords": words},
                )
            )
        if self.can_search:
            for term in campaign.queries.bluesky:
                out.append(
                    Request(
                        self.name,
                        f"search {term}",
                        f"Bluesky app.bsky.feed.searchPosts q={term!r} sort=latest "
                        f"(as {self.handle})",
                        {"kind": "search", "q": term},
                    )
                )
        return out

    def describe_cursor(self, cursor: str | None) -> str:
        state = decode_cursor(cursor)
        if isinstance(state.get("time_us"), int):
            return f"jetstream time_us {state['time_us']} ({_iso_us(state['time_us'])})"
        if state.get("cursor"):
            return f"mid-pass: cursor {state['cursor']} (then since {state.get('newest')})"
        if state.get("since"):
            return f"posts since {state['since']}"
        return "start of window"

    def pages(
        self, request: Request, cursor: str | None, since: datetime, until: datetime
    ) -> Iterator[Page]:
        if request.params.get("kind") == "jetstream":
            return self._jetstream(request.params["keywords"], cursor, since, until)
        return self._search(request.params["q"], cursor, since, until)

    # -- Jetstream

    def _jetstream_url(self, time_us: int | None) -> str:
        query = {"wantedCollections": POST_COLLECTION}
        if time_us is not None:
            query["cursor"] = str(time_us)
        return f"{self.settings.jetstream_url}?{urllib.parse.urlencode(query)}"

    def _jetstream(
        self, keywords: list[str], cursor: str | None, since: datetime, until: datetime
    ) -> Iterator[Page]:
        stored = decode_cursor(cursor).get("time_us")
        start_us = stored if isinstance(stored, int) else int(since.timestamp() * 1_000_000)
        until_us = int(until.timestamp() * 1_000_000)
        ws = self.call(
            "jetstream connect",
            connect,
            self._jetstream_url(start_us),
            open_timeout=self.settings.collect_http_timeout_s,
            close_timeout=2,
            max_size=2**22,
        )
        batch = _Batch(self.format, keywords)
        with ws:
            try:
                for message in self._messages(ws):
                    if batch.add(message, until_us) is _PAST_UNTIL:
                        break
                    if batch.full:
                        yield batch.flush()
            except ConnectionClosed as exc:
                yield batch.flush()
                raise Transient(f"Jetstream closed the connection: {exc}") from None
            yield batch.flush()

    def _messages(self, ws: Any) -> Iterator[str | bytes]:
        """Messages until ``jetstream_max_events`` or ``jetstream_max_seconds``."""
        deadline = self.clock() + self.settings.jetstream_max_seconds
        for _ in range(self.settings.jetstream_max_events):
            remaining = deadline - self.clock()
            if remaining <= 0:
                return
            try:
                yield ws.recv(timeout=remaining)
            except TimeoutError:
                return

    # -- searchPosts

    def _login(self) -> Client:
        # atproto is imported here: loading its models takes most of a second and the
        # Jetstream part does not need it.
        from atproto import Client
        from atproto_client.request import Request as AtRequest

        if self._client is None:
            client = Client(
                base_url=self.settings.bluesky_api_url,
                request=AtRequest(
                    timeout=self.settings.collect_http_timeout_s,
                    event_hooks={"response": [self._remember_response]},
                ),
            )
            client.on_session_change(self._remember_session)
            self._client = client
        if not self._logged_in:
            self.call(
                "bluesky login",
                lambda: self._client.login(self.handle, self.password, fetch_bsky_profile=False),
            )
            self._logged_in = True
        return self._client

    def _remember_response(self, response: httpx.Response) -> None:
        self._last_response = response

    @staticmethod
    def _remember_session(event: Any, session: Any) -> None:
        register_secret(getattr(session, "access_jwt", None))
        register_secret(getattr(session, "refresh_jwt", None))

    def _search(
        self, q: str, cursor: str | None, since: datetime, until: datetime
    ) -> Iterator[Page]:
        from atproto import models

        state = decode_cursor(cursor)
        mark = state.get("since")
        token = state.get("cursor")
        newest = state.get("newest") if token else None
        window_until = state.get("until") if token else None
        window_until = window_until or _iso(until)
        window_since = max(mark or "", _iso(since))  # both ISO UTC "...Z": comparable
        client = self._login()
        fetched = 0
        while True:
            if self.page_limit_reached(fetched):
                raise self.page_limit_error()
            fetched += 1
            params = models.AppBskyFeedSearchPosts.Params(
                q=q,
                limit=SEARCH_PAGE_SIZE,
                sort="latest",
                since=window_since,
                until=window_until,
                cursor=token,
            )
            try:
                body = self.call(f"bluesky search {q!r}", self._search_page, client, params)
            except MalformedPage as exc:
                yield malformed_page(self.format, f"searchPosts {q!r}", exc)
                raise Incomplete(
                    f"malformed page rejected: {exc}; the next run retries from the stored cursor"
                ) from None
            posts = body.get("posts") if isinstance(body.get("posts"), list) else []
            times = [t for t in map(_sort_time, posts) if t]
            newest = max([newest, *times], key=lambda t: t or "") if times else newest
            token = body.get("cursor") if posts else None
            if token:
                next_state = {
                    "since": mark,
                    "cursor": token,
                    "newest": newest,
                    "until": window_until,
                }
            else:
                next_state = {"since": max(newest or "", mark or "") or None}
            yield Page(self.format, body, encode_cursor(next_state))
            if not token:
                return

    def _search_page(self, client: Client, params: Any) -> dict:
        self._last_response = None
        try:
            response = client.invoke_query("app.bsky.feed.searchPosts", params=params)
        except ValueError as exc:  # the SDK could not decode the JSON body
            raise MalformedPage(f"response is not JSON ({exc})", self._last_text()) from None
        if not isinstance(response.content, dict):
            text = response.content.decode(errors="replace") if response.content else ""
            raise MalformedPage("searchPosts response is not a JSON object", text)
        return response.content

    def _last_text(self) -> str:
        try:
            return self._last_response.text if self._last_response is not None else ""
        except Exception:  # body not read: nothing to keep
            return ""

    def classify(self, exc: Exception) -> CollectorError | None:
        if type(exc).__module__.startswith("atproto"):
            return self._classify_atproto(exc)
        if isinstance(exc, InvalidURI):
            return CollectorError(f"HYPEWATCH_JETSTREAM_URL is not a websocket URL: {exc}")
        if isinstance(exc, InvalidHandshake | OSError | TimeoutError):
            return Transient(f"Jetstream connection failed: {exc}")
        return None

    def _classify_atproto(self, exc: Exception) -> CollectorError | None:
        from atproto_client import exceptions as at_exc

        if isinstance(exc, at_exc.RateLimitExceededError):
            headers = exc.response.headers if exc.response is not None else None
            return RateLimited(
                "Bluesky rate limit (429)", reset_from_headers(headers, self.clock())
            )
        if isinstance(exc, at_exc.UnauthorizedError):
            return SourceStopped(
                f"Bluesky refused the login or the session ({exc}): check "
                "HYPEWATCH_BLUESKY_HANDLE and HYPEWATCH_BLUESKY_APP_PASSWORD (an app password "
                "from Settings > Privacy and security > App passwords)"
            )
        if isinstance(exc, at_exc.NetworkError):  # transport errors, timeouts, 502
            return Transient(f"Bluesky network error: {exc or type(exc).__name__}")
        if isinstance(exc, at_exc.BadRequestError):
            return CollectorError(f"Bluesky rejected the request: {exc}")
        if isinstance(exc, at_exc.RequestException):
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500:
                return Transient(f"Bluesky server error: {exc}")
            return CollectorError(f"Bluesky error: {exc}")
        return None
