"""Hacker News via Algolia ``search_by_date``: ``{"hits", "nbHits", "page", "hitsPerPage"...}``.

Stories carry title/url/points/num_comments; comments carry HTML ``comment_text``,
``story_id`` and ``parent_id`` (the story or an earlier comment). Item ids grow with time
(about 43.4M on 2025-03-20).
"""

from __future__ import annotations

import html
import random
from typing import Any

from ..records import SimPost
from ..threads import REPLY
from .common import iso_ms, pages

PAGE = 100
ID_BASE, ID_RATE = 43_400_000, 0.15  # items per second
MS_START = 1742428800000  # 2025-03-20T00:00Z


def _html(text: str) -> str:
    return "<p>".join(html.escape(par) for par in text.split("\n\n"))


def write(posts: list[SimPost], rng: random.Random) -> list[tuple[int, dict[str, Any]]]:
    """Assign item ids; return (oldest ms, search response) pairs in time order."""
    last = 0
    for p in posts:
        n = max(ID_BASE + int((p.ms - MS_START) / 1000 * ID_RATE), last + 1 + rng.randrange(4))
        last = n
        p.native_id = p.key = str(n)
    descendants = [0] * len(posts)
    for p in posts:
        if p.kind == REPLY:
            descendants[p.root] += 1
    hits = [_hit(p, posts, descendants) for p in posts]
    chunks = list(pages(range(len(posts)), PAGE))
    out = []
    for k, chunk in enumerate(chunks):
        response = {
            "hits": [hits[i] for i in reversed(chunk)],
            "nbHits": len(posts),
            "page": len(chunks) - 1 - k,  # newest first: the oldest chunk is the last page
            "nbPages": len(chunks),
            "hitsPerPage": PAGE,
            "exhaustiveNbHits": True,
            "query": "",
            "params": f"tags=(story,comment)&hitsPerPage={PAGE}&page={len(chunks) - 1 - k}",
            "processingTimeMS": 1 + rng.randrange(12),
        }
        out.append((posts[chunk[0]].ms, response))
    return out


def _hit(p: SimPost, posts: list[SimPost], descendants: list[int]) -> dict[str, Any]:
    sec = p.ms // 1000
    root = posts[p.root]
    hit: dict[str, Any] = {
        "objectID": p.native_id,
        "created_at": iso_ms(sec * 1000),
        "created_at_i": sec,
        "updated_at": iso_ms(sec * 1000 + 3_600_000),
        "author": p.author.handle,
    }
    if p.kind == REPLY:
        hit.update(
            comment_text=_html(p.text),
            story_id=int(root.native_id),
            story_title=root.title,
            story_url=root.link or None,
            parent_id=int(posts[p.parent].native_id),
            points=None,
            _tags=["comment", f"author_{p.author.handle}", f"story_{root.native_id}"],
        )
        return hit
    tags = ["story", f"author_{p.author.handle}", f"story_{p.native_id}"]
    if p.title.startswith("Ask HN"):
        tags.append("ask_hn")
    elif p.title.startswith("Show HN"):
        tags.append("show_hn")
    hit.update(
        title=p.title,
        url=p.link or None,
        story_text=_html(p.text) if p.text else None,
        points=max(1, p.likes),
        num_comments=descendants[p.i] + p.replies // 2,
        story_id=int(p.native_id),
        _tags=tags,
    )
    return hit
