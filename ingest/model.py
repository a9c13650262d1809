"""The one normalized post model every parser produces and the warehouse stores.

A parser turns one native payload (an X API v2 page, a Bluesky postView, a Mastodon
status, a Reddit listing, a Hacker News Algolia response, a generic JSONL/CSV row) into
a :class:`ParseResult`: normalized posts and authors, one self-contained raw payload per
post (so the post can be re-parsed later), and rejects for records that could not be
understood.

Native ids (the part after ``platform:``) per platform:

- ``x``: the tweet id (``"1394735776701816833"``); authors: the user id.
- ``bluesky``: the post's ``at://`` URI; authors: the DID.
- ``mastodon``: the status ``uri`` (global, unlike the instance-local ``id``); authors: the
  account ``url`` (global).
- ``reddit``: the fullname (``t3_abc`` for submissions, ``t1_xyz`` for comments); authors:
  the username (``u/`` is not prefixed).
- ``hn``: the Algolia ``objectID``; authors: the username.
- ``file``: whatever the column mapping names as id (generic JSONL/CSV), unless the mapping
  sets another platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PLATFORMS = ("x", "bluesky", "mastodon", "reddit", "hn", "file")


def post_id(platform: str, native_id: str) -> str:
    """The stable warehouse id of a post: ``platform:native_id``."""
    return f"{platform}:{native_id}"


def parse_time(value: Any) -> datetime:
    """Parse an ISO-8601 string or a UNIX epoch (seconds) into an aware UTC datetime.

    Raises ``ValueError`` naming the bad value, so the caller can reject the record.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str) and value:
        dt = datetime.fromisoformat(value)
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    raise ValueError(f"not a timestamp: {value!r}")


@dataclass(slots=True)
class Post:
    """One post, reply, quote or repost, normalized across platforms.

    Ids of other posts (``reply_to_id``, ``quote_of_id``, ``repost_of_id``,
    ``conversation_id``) are warehouse ids (``platform:native_id``), as is ``author_id``.
    Engagement counts are a snapshot at collection time; ``None`` means the platform
    did not report that count (not zero).
    """

    post_id: str
    platform: str
    native_id: str
    created_at: datetime  # aware, UTC
    text: str
    author_id: str | None = None
    lang: str | None = None
    url: str | None = None
    reply_to_id: str | None = None
    quote_of_id: str | None = None
    repost_of_id: str | None = None
    conversation_id: str | None = None
    hashtags: list[str] = field(default_factory=list)
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    views: int | None = None


@dataclass(slots=True)
class Author:
    """An account on one platform; ``author_id`` is ``platform:native_id``."""

    author_id: str
    platform: str
    native_id: str
    handle: str | None = None
    display_name: str | None = None
    followers: int | None = None
    following: int | None = None
    post_count: int | None = None
    verified: bool | None = None
    created_at: datetime | None = None


@dataclass(slots=True)
class RawPayload:
    """The native JSON a post came from, self-contained: the same parser re-parses it."""

    post_id: str
    format: str
    payload: Any  # a JSON-serializable value


@dataclass(slots=True)
class Reject:
    """A record that could not be parsed, with the reason and the offending payload."""

    format: str
    reason: str
    payload: Any  # the JSON value (or raw text) that was rejected


@dataclass(slots=True)
class ParseResult:
    posts: list[Post] = field(default_factory=list)
    authors: list[Author] = field(default_factory=list)
    raw: list[RawPayload] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    def extend(self, other: ParseResult) -> None:
        self.posts.extend(other.posts)
        self.authors.extend(other.authors)
        self.raw.extend(other.raw)
        self.rejects.extend(other.rejects)
