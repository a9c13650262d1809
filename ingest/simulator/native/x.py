"""X API v2 search pages (``/2/tweets/search/all`` with author and referenced-tweet expansions).

A page: ``{"data": [tweets newest first], "includes": {"users", "tweets"}, "meta"}``, at most
100 tweets. ``includes.users`` holds every ``author_id`` of ``data`` and ``includes.tweets``.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from ..people import Account
from ..records import SimPost
from ..threads import QUOTE, REPLY
from .common import as_datetime, hashtag_suffix, iso_ms, pages, tag_spans, token

TWEPOCH = 1288834974657  # ms; X snowflake epoch
PAGE = 100


def _snowflake(ms: int, rng: random.Random, seq: int) -> str:
    return str(((ms - TWEPOCH) << 22) | (rng.getrandbits(10) << 12) | (seq & 0xFFF))


def _user_id(acc: Account, rng: random.Random) -> str:
    ms = int(acc.created * 1000)
    if as_datetime(ms).year >= 2014:
        return _snowflake(ms, rng, acc.index)
    return str(int((acc.created - 1.17e9) / 8) + rng.randint(0, 999))  # pre-snowflake ids


def _user(acc: Account, posted: int) -> dict[str, Any]:
    return {
        "id": acc.native_id,
        "username": acc.handle,
        "name": acc.name,
        "created_at": iso_ms(int(acc.created) * 1000),
        "description": "",
        "protected": False,
        "verified": acc.verified,
        "verified_type": "blue" if acc.verified else "none",
        "public_metrics": {
            "followers_count": acc.followers,
            "following_count": acc.following,
            "tweet_count": acc.statuses + posted,
            "listed_count": acc.followers // 150,
        },
    }


def write(posts: list[SimPost], rng: random.Random) -> list[tuple[int, dict[str, Any]]]:
    """Assign tweet/user ids and return (oldest ms, page) pairs in time order."""
    posted: dict[int, int] = {}
    used: set[str] = set()
    for p in posts:
        acc = p.author
        if not acc.native_id:
            uid = _user_id(acc, rng)
            while uid in used:
                uid = _user_id(acc, rng)
            acc.native_id = uid
            used.add(uid)
        posted[id(acc)] = posted.get(id(acc), 0) + 1
        p.native_id = p.key = _snowflake(p.ms + rng.randrange(1000), rng, p.i)
    tweets = [_tweet(p, posts, rng) for p in posts]
    out = []
    for chunk in pages(range(len(posts)), PAGE):
        data = [tweets[i] for i in reversed(chunk)]
        refs: dict[str, dict[str, Any]] = {}
        for i in chunk:
            j = posts[i].parent
            if j >= 0 and posts[j].native_id not in refs:  # a copy: payloads share nothing
                refs[posts[j].native_id] = orjson.loads(orjson.dumps(tweets[j]))
        users: dict[str, dict[str, Any]] = {}
        for i in [*chunk, *(posts[i].parent for i in chunk if posts[i].parent >= 0)]:
            acc = posts[i].author
            if acc.native_id not in users:
                users[acc.native_id] = _user(acc, posted[id(acc)])
        page = {
            "data": data,
            "includes": {"users": list(users.values()), "tweets": list(refs.values())},
            "meta": {
                "result_count": len(data),
                "newest_id": data[0]["id"],
                "oldest_id": data[-1]["id"],
            },
        }
        if chunk[-1] < len(posts) - 1:
            page["meta"]["next_token"] = token(rng, 27, "abcdefghijklmnopqrstuvwxyz0123456789")
        if not refs:
            del page["includes"]["tweets"]
        out.append((posts[chunk[0]].ms, page))
    return out


def _tweet(p: SimPost, posts: list[SimPost], rng: random.Random) -> dict[str, Any]:
    entities: dict[str, list[dict[str, Any]]] = {}
    text = p.text
    tweet: dict[str, Any] = {"id": p.native_id}
    parent = posts[p.parent] if p.parent >= 0 else None
    if p.kind == REPLY and parent is not None:
        mention = "@" + parent.author.handle
        text = f"{mention} {text}"
        entities["mentions"] = [
            {"start": 0, "end": len(mention), "username": parent.author.handle,
             "id": parent.author.native_id}
        ]  # fmt: skip
        tweet["in_reply_to_user_id"] = parent.author.native_id
    if p.link:
        short = "https://t.co/" + token(rng, 10)
        text = text.replace(p.link, short)
        start = text.index(short)
        entities["urls"] = [_url(start, short, p.link)]
    text += hashtag_suffix(p.tags)
    if p.tags:
        entities["hashtags"] = [
            {"start": s, "end": e, "tag": t} for s, e, t in tag_spans(text, p.tags)
        ]
    if p.kind == QUOTE and parent is not None:
        short = "https://t.co/" + token(rng, 10)
        link = f"https://twitter.com/{parent.author.handle}/status/{parent.native_id}"
        entities.setdefault("urls", []).append(_url(len(text) + 1, short, link))
        text += " " + short
    tweet.update(
        text=text,
        created_at=iso_ms(p.ms - p.ms % 1000),
        author_id=p.author.native_id,
        lang=p.lang,
        conversation_id=posts[p.root].native_id,
        possibly_sensitive=False,
        reply_settings="everyone",
        edit_history_tweet_ids=[p.native_id],
        public_metrics={
            "retweet_count": p.reposts,
            "reply_count": p.replies,
            "like_count": p.likes,
            "quote_count": p.quotes,
            "bookmark_count": p.likes // 25,
            "impression_count": p.views,
        },
    )
    if entities:
        tweet["entities"] = entities
    if parent is not None:
        kind = "replied_to" if p.kind == REPLY else "quoted"
        tweet["referenced_tweets"] = [{"type": kind, "id": parent.native_id}]
    return tweet


def _url(start: int, short: str, expanded: str) -> dict[str, Any]:
    display = expanded.split("://", 1)[-1]
    return {
        "start": start,
        "end": start + len(short),
        "url": short,
        "expanded_url": expanded,
        "display_url": display if len(display) <= 28 else display[:27] + "…",
    }
