"""Mastodon hashtag timelines (``GET /api/v1/timelines/tag/:hashtag``): lists of statuses.

Accounts live on several instances (mastodon.social, mstdn.jp, piaille.fr, chaos.social,
mastodon.art, ...); the timelines are seen from mastodon.social, so remote accounts have
``acct = user@instance``. Status ids are Mastodon snowflakes (ms << 16); a status keeps the
same id everywhere here, and ``uri`` ends with it, so ``in_reply_to_id`` can be resolved
against an earlier status's ``id`` (or the last path segment of its ``uri``).
"""

from __future__ import annotations

import random
from typing import Any

from ..people import Account
from ..records import SimPost
from ..threads import REPLY
from .common import iso_ms, pages

PAGE = 40
HOME = "mastodon.social"


def _escape(s: str) -> str:
    return (
        s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _account(acc: Account, posted: int) -> dict[str, Any]:
    url = f"https://{acc.instance}/@{acc.handle}"
    return {
        "id": acc.native_id,
        "username": acc.handle,
        "acct": acc.handle if acc.instance == HOME else f"{acc.handle}@{acc.instance}",
        "display_name": acc.name,
        "locked": False,
        "bot": acc.bot,
        "discoverable": True,
        "group": False,
        "created_at": iso_ms(int(acc.created) // 86400 * 86400 * 1000),
        "note": "",
        "url": url,
        "uri": f"https://{acc.instance}/users/{acc.handle}",
        "avatar": f"https://{acc.instance}/avatars/original/missing.png",
        "followers_count": acc.followers,
        "following_count": acc.following,
        "statuses_count": acc.statuses + posted,
        "emojis": [],
        "fields": [],
    }


def write(posts: list[SimPost], rng: random.Random) -> list[tuple[int, list[dict[str, Any]]]]:
    """Assign status/account ids; return (oldest ms, timeline page) pairs in time order."""
    used: set[str] = set()
    posted: dict[int, int] = {}
    for p in posts:
        acc = p.author
        if not acc.native_id:
            acc.native_id = str((int(acc.created * 1000) << 16) | rng.getrandbits(16))
        posted[id(acc)] = posted.get(id(acc), 0) + 1
        sid = str((p.ms << 16) | rng.getrandbits(16))
        while sid in used:
            sid = str((p.ms << 16) | rng.getrandbits(16))
        used.add(sid)
        p.native_id = sid
        p.key = f"https://{acc.instance}/users/{acc.handle}/statuses/{sid}"
    statuses = [_status(p, posts, posted[id(p.author)]) for p in posts]
    return [
        (posts[chunk[0]].ms, [statuses[i] for i in reversed(chunk)])
        for chunk in pages(range(len(posts)), PAGE)
    ]


def _status(p: SimPost, posts: list[SimPost], posted: int) -> dict[str, Any]:
    acc = p.author
    parent = posts[p.parent] if p.kind == REPLY and p.parent >= 0 else None
    html = _escape(p.text).replace("\n\n", "</p><p>")
    mentions = []
    if parent is not None:
        pa = parent.author
        acct = pa.handle if pa.instance == HOME else f"{pa.handle}@{pa.instance}"
        href = f"https://{pa.instance}/@{pa.handle}"
        html = (
            f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">'
            f"@<span>{pa.handle}</span></a></span> " + html
        )
        mentions.append({"id": pa.native_id, "username": pa.handle, "url": href, "acct": acct})
    if p.link:
        esc = _escape(p.link)
        anchor = f'<a href="{esc}" target="_blank" rel="nofollow noopener" translate="no">{esc}</a>'
        html = html.replace(esc, anchor)
    tags = []
    if p.tags:
        links = []
        for t in p.tags:
            href = f"https://{HOME}/tags/{t.lower()}"
            links.append(
                f'<a href="{href}" class="mention hashtag" rel="tag">#<span>{t}</span></a>'
            )
            tags.append({"name": t.lower(), "url": href})
        html += " " + " ".join(links)
    return {
        "id": p.native_id,
        "created_at": iso_ms(p.ms),
        "in_reply_to_id": parent.native_id if parent else None,
        "in_reply_to_account_id": parent.author.native_id if parent else None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": p.lang,
        "uri": p.key,
        "url": f"https://{acc.instance}/@{acc.handle}/{p.native_id}",
        "replies_count": p.replies,
        "reblogs_count": p.reposts,
        "favourites_count": p.likes,
        "edited_at": None,
        "content": f"<p>{html}</p>",
        "reblog": None,
        "account": _account(acc, posted),
        "media_attachments": [],
        "mentions": mentions,
        "tags": tags,
        "emojis": [],
        "card": None,
        "poll": None,
    }
