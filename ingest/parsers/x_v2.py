"""X (Twitter) API v2: response pages as twarc2 writes them, or bare tweet objects.

A page is ``{"data": [tweet, ...] | tweet, "includes": {"users": [...], "tweets": [...]},
"meta": {...}, "errors": [...]}``. Tweets in ``data`` and ``includes.tweets`` (the
retweeted, quoted and replied-to tweets) all become posts; ``includes.users`` become
authors. The raw payload of a post is a mini page ``{"data": [tweet], "includes":
{"users": [its author]}}``, so it re-parses alone, url included.

Pages without tweets: ``meta.result_count == 0`` (and any page with nothing in it) is a
valid empty page; an error-only page (``{"errors": [...]}``), an API problem object
(``{"title", "detail", "type"}``) and a tweet-counts page are one reject each. Partial
errors next to ``data`` (a deleted referenced tweet...) are ignored.

A tweet without ``created_at`` (requested with default fields only) gets its time from
its snowflake id, which encodes the creation time to the millisecond. A long tweet's
text is its ``note_tweet`` text; ``lang`` "und" (undetermined) is ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ingest.model import Author, ParseResult, Post, post_id
from ingest.parsers._common import (
    BadRecord,
    Collector,
    as_dict,
    as_list,
    to_id,
    to_int,
    to_str,
    to_time,
    type_name,
    unique,
)

FORMAT = "x-v2"
PLATFORM = "x"
_PREFIX = post_id(PLATFORM, "")

_REFERENCE_FIELDS = {
    "replied_to": "reply_to_id",
    "quoted": "quote_of_id",
    "retweeted": "repost_of_id",
}
_TWITTER_EPOCH_MS = 1288834974657
_FIRST_SNOWFLAKE = 29_700_000_000  # ids below this (before Nov 2010) carry no timestamp


def parse(payload: Any, mapping: Mapping[str, str] | None = None) -> ParseResult:
    """Parse one X API v2 page (or a list of pages, or a bare tweet); never raises."""
    out = Collector(FORMAT)
    if isinstance(payload, list):
        for item in payload:
            if isinstance(item, dict):
                _parse_page(item, out)
            else:
                out.reject(f"list item is {type_name(item)}, not a page or tweet", item)
    elif isinstance(payload, dict):
        _parse_page(payload, out)
    else:
        out.reject(f"payload is {type_name(payload)}, not a page or tweet", payload)
    return out.result


def _parse_page(page: dict, out: Collector) -> None:
    data = page.get("data")
    if data is None and "id" in page:  # a bare tweet
        _parse_tweets([page], {}, {}, out)
        return
    if data is None:
        if page.get("errors") or "title" in page:
            out.reject(f"API error: {_error_summary(page)}", page)
        elif not ("meta" in page or "includes" in page):
            out.reject("payload has no data, meta or errors: not an X API v2 page", page)
    elif isinstance(data, dict):
        data = [data]
    elif not isinstance(data, list):
        out.reject(f"page data is {type_name(data)}, not a tweet or a list of tweets", page)
        return
    elif data and isinstance(data[0], dict) and "tweet_count" in data[0] and "id" not in data[0]:
        out.reject("page is a tweet-counts response, not tweets", page)
        return

    includes = as_dict(page.get("includes"))
    usernames: dict[str, str | None] = {}
    mini_includes: dict[str, dict] = {}  # author id -> "includes" of that author's mini pages
    for user in as_list(includes.get("users")):
        author = _author(user)
        if author is None:
            out.reject("included user has no id", user)
            continue
        usernames[author.native_id] = author.handle
        mini_includes[author.native_id] = {"users": [user]}
        out.author(author)
    _parse_tweets(data or (), usernames, mini_includes, out)
    _parse_tweets(as_list(includes.get("tweets")), usernames, mini_includes, out)


def _parse_tweets(
    tweets: Any, usernames: dict[str, str | None], mini_includes: dict[str, dict], out: Collector
) -> None:
    for tweet in tweets:
        try:
            post = _post(tweet, usernames)
        except BadRecord as exc:
            out.reject(str(exc), tweet)
            continue
        if out.has_post(post.post_id):
            continue
        mini_page: dict[str, Any] = {"data": [tweet]}
        author_includes = mini_includes.get(to_id(tweet.get("author_id")) or "")
        if author_includes is not None:
            mini_page["includes"] = author_includes
        out.post(post, mini_page)


def _post(tweet: Any, usernames: dict[str, str | None]) -> Post:
    if not isinstance(tweet, dict):
        raise BadRecord(f"tweet is {type_name(tweet)}, not an object")
    native_id = to_id(tweet.get("id"))
    if native_id is None:
        raise BadRecord("tweet has no id")
    # Long tweets (> 280 characters) carry their full text in note_tweet.
    text = as_dict(tweet.get("note_tweet")).get("text")
    if not isinstance(text, str):
        text = tweet.get("text")
        if not isinstance(text, str):
            raise BadRecord(f"tweet {native_id} has no text")
    created_at = to_time(tweet.get("created_at")) or _snowflake_time(native_id)
    if created_at is None:
        raise BadRecord(f"tweet {native_id} has no created_at")

    author = to_id(tweet.get("author_id"))
    username = usernames.get(author) if author else None
    lang = to_str(tweet.get("lang"))
    conversation = to_id(tweet.get("conversation_id"))
    metrics = as_dict(tweet.get("public_metrics"))
    post = Post(
        post_id=_PREFIX + native_id,  # post_id(PLATFORM, ...), inlined: hot
        platform=PLATFORM,
        native_id=native_id,
        created_at=created_at,
        text=text,
        author_id=_PREFIX + author if author else None,
        lang=None if lang == "und" else lang,
        url=f"https://x.com/{username or 'i'}/status/{native_id}",
        conversation_id=_PREFIX + conversation if conversation else None,
        hashtags=_hashtags(tweet),
        likes=to_int(metrics.get("like_count")),
        reposts=to_int(metrics.get("retweet_count")),
        replies=to_int(metrics.get("reply_count")),
        quotes=to_int(metrics.get("quote_count")),
        views=to_int(metrics.get("impression_count")),
    )
    references = tweet.get("referenced_tweets")
    if references:
        for ref in as_list(references):
            ref = as_dict(ref)
            ref_type, ref_id = ref.get("type"), to_id(ref.get("id"))
            field = _REFERENCE_FIELDS.get(ref_type) if isinstance(ref_type, str) else None
            if field and ref_id:
                setattr(post, field, _PREFIX + ref_id)
    return post


def _hashtags(tweet: dict) -> list[str]:
    entities = tweet.get("entities")
    if not isinstance(entities, dict):
        return []
    return unique(
        [tag for h in as_list(entities.get("hashtags")) if (tag := to_str(as_dict(h).get("tag")))]
    )


def _snowflake_time(native_id: str) -> datetime | None:
    """The creation time encoded in a snowflake tweet id (ids since November 2010)."""
    if not (native_id.isascii() and native_id.isdigit()):
        return None
    number = int(native_id)
    if not _FIRST_SNOWFLAKE <= number < 2**63:
        return None
    return datetime.fromtimestamp(((number >> 22) + _TWITTER_EPOCH_MS) / 1000, tz=UTC)


def _author(user: Any) -> Author | None:
    if not isinstance(user, dict):
        return None
    native_id = to_id(user.get("id"))
    if native_id is None:
        return None
    metrics = as_dict(user.get("public_metrics"))
    verified = user.get("verified")
    return Author(
        author_id=post_id(PLATFORM, native_id),
        platform=PLATFORM,
        native_id=native_id,
        handle=to_str(user.get("username")),
        display_name=to_str(user.get("name")),
        followers=to_int(metrics.get("followers_count")),
        following=to_int(metrics.get("following_count")),
        post_count=to_int(metrics.get("tweet_count")),
        verified=verified if isinstance(verified, bool) else None,
        created_at=to_time(user.get("created_at")),
    )


def _error_summary(page: dict) -> str:
    """``title: detail`` of the page's (first) error, e.g. a stream disconnect."""
    errors = page.get("errors")
    if isinstance(errors, list) and errors:
        first, more = as_dict(errors[0]), len(errors) - 1
    else:
        first, more = page, 0
    title = to_str(first.get("title")) or to_str(first.get("type")) or "unknown error"
    detail = to_str(first.get("detail")) or to_str(first.get("message"))
    summary = f"{title}: {detail}" if detail and detail != title else title
    return f"{summary} (and {more} more)" if more else summary
