"""Mastodon REST API statuses.

Accepted payloads: one status, a list of statuses (timelines), a search result
``{"statuses": [...]}`` and a context ``{"ancestors": [...], "descendants": [...]}``.

Ids: a post is its global ``uri`` and an author the account ``url``; the numeric ``id``
is local to the instance that served the payload. Consequences, kept simple on purpose:

- ``reply_to_id`` is always ``None``: ``in_reply_to_id`` is an instance-local id and the
  parent's uri is not in the status. The raw payload keeps ``in_reply_to_id`` and
  ``in_reply_to_account_id`` for a later resolution against the same instance.
- ``conversation_id`` is the status's own uri when it is not a reply, else ``None``.

A boost (``reblog``) is a post with empty text and ``repost_of_id`` = the boosted
status's uri; the boosted status is a post too. A quote (Mastodon 4.5 ``quote`` with a
``quoted_status``) sets ``quote_of_id``. Text is the content HTML as plain text, after
the content warning (``spoiler_text``) when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.model import Author, ParseResult, Post, post_id
from ingest.parsers._common import (
    BadRecord,
    Collector,
    as_dict,
    as_list,
    html_to_text,
    to_int,
    to_str,
    to_time,
    type_name,
    unique,
)

FORMAT = "mastodon"
PLATFORM = "mastodon"


def parse(payload: Any, mapping: Mapping[str, str] | None = None) -> ParseResult:
    """Parse one Mastodon payload (see the module docstring); never raises."""
    out = Collector(FORMAT)
    if isinstance(payload, list):
        statuses = payload
    elif not isinstance(payload, dict):
        out.reject(f"payload is {type_name(payload)}, not a status or a list of statuses", payload)
        return out.result
    elif "statuses" in payload:
        statuses = as_list(payload["statuses"])
    elif "ancestors" in payload or "descendants" in payload:
        statuses = as_list(payload.get("ancestors")) + as_list(payload.get("descendants"))
    elif "uri" in payload or "content" in payload:
        statuses = [payload]
    else:
        out.reject("payload is not a status, a list of statuses, a search or a context", payload)
        return out.result
    for status in statuses:
        _status(status, out)
    return out.result


def _status(status: Any, out: Collector) -> None:
    try:
        post = _post(status)
        reblog = status.get("reblog")
        boosted = _post(reblog) if isinstance(reblog, dict) else None
    except BadRecord as exc:
        out.reject(str(exc), status)
        return
    if boosted is not None:
        post.repost_of_id = boosted.post_id
    out.author(_author(status.get("account")))
    out.post(post, status)
    if boosted is not None:
        out.author(_author(reblog.get("account")))
        out.post(boosted, reblog)


def _post(status: Any) -> Post:
    if not isinstance(status, dict):
        raise BadRecord(f"status is {type_name(status)}, not an object")
    uri = to_str(status.get("uri"))
    if uri is None:
        raise BadRecord(f"status {to_str(status.get('id')) or '(no id)'} has no uri")
    created_at = to_time(status.get("created_at"))
    if created_at is None:
        raise BadRecord(f"status {uri} has no created_at")
    content = status.get("content")
    # Statuses returned by DELETE carry the source "text" instead of "content".
    text = html_to_text(content) if isinstance(content, str) else status.get("text")
    if not isinstance(text, str):
        raise BadRecord(f"status {uri} has no content")
    warning = status.get("spoiler_text")
    if isinstance(warning, str) and warning:
        text = f"{warning}\n\n{text}" if text else warning

    account_url = to_str(as_dict(status.get("account")).get("url"))
    quoted = _quoted_uri(status.get("quote"))
    is_reply = status.get("in_reply_to_id") is not None
    return Post(
        post_id=post_id(PLATFORM, uri),
        platform=PLATFORM,
        native_id=uri,
        created_at=created_at,
        text=text,
        author_id=post_id(PLATFORM, account_url) if account_url else None,
        lang=to_str(status.get("language")),
        url=to_str(status.get("url")) or uri,
        quote_of_id=post_id(PLATFORM, quoted) if quoted else None,
        conversation_id=None if is_reply else post_id(PLATFORM, uri),
        hashtags=unique(
            [name for t in as_list(status.get("tags")) if (name := to_str(as_dict(t).get("name")))]
        ),
        likes=to_int(status.get("favourites_count")),
        reposts=to_int(status.get("reblogs_count")),
        replies=to_int(status.get("replies_count")),
        quotes=to_int(status.get("quotes_count")),
    )


def _quoted_uri(quote: Any) -> str | None:
    """The quoted status's uri from a ``quote`` (``{"state", "quoted_status"}``)."""
    quote = as_dict(quote)
    return to_str(as_dict(quote.get("quoted_status", quote)).get("uri"))


def _author(account: Any) -> Author | None:
    account = as_dict(account)
    url = to_str(account.get("url"))
    if url is None:
        return None
    return Author(
        author_id=post_id(PLATFORM, url),
        platform=PLATFORM,
        native_id=url,
        handle=to_str(account.get("acct")) or to_str(account.get("username")),
        display_name=to_str(account.get("display_name")),
        followers=to_int(account.get("followers_count")),
        following=to_int(account.get("following_count")),
        post_count=to_int(account.get("statuses_count")),
        created_at=to_time(account.get("created_at")),
    )
