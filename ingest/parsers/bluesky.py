"""Bluesky (AT Protocol) app views: ``app.bsky.feed.defs#postView`` and its containers.

Accepted payloads:

- a postView ``{"uri", "cid", "author", "record", "likeCount", ...}``;
- ``{"posts": [postView, ...]}`` (searchPosts, getPosts) or a bare list of postViews;
- ``{"feed": [feedViewPost, ...]}`` (timelines, author feeds) and one feedViewPost
  ``{"post", "reply": {"parent", "root"}, "reason"}``; a ``reasonRepost`` that has its
  own ``uri`` becomes a repost post (empty text, ``repost_of_id`` = the post);
- ``{"thread": threadViewPost}`` (getPostThread) or a bare threadViewPost, walking its
  ``parent`` and ``replies``;
- repo records ``{"uri", "cid", "value": post record}`` and ``{"records": [...]}``
  (getRecord, listRecords): no handle or counts, the author is the DID in the uri.

``notFoundPost`` / ``blockedPost`` placeholders in threads are skipped silently.
Hashtags come from ``#tag`` facets and the record's ``tags``; a record without facets
(some clients do not write them) falls back to the ``#words`` of its text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ingest.model import Author, ParseResult, Post, post_id
from ingest.parsers._common import (
    BadRecord,
    Collector,
    as_dict,
    as_list,
    to_int,
    to_str,
    to_time,
    type_name,
    unique,
)

FORMAT = "bluesky"
PLATFORM = "bluesky"

_POST_COLLECTION = "/app.bsky.feed.post/"
_TAG_FEATURE = "app.bsky.richtext.facet#tag"
_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
_PLACEHOLDERS = ("app.bsky.feed.defs#notFoundPost", "app.bsky.feed.defs#blockedPost")


def parse(payload: Any, mapping: Mapping[str, str] | None = None) -> ParseResult:
    """Parse one Bluesky payload (see the module docstring); never raises."""
    out = Collector(FORMAT)
    if isinstance(payload, list):
        for item in payload:
            _post_view(item, out)
    elif not isinstance(payload, dict):
        out.reject(f"payload is {type_name(payload)}, not a post or a list of posts", payload)
    elif "thread" in payload:
        _thread(payload["thread"], out)
    elif isinstance(payload.get("posts"), list):
        for item in payload["posts"]:
            _post_view(item, out)
    elif isinstance(payload.get("feed"), list):
        for item in payload["feed"]:
            _feed_item(item, out)
    elif isinstance(payload.get("records"), list):
        for item in payload["records"]:
            _record(item, out)
    elif payload.get("$type") == "app.bsky.feed.defs#threadViewPost":
        _thread(payload, out)
    elif "post" in payload:
        _feed_item(payload, out)
    elif "record" in payload:
        _post_view(payload, out)
    elif "value" in payload:
        _record(payload, out)
    elif payload.get("$type") not in _PLACEHOLDERS:
        out.reject("payload is not a postView, feed, thread, search result or record", payload)
    return out.result


def _post_view(view: Any, out: Collector) -> None:
    """One postView -> a post and its author."""
    if isinstance(view, dict) and view.get("$type") in _PLACEHOLDERS:
        return
    try:
        if not isinstance(view, dict):
            raise BadRecord(f"post is {type_name(view)}, not a postView object")
        author = _author(view.get("author"))
        post = _post(view.get("uri"), view.get("record"), author, view)
    except BadRecord as exc:
        out.reject(str(exc), view)
        return
    out.author(author)
    out.post(post, view)


def _record(item: Any, out: Collector) -> None:
    """One repo record ``{"uri", "cid", "value"}``; the author is known by DID only."""
    try:
        if not isinstance(item, dict):
            raise BadRecord(f"record is {type_name(item)}, not an object")
        value = item.get("value")
        kind = as_dict(value).get("$type")
        if kind not in (None, "app.bsky.feed.post"):
            raise BadRecord(f"record type {kind!r} is not app.bsky.feed.post")
        post = _post(item.get("uri"), value, None, {})
    except BadRecord as exc:
        out.reject(str(exc), item)
        return
    out.post(post, item)


def _feed_item(item: Any, out: Collector) -> None:
    """A feedViewPost: the post, the posts it replies to, and a repost (``reason``)."""
    if not isinstance(item, dict):
        out.reject(f"feed item is {type_name(item)}, not an object", item)
        return
    _post_view(item.get("post"), out)
    reply = as_dict(item.get("reply"))
    for key in ("parent", "root"):
        if isinstance(reply.get(key), dict):
            _post_view(reply[key], out)
    _repost(item, out)


def _repost(item: dict, out: Collector) -> None:
    reason = as_dict(item.get("reason"))
    uri = to_str(reason.get("uri"))
    subject = to_str(as_dict(item.get("post")).get("uri"))
    if reason.get("$type") != "app.bsky.feed.defs#reasonRepost" or not (uri and subject):
        return  # pins, and reposts from app views too old to give the repost's uri
    author = _author(reason.get("by"))
    created_at = to_time(reason.get("indexedAt"))
    if author is None or created_at is None:
        out.reject(f"repost {uri} has no reposter or indexedAt", item)
        return
    out.author(author)
    out.post(
        Post(
            post_id=post_id(PLATFORM, uri),
            platform=PLATFORM,
            native_id=uri,
            created_at=created_at,
            text="",
            author_id=author.author_id,
            url=None,
            repost_of_id=post_id(PLATFORM, subject),
        ),
        item,
    )


def _thread(root: Any, out: Collector) -> None:
    """Walk a threadViewPost: the post, its ``parent`` chain and all nested ``replies``."""
    if not isinstance(root, dict):
        out.reject(f"thread is {type_name(root)}, not a threadViewPost", root)
        return
    stack = [root]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or node.get("$type") in _PLACEHOLDERS:
            continue
        if "post" not in node:
            out.reject("thread node has no post", node)
            continue
        _post_view(node["post"], out)
        stack.extend(reversed(as_list(node.get("replies"))))
        stack.append(node.get("parent"))


def _post(uri: Any, record: Any, author: Author | None, view: dict) -> Post:
    """A post from its uri, its ``app.bsky.feed.post`` record and (for views) counts."""
    if not isinstance(uri, str) or not uri.startswith("at://") or _POST_COLLECTION not in uri:
        raise BadRecord(f"post uri {uri!r} is not an at:// uri of an app.bsky.feed.post")
    if not isinstance(record, dict):
        raise BadRecord(f"post {uri} has no record")
    text = record.get("text")
    if not isinstance(text, str):
        raise BadRecord(f"post {uri} has no text")
    created_at = to_time(record.get("createdAt")) or to_time(view.get("indexedAt"))
    if created_at is None:
        raise BadRecord(f"post {uri} has no createdAt")

    did, _, rkey = uri[5:].partition(_POST_COLLECTION)
    handle = author.handle if author else None
    reply = as_dict(record.get("reply"))
    parent = to_str(as_dict(reply.get("parent")).get("uri"))
    root = to_str(as_dict(reply.get("root")).get("uri"))
    quoted = _quoted_uri(record.get("embed")) or _quoted_uri(view.get("embed"))
    langs = record.get("langs")
    return Post(
        post_id=post_id(PLATFORM, uri),
        platform=PLATFORM,
        native_id=uri,
        created_at=created_at,
        text=text,
        author_id=author.author_id if author else post_id(PLATFORM, did),
        lang=to_str(langs[0]) if isinstance(langs, list) and langs else None,
        url=f"https://bsky.app/profile/{handle or did}/post/{rkey}",
        reply_to_id=post_id(PLATFORM, parent) if parent else None,
        quote_of_id=post_id(PLATFORM, quoted) if quoted else None,
        conversation_id=post_id(PLATFORM, root or uri),
        hashtags=_hashtags(record, text),
        likes=to_int(view.get("likeCount")),
        reposts=to_int(view.get("repostCount")),
        replies=to_int(view.get("replyCount")),
        quotes=to_int(view.get("quoteCount")),
    )


def _quoted_uri(embed: Any) -> str | None:
    """The quoted post's uri from a record embed, or its ``#view`` in a postView.

    ``app.bsky.embed.record`` holds ``record.uri``; ``recordWithMedia`` nests that one
    level deeper. Quoted feeds and lists (not posts) are not quotes of a post.
    """
    embed = as_dict(embed)
    kind = embed.get("$type")
    if not isinstance(kind, str):
        return None
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        embed = as_dict(embed.get("record"))
    elif not kind.startswith("app.bsky.embed.record"):
        return None
    uri = as_dict(embed.get("record")).get("uri")
    return uri if isinstance(uri, str) and _POST_COLLECTION in uri else None


def _hashtags(record: dict, text: str) -> list[str]:
    facets = record.get("facets")
    tags = [tag for tag in as_list(record.get("tags")) if isinstance(tag, str) and tag]
    if isinstance(facets, list):
        for facet in facets:
            for feature in as_list(as_dict(facet).get("features")):
                feature = as_dict(feature)
                if feature.get("$type") == _TAG_FEATURE and (tag := to_str(feature.get("tag"))):
                    tags.append(tag)
    elif "#" in text:
        tags.extend(_HASHTAG.findall(text))
    return unique(tags)


def _author(profile: Any) -> Author | None:
    profile = as_dict(profile)
    did = to_str(profile.get("did"))
    if did is None:
        return None
    return Author(
        author_id=post_id(PLATFORM, did),
        platform=PLATFORM,
        native_id=did,
        handle=to_str(profile.get("handle")),
        display_name=to_str(profile.get("displayName")),
        followers=to_int(profile.get("followersCount")),
        following=to_int(profile.get("followsCount")),
        post_count=to_int(profile.get("postsCount")),
        created_at=to_time(profile.get("createdAt")),
    )
