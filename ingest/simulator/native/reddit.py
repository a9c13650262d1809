"""Reddit listings: ``{"kind": "Listing", "data": {"after", "children": [...]}}``.

Submissions (``t3``, as from ``/r/A+B+C/new``) and comments (``t1``, as from
``/r/A+B+C/comments``) come in separate listings, newest first. Comments carry ``link_id``
(their submission) and ``parent_id`` (the submission or an earlier comment).
"""

from __future__ import annotations

import functools
import random
from typing import Any

from ..records import SimPost
from ..storylines import SPAM_SUBREDDITS, SPECS, SUBREDDIT_BY_LANG
from ..threads import REPLY
from .common import ALNUM, base36, pages, slug, token

PAGE = 100
T3_BASE, T3_RATE = int("1jfa000", 36), 14.0  # ids per second around March 2025
T1_BASE, T1_RATE = int("mhz0000", 36), 95.0
MS_START = 1742428800000  # 2025-03-20T00:00Z


def _subreddit(p: SimPost, rng: random.Random) -> str:
    if p.spam:
        return rng.choice(SPAM_SUBREDDITS)
    if p.lang != "en" and p.lang in SUBREDDIT_BY_LANG:
        return SUBREDDIT_BY_LANG[p.lang]
    return rng.choice(SPECS[p.storyline].subreddits)


def _sub_id(name: str) -> str:
    return "t5_" + base36(sum(ord(c) * 131**k for k, c in enumerate(name)) % 36**6)


def write(posts: list[SimPost], rng: random.Random) -> list[tuple[int, dict[str, Any]]]:
    """Assign fullnames (``t3_...``/``t1_...``); return (oldest ms, listing) pairs."""
    last = {"t3": 0, "t1": 0}
    subs: dict[int, str] = {}
    for p in posts:
        kind = "t1" if p.kind == REPLY else "t3"
        base, rate = (T1_BASE, T1_RATE) if kind == "t1" else (T3_BASE, T3_RATE)
        n = max(base + int((p.ms - MS_START) / 1000 * rate), last[kind] + 1 + rng.randrange(3))
        last[kind] = n
        p.native_id = p.key = f"{kind}_{base36(n)}"
        subs[p.i] = subs[p.root] if kind == "t1" else _subreddit(p, rng)
    comments = [0] * len(posts)
    for p in posts:
        if p.kind == REPLY:
            comments[p.root] += 1
    things = [_thing(p, posts, subs, comments, rng) for p in posts]
    out = []
    for kind in ("t3", "t1"):
        idx = [p.i for p in posts if things[p.i]["kind"] == kind]
        for chunk in pages(idx, PAGE):
            children = [things[i] for i in reversed(chunk)]
            after = children[-1]["data"]["name"] if chunk[-1] != idx[-1] else None
            listing = {"kind": "Listing", "data": {"after": after, "before": None,
                       "dist": len(children), "modhash": "", "children": children}}  # fmt: skip
            out.append((posts[chunk[0]].ms, listing))
    return out


def _thing(
    p: SimPost, posts: list[SimPost], subs: dict[int, str], comments: list[int], rng: random.Random
) -> dict[str, Any]:
    sub = subs[p.i]
    kind, rid = p.native_id.split("_", 1)
    created = float(p.ms // 1000)
    root = posts[p.root]
    link_slug = _slug(root.title)
    data: dict[str, Any] = {
        "id": rid,
        "name": p.native_id,
        "author": p.author.handle,
        "author_fullname": "t2_" + base36(abs(hash_handle(p.author.handle))),
        "subreddit": sub,
        "subreddit_name_prefixed": f"r/{sub}",
        "subreddit_id": _sub_id(sub),
        "created": created,
        "created_utc": created,
        "score": p.likes,
        "ups": p.likes,
        "downs": 0,
        "edited": False,
        "distinguished": None,
        "stickied": False,
        "gilded": 0,
    }
    if kind == "t1":
        data.update(
            body=p.text,
            link_id=root.native_id,
            parent_id=posts[p.parent].native_id,
            link_title=root.title,
            permalink=f"/r/{sub}/comments/{root.native_id[3:]}/{link_slug}/{rid}/",
            controversiality=int(p.sentiment == "negative" and rng.random() < 0.2),
            is_submitter=p.author is root.author,
            replies="",
            score_hidden=False,
        )
        return {"kind": "t1", "data": data}
    permalink = f"/r/{sub}/comments/{rid}/{link_slug}/"
    if p.link:
        url, domain, is_self = p.link, p.link.split("/")[2], False
    elif not p.text:
        url, domain, is_self = (
            f"https://i.redd.it/{token(rng, 13, ALNUM[:36]).lower()}.png",
            "i.redd.it",
            False,
        )
    else:
        url, domain, is_self = "https://www.reddit.com" + permalink, f"self.{sub}", True
    data.update(
        title=p.title,
        selftext=p.text,
        num_comments=comments[p.i] + int(p.replies * 0.5),
        permalink=permalink,
        url=url,
        domain=domain,
        is_self=is_self,
        over_18=False,
        spoiler=False,
        locked=False,
        archived=False,
        upvote_ratio=round(0.55 + 0.44 * rng.random(), 2),
        link_flair_text=None,
        thumbnail="self" if is_self else "default",
    )
    return {"kind": "t3", "data": data}


@functools.lru_cache(maxsize=4096)
def _slug(title: str) -> str:
    return slug(title)


def hash_handle(handle: str) -> int:
    """A stable (run-independent) number for an account fullname."""
    h = 0
    for c in handle:
        h = (h * 131 + ord(c)) % 36**7
    return h
