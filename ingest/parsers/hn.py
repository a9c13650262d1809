"""Hacker News through the Algolia search API (``search`` / ``search_by_date``).

Accepted payloads: a response ``{"hits": [...], "nbHits", "page", ...}`` or one hit.
A hit is a comment when its ``_tags`` say so (or it has ``comment_text``), else a story
(stories, Ask/Show HN, polls, jobs). Story text is the title, then a blank line and the
``story_text`` when there is one; comment text is ``comment_text``. Both are HTML and
become plain text. The post url is the HN item page, not the story's external link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.model import Author, ParseResult, Post, post_id
from ingest.parsers._common import (
    BadRecord,
    Collector,
    as_list,
    html_to_text,
    to_id,
    to_int,
    to_str,
    to_time,
    type_name,
)

FORMAT = "hn"
PLATFORM = "hn"
_ITEM_URL = "https://news.ycombinator.com/item?id="


def parse(payload: Any, mapping: Mapping[str, str] | None = None) -> ParseResult:
    """Parse one Algolia HN response or hit; never raises."""
    out = Collector(FORMAT)
    if isinstance(payload, dict) and "hits" in payload:
        hits = payload["hits"]
        if not isinstance(hits, list):
            out.reject(f"hits is {type_name(hits)}, not an array", payload)
            hits = []
    elif isinstance(payload, dict) and "objectID" in payload:
        hits = [payload]
    else:
        out.reject(f"payload is {type_name(payload)} without hits or objectID", payload)
        hits = []
    for hit in hits:
        try:
            post = _post(hit)
        except BadRecord as exc:
            out.reject(str(exc), hit)
            continue
        out.author(_author(hit.get("author")))
        out.post(post, hit)
    return out.result


def _post(hit: Any) -> Post:
    if not isinstance(hit, dict):
        raise BadRecord(f"hit is {type_name(hit)}, not an object")
    native_id = to_id(hit.get("objectID"))
    if native_id is None:
        raise BadRecord("hit has no objectID")
    created_at = to_time(hit.get("created_at_i")) or to_time(hit.get("created_at"))
    if created_at is None:
        raise BadRecord(f"item {native_id} has no created_at")

    tags = as_list(hit.get("_tags"))
    comment_text = hit.get("comment_text")
    is_comment = "comment" in tags or ("story" not in tags and isinstance(comment_text, str))
    if is_comment:
        if not isinstance(comment_text, str):
            raise BadRecord(f"comment {native_id} has no comment_text")
        text = html_to_text(comment_text)
        parent, story = to_id(hit.get("parent_id")), to_id(hit.get("story_id"))
    else:
        title = hit.get("title")
        if not isinstance(title, str):
            raise BadRecord(f"story {native_id} has no title")
        story_text = hit.get("story_text")
        body = html_to_text(story_text) if isinstance(story_text, str) else ""
        text = f"{title}\n\n{body}" if body else title
        parent, story = None, native_id

    author = to_str(hit.get("author"))
    return Post(
        post_id=post_id(PLATFORM, native_id),
        platform=PLATFORM,
        native_id=native_id,
        created_at=created_at,
        text=text,
        author_id=post_id(PLATFORM, author) if author else None,
        url=_ITEM_URL + native_id,
        reply_to_id=post_id(PLATFORM, parent) if parent else None,
        conversation_id=post_id(PLATFORM, story) if story else None,
        likes=to_int(hit.get("points")),
        replies=to_int(hit.get("num_comments")),
    )


def _author(name: Any) -> Author | None:
    name = to_str(name)
    if name is None:
        return None
    return Author(author_id=post_id(PLATFORM, name), platform=PLATFORM, native_id=name, handle=name)
