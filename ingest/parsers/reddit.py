"""Reddit JSON API: listings of submissions (``t3``) and comments (``t1``).

Accepted payloads: a listing ``{"kind": "Listing", "data": {"children": [...]}}``, an
array of listings (the comments endpoint: the submission, then its comment tree) and a
single thing ``{"kind": "t3" | "t1", "data": {...}}``. Nested ``replies`` listings are
walked; ``more`` stubs (comments not loaded) are skipped silently; other kinds
(subreddits, users, messages) are rejects.

A submission's text is its title, then a blank line and its selftext when it has one; a
comment's text is its body (markdown, as Reddit returns it). Reddit reports no language.
A comment's raw payload leaves out its ``replies`` (each reply is stored on its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.model import Author, ParseResult, Post, post_id
from ingest.parsers._common import (
    BadRecord,
    Collector,
    as_dict,
    to_id,
    to_int,
    to_str,
    to_time,
    type_name,
)

FORMAT = "reddit"
PLATFORM = "reddit"
_SITE = "https://www.reddit.com"
_NO_AUTHOR = ("[deleted]", "[removed]")


def parse(payload: Any, mapping: Mapping[str, str] | None = None) -> ParseResult:
    """Parse one Reddit payload (see the module docstring); never raises."""
    out = Collector(FORMAT)
    stack = list(reversed(payload)) if isinstance(payload, list) else [payload]
    while stack:
        thing = stack.pop()
        kind = thing.get("kind") if isinstance(thing, dict) else None
        if kind == "Listing":
            children = as_dict(thing.get("data")).get("children")
            if not isinstance(children, list):
                out.reject("listing has no children array", thing)
                continue
            stack.extend(reversed(children))
        elif kind in ("t3", "t1"):
            replies = _thing(thing, out)
            if replies is not None:
                stack.append(replies)
        elif kind == "more":
            continue
        elif isinstance(kind, str):
            out.reject(f"child kind {kind!r} is not a submission or comment", thing)
        else:
            out.reject(f"payload is {_describe(thing)}, not a Listing or a t1/t3 thing", thing)
    return out.result


def _thing(thing: dict, out: Collector) -> dict | None:
    """Keep one submission or comment; return its nested replies listing, if any."""
    data = thing.get("data")
    try:
        if not isinstance(data, dict):
            raise BadRecord(f"{thing['kind']} thing has no data object")
        post = _submission(data) if thing["kind"] == "t3" else _comment(data)
    except BadRecord as exc:
        out.reject(str(exc), thing)
        return None
    replies = data.get("replies")
    raw = thing
    if isinstance(replies, dict):
        raw = {"kind": thing["kind"], "data": {**data, "replies": ""}}
    author = _author(data.get("author"))
    out.author(author)
    out.post(post, raw)
    return replies if isinstance(replies, dict) else None


def _native_id(data: dict, prefix: str) -> str:
    """The thing's fullname (``t3_abc``), from ``name`` or from ``id``."""
    name = to_str(data.get("name"))
    if name is not None:
        return name
    short_id = to_id(data.get("id"))
    if short_id is None:
        raise BadRecord(f"{prefix} thing has no id or name")
    return f"{prefix}_{short_id}"


def _base(data: dict, native_id: str, text: str) -> Post:
    created_at = to_time(data.get("created_utc"))
    if created_at is None:
        raise BadRecord(f"{native_id} has no created_utc")
    author = to_str(data.get("author"))
    return Post(
        post_id=post_id(PLATFORM, native_id),
        platform=PLATFORM,
        native_id=native_id,
        created_at=created_at,
        text=text,
        author_id=post_id(PLATFORM, author) if author and author not in _NO_AUTHOR else None,
        likes=to_int(data.get("score")),
    )


def _submission(data: dict) -> Post:
    native_id = _native_id(data, "t3")
    title, selftext = data.get("title"), data.get("selftext")
    if not isinstance(title, str):
        raise BadRecord(f"submission {native_id} has no title")
    text = f"{title}\n\n{selftext}" if isinstance(selftext, str) and selftext else title
    post = _base(data, native_id, text)
    permalink = to_str(data.get("permalink"))
    post.url = _SITE + permalink if permalink else f"{_SITE}/comments/{native_id[3:]}/"
    post.conversation_id = post.post_id
    post.replies = to_int(data.get("num_comments"))
    parent = to_str(data.get("crosspost_parent"))
    post.repost_of_id = post_id(PLATFORM, parent) if parent else None
    return post


def _comment(data: dict) -> Post:
    native_id = _native_id(data, "t1")
    body = data.get("body")
    if not isinstance(body, str):
        raise BadRecord(f"comment {native_id} has no body")
    post = _base(data, native_id, body)
    parent, link = to_str(data.get("parent_id")), to_str(data.get("link_id"))
    post.reply_to_id = post_id(PLATFORM, parent) if parent else None
    post.conversation_id = post_id(PLATFORM, link) if link else None
    permalink = to_str(data.get("permalink"))
    if permalink:
        post.url = _SITE + permalink
    elif link:  # old comments have no permalink; this short form redirects to it
        post.url = f"{_SITE}/comments/{link[3:]}/_/{native_id[3:]}/"
    return post


def _author(name: Any) -> Author | None:
    name = to_str(name)
    if name is None or name in _NO_AUTHOR:
        return None
    return Author(author_id=post_id(PLATFORM, name), platform=PLATFORM, native_id=name, handle=name)


def _describe(value: Any) -> str:
    return "an object without a kind" if isinstance(value, dict) else type_name(value)
