"""Bluesky ``app.bsky.feed.searchPosts`` responses: ``{"posts": [postView...], "cursor"}``.

Post URIs are ``at://did:plc:.../app.bsky.feed.post/<TID>``; replies carry
``record.reply.{root,parent}`` strong refs, quotes an ``app.bsky.embed.record`` embed, and
hashtags/links are rich-text facets with UTF-8 byte offsets.
"""

from __future__ import annotations

import random
from typing import Any

from ..people import Account
from ..records import SimPost
from ..threads import QUOTE, REPLY
from .common import B32, B32_SORTABLE, hashtag_suffix, iso_ms, pages, tag_spans, token

PAGE = 100
CUSTOM_DOMAINS = (".com", ".art", ".dev", ".net", ".me", ".studio")


def _tid(ms: int, rng: random.Random) -> str:
    n = ((ms * 1000 + rng.randrange(1000)) << 10) | rng.getrandbits(10)
    return "".join(B32_SORTABLE[(n >> (5 * k)) & 31] for k in range(12, -1, -1))


def _author(acc: Account) -> dict[str, Any]:
    return {
        "did": acc.native_id,
        "handle": acc.handle,
        "displayName": acc.name,
        "avatar": f"https://cdn.bsky.app/img/avatar/plain/{acc.native_id}/avatar@jpeg",
        "labels": [],
        "createdAt": iso_ms(int(acc.created) * 1000),
    }


def _facets(text: str, p: SimPost) -> list[dict[str, Any]]:
    def span(start: int, end: int) -> dict[str, int]:
        return {"byteStart": len(text[:start].encode()), "byteEnd": len(text[:end].encode())}

    facets = []
    if p.link and p.link in text:
        start = text.index(p.link)
        facets.append({
            "$type": "app.bsky.richtext.facet",
            "index": span(start, start + len(p.link)),
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": p.link}],
        })  # fmt: skip
    for start, end, tag in tag_spans(text, p.tags):
        facets.append({
            "$type": "app.bsky.richtext.facet",
            "index": span(start, end),
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
        })  # fmt: skip
    return facets


def write(posts: list[SimPost], rng: random.Random) -> list[tuple[int, dict[str, Any]]]:
    """Assign DIDs, handles, record keys and CIDs; return (oldest ms, response) pairs."""
    for p in posts:
        acc = p.author
        if not acc.native_id:
            acc.native_id = "did:plc:" + token(rng, 24, B32)
            if rng.random() < 0.12 and not p.spam:
                acc.handle = acc.handle.replace("_", "-").lower() + rng.choice(CUSTOM_DOMAINS)
            else:
                acc.handle = acc.handle.replace("_", "-").lower() + ".bsky.social"
        p.native_id = p.key = f"at://{acc.native_id}/app.bsky.feed.post/{_tid(p.ms, rng)}"
        p.cid = "bafyrei" + token(rng, 52, B32)
    views = [_view(p, posts) for p in posts]
    out = []
    for chunk in pages(range(len(posts)), PAGE):
        response: dict[str, Any] = {"posts": [views[i] for i in reversed(chunk)]}
        if chunk[-1] < len(posts) - 1:
            response["cursor"] = str(len(posts) - chunk[0])
        out.append((posts[chunk[0]].ms, response))
    return out


def _view(p: SimPost, posts: list[SimPost]) -> dict[str, Any]:
    text = p.text + hashtag_suffix(p.tags)
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": iso_ms(p.ms),
        "langs": [p.lang],
    }
    facets = _facets(text, p)
    if facets:
        record["facets"] = facets
    view: dict[str, Any] = {"uri": p.native_id, "cid": p.cid, "author": _author(p.author)}
    if p.parent >= 0:
        target = posts[p.parent]
        if p.kind == REPLY:
            root = posts[p.root]
            record["reply"] = {
                "root": {"uri": root.native_id, "cid": root.cid},
                "parent": {"uri": target.native_id, "cid": target.cid},
            }
        elif p.kind == QUOTE:
            ref = {"uri": target.native_id, "cid": target.cid}
            record["embed"] = {"$type": "app.bsky.embed.record", "record": ref}
            view["embed"] = {
                "$type": "app.bsky.embed.record#view",
                "record": {
                    "$type": "app.bsky.embed.record#viewRecord",
                    **ref,
                    "author": {k: v for k, v in _author(target.author).items() if k != "labels"},
                    "value": {"$type": "app.bsky.feed.post",
                              "text": target.text + hashtag_suffix(target.tags),
                              "createdAt": iso_ms(target.ms), "langs": [target.lang]},
                    "indexedAt": iso_ms(target.ms + 700),
                },
            }  # fmt: skip
    view.update(
        record=record,
        replyCount=p.replies,
        repostCount=p.reposts,
        likeCount=p.likes,
        quoteCount=p.quotes,
        indexedAt=iso_ms(p.ms + 400 + p.i % 900),
        labels=[],
    )
    return view
