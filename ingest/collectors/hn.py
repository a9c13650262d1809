"""Hacker News through the Algolia search API (``search_by_date``), no credentials.

Each campaign query is one request over the window ``[since, until)``, fetched in time
slices of at most 1,000 hits (Algolia returns at most 1,000 hits per query): a slice with
``nbHits`` above that is split in halves, recursively, and only slices that fit are
stored. Slices are fetched oldest first, so the cursor ``{"until": T}`` (every story and
comment created before epoch second ``T`` is stored) only ever moves forward, one
completed slice at a time. The window ends a few minutes before now, so items still
being indexed are not skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from ingest.collectors.base import (
    Collector,
    CollectorError,
    Incomplete,
    MalformedPage,
    Page,
    RateLimited,
    Request,
    Transient,
    decode_cursor,
    encode_cursor,
    malformed_page,
    reset_from_headers,
)

if TYPE_CHECKING:
    from hypewatch.campaigns import Campaign
    from hypewatch.settings import Settings

log = logging.getLogger("hypewatch.collect")

HITS_PER_PAGE = 1000
INDEX_LAG_S = 300
"""Items younger than this may not be searchable yet: the window stops short of now."""


class HNCollector(Collector):
    name = "hn"
    format = "hn"

    def __init__(self, settings: Settings, *, http: httpx.Client | None = None, **kw: Any):
        super().__init__(settings, **kw)
        self.http = http or httpx.Client(
            timeout=settings.collect_http_timeout_s,
            headers={"User-Agent": settings.reddit_user_agent},
        )
        self.base_url = settings.hn_api_url.rstrip("/")

    def requests(self, campaign: Campaign) -> list[Request]:
        return [
            Request(
                self.name,
                q,
                f"HN Algolia GET {self.base_url}/search_by_date query={q!r} "
                "tags=(story,comment), sliced to <= 1000 hits per request",
            )
            for q in campaign.queries.hn
        ]

    def describe_cursor(self, cursor: str | None) -> str:
        done = decode_cursor(cursor).get("until")
        if not isinstance(done, int):
            return "start of window"
        return f"items before {datetime.fromtimestamp(done, tz=UTC):%Y-%m-%d %H:%M:%S} UTC done"

    def pages(
        self, request: Request, cursor: str | None, since: datetime, until: datetime
    ) -> Iterator[Page]:
        done = decode_cursor(cursor).get("until")
        lo = int(since.timestamp())
        if isinstance(done, int):
            lo = max(lo, done)
        hi = min(int(until.timestamp()), int(self.clock()) - INDEX_LAG_S)
        if lo >= hi:
            yield Page(self.format, None, cursor, requests=0)
            return
        stack = [(lo, hi)]
        fetched = malformed = 0
        while stack:
            if self.page_limit_reached(fetched):
                raise self.page_limit_error()
            start, end = stack.pop()
            fetched += 1
            try:
                body = self.call("hn search", self._search, request.query, start, end)
            except MalformedPage as exc:
                malformed += 1
                yield malformed_page(self.format, f"slice {start}..{end}", exc)
                continue
            hits = body.get("hits")
            total = body.get("nbHits")
            if isinstance(total, int) and total > HITS_PER_PAGE:
                if end - start > 1:
                    middle = (start + end) // 2
                    stack += [(middle, end), (start, middle)]  # older half first
                    yield Page(self.format, None, None)  # count the request, store nothing
                    continue
                log.warning(
                    "hn %r: %d hits in the one second %d; only %d kept",
                    request.query,
                    total,
                    start,
                    len(hits) if isinstance(hits, list) else 0,
                )
            # After a malformed slice the cursor stays put, so the next run retries it.
            next_cursor = None if malformed else encode_cursor({"until": end})
            yield Page(self.format, body, next_cursor)
        if malformed:
            raise Incomplete(
                f"{malformed} malformed page(s) rejected; the cursor stays before the first "
                "one, so the next run fetches it again"
            )

    def _search(self, query: str, start: int, end: int) -> dict:
        params = {
            "query": query,
            "tags": "(story,comment)",
            "numericFilters": f"created_at_i>={start},created_at_i<{end}",
            "hitsPerPage": HITS_PER_PAGE,
        }
        response = self.http.get(f"{self.base_url}/search_by_date", params=params)
        if response.status_code == 429:
            reset = reset_from_headers(response.headers, self.clock())
            raise RateLimited("HN Algolia rate limit (429)", reset)
        if response.status_code >= 500:
            raise Transient(f"HN Algolia server error {response.status_code}")
        if response.status_code >= 400:
            raise CollectorError(
                f"HN Algolia refused the request ({response.status_code}): {response.text[:300]}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise MalformedPage(f"response is not JSON ({exc})", response.text) from None
        if not isinstance(body, dict):
            raise MalformedPage("response is not a JSON object", response.text)
        return body

    def classify(self, exc: Exception) -> CollectorError | None:
        if isinstance(exc, httpx.TimeoutException):
            return Transient(f"HN Algolia timeout: {type(exc).__name__}")
        if isinstance(exc, httpx.TransportError):
            return Transient(f"HN Algolia connection error: {exc}")
        return None

    def close(self) -> None:
        self.http.close()
