"""Mastodon hashtag timelines through Mastodon.py, one request per instance x hashtag.

Anonymous by default (most instances serve hashtag timelines without login); the access
token is sent only to the one instance it belongs to (``mastodon_token_instance``), never
to another server.

Native JSON: Mastodon.py turns responses into typed objects, so the collector keeps the
raw response with a ``requests`` response hook on the session it gives Mastodon.py, and
hands that JSON (the status list as the server sent it) to the ``mastodon`` parser.

Cursor ``{"min_id": ID}``: the timeline is walked forward in time with ``min_id`` (the
statuses right after ``ID``), each page's newest id becoming the next ``min_id``, so the
cursor only moves forward with each stored page. Without a cursor the walk starts at
``since``: Mastodon ids are snowflakes (milliseconds << 16), so a time is an id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

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
from ingest.collectors.redaction import register_secret, secret_value

if TYPE_CHECKING:
    from hypewatch.campaigns import Campaign
    from hypewatch.settings import Settings

log = logging.getLogger("hypewatch.collect")

PAGE_SIZE = 40  # the most a hashtag timeline returns per request


def snowflake_id(when: datetime) -> str:
    """The smallest Mastodon id minted at ``when`` (ids are milliseconds << 16)."""
    return str(int(when.timestamp() * 1000) << 16)


def id_time(status_id: str) -> datetime | None:
    try:
        return datetime.fromtimestamp((int(status_id) >> 16) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _instance(name: str) -> str:
    return name.removeprefix("https://").removeprefix("http://").strip("/").lower()


class MastodonCollector(Collector):
    name = "mastodon"
    format = "mastodon"

    def __init__(self, settings: Settings, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self.token = secret_value(settings.mastodon_access_token)
        register_secret(self.token)
        self.token_instance = _instance(settings.mastodon_token_instance or "")
        self._apis: dict[str, Mastodon] = {}
        self._last: requests.Response | None = None
        self._refused: dict[str, str] = {}  # instance -> why it cannot be read

    def requests(self, campaign: Campaign) -> list[Request]:
        out = []
        for instance in map(_instance, campaign.queries.mastodon_instances):
            auth = "with token" if self._uses_token(instance) else "anonymous"
            for tag in campaign.queries.mastodon_hashtags:
                tag = tag.lstrip("#")
                out.append(
                    Request(
                        self.name,
                        f"{instance} #{tag}",
                        f"Mastodon GET https://{instance}/api/v1/timelines/tag/{tag} ({auth})",
                        {"instance": instance, "tag": tag},
                    )
                )
        return out

    def describe_cursor(self, cursor: str | None) -> str:
        min_id = decode_cursor(cursor).get("min_id")
        if not min_id:
            return "start of window"
        when = id_time(min_id)
        return f"min_id {min_id}" + (f" ({when:%Y-%m-%d %H:%M} UTC)" if when else "")

    def _uses_token(self, instance: str) -> bool:
        return bool(self.token) and instance == self.token_instance

    def _api(self, instance: str) -> Mastodon:
        if instance not in self._apis:
            session = requests.Session()
            session.hooks["response"].append(self._remember)
            self._apis[instance] = Mastodon(
                access_token=self.token if self._uses_token(instance) else None,
                api_base_url=f"https://{instance}",
                ratelimit_method="throw",
                request_timeout=self.settings.collect_http_timeout_s,
                session=session,
                user_agent=self.settings.reddit_user_agent,
                version_check_mode="none",
            )
        return self._apis[instance]

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last = response

    def pages(
        self, request: Request, cursor: str | None, since: datetime, until: datetime
    ) -> Iterator[Page]:
        instance, tag = request.params["instance"], request.params["tag"]
        if instance in self._refused:
            raise CollectorError(self._refused[instance])
        api = self._api(instance)
        min_id = decode_cursor(cursor).get("min_id") or snowflake_id(since)
        max_id = snowflake_id(until)
        fetched = 0
        while True:
            if self.page_limit_reached(fetched):
                raise self.page_limit_error()
            fetched += 1
            try:
                statuses = self.call(
                    f"mastodon {instance} #{tag}",
                    self._timeline,
                    api,
                    tag,
                    min_id,
                    max_id,
                )
            except MalformedPage as exc:
                yield malformed_page(self.format, f"{instance} #{tag}", exc)
                raise Incomplete(
                    f"malformed page rejected: {exc}; the next run retries from the stored cursor"
                ) from None
            except CollectorError as exc:
                if isinstance(exc.__cause__, MastodonUnauthorizedError):
                    self._refused[instance] = str(exc)
                raise
            ids = [s.get("id") for s in statuses if isinstance(s, dict)]
            ids = [i for i in ids if isinstance(i, str) and i.isdigit()]
            if not ids:
                yield Page(self.format, statuses, encode_cursor({"min_id": min_id}))
                return
            min_id = max(ids, key=int)
            yield Page(self.format, statuses, encode_cursor({"min_id": min_id}))

    def _timeline(self, api: Mastodon, tag: str, min_id: str, max_id: str) -> list:
        self._last = None
        api.timeline_hashtag(tag, min_id=min_id, max_id=max_id, limit=PAGE_SIZE)
        response = self._last
        if response is None:
            raise CollectorError("Mastodon.py made no request")
        try:
            body = response.json()
        except ValueError as exc:
            raise MalformedPage(f"response is not JSON ({exc})", response.text) from None
        if not isinstance(body, list):
            raise MalformedPage("response is not a list of statuses", response.text)
        return body

    def classify(self, exc: Exception) -> CollectorError | None:
        response = self._last
        instance = response.url.split("/")[2] if response is not None else "instance"
        if isinstance(exc, MastodonRatelimitError):
            headers = response.headers if response is not None else None
            reset = reset_from_headers(headers, self.clock())
            return RateLimited(f"Mastodon rate limit (429) on {instance}", reset)
        if isinstance(exc, MastodonNetworkError):  # includes timeouts
            return Transient(f"Mastodon {instance}: network error: {exc}")
        if isinstance(exc, MastodonServerError):
            return Transient(f"Mastodon {instance}: server error {exc.args[1:3]}")
        if isinstance(exc, MastodonUnauthorizedError):
            return CollectorError(
                f"{instance} requires a login for hashtag timelines (401): set "
                f"HYPEWATCH_MASTODON_ACCESS_TOKEN and HYPEWATCH_MASTODON_TOKEN_INSTANCE={instance}"
            )
        if isinstance(exc, MastodonNotFoundError):
            return CollectorError(f"Mastodon {instance}: not found (404): {exc.args[1:4]}")
        if isinstance(exc, MastodonAPIError):
            if response is not None and response.ok:
                return MalformedPage("response is not JSON", response.text)
            return CollectorError(f"Mastodon {instance}: API error {exc.args[1:4]}")
        return None

    def close(self) -> None:
        for api in self._apis.values():
            api.session.close()
