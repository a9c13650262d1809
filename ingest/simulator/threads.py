"""Conversation structure and engagement.

Replies and quotes point to *earlier* posts of the same platform, storyline and language,
chosen with preferential attachment (popular posts draw more replies) and recency (a reply
comes soon after its parent). On Reddit and HN every comment belongs to an earlier
submission/story and answers it or an earlier comment of the same thread.

Engagement is log-normal with a Pareto tail: a few posts go viral (10^4-10^5 likes).
"""

from __future__ import annotations

import numpy as np

ROOT, REPLY, QUOTE = 0, 1, 2

# Share of posts that are replies and quotes, per platform (Reddit/HN: comments).
REPLY_RATE = {"x": 0.30, "bluesky": 0.30, "mastodon": 0.25, "reddit": 0.78, "hn": 0.86}
QUOTE_RATE = {"x": 0.07, "bluesky": 0.05, "mastodon": 0.0, "reddit": 0.0, "hn": 0.0}
WINDOW = 48 * 3600.0  # how far back a reply/quote looks for its target, seconds
TAU = {"x": 4 * 3600.0, "bluesky": 5 * 3600.0, "mastodon": 6 * 3600.0, "reddit": 8 * 3600.0,
       "hn": 6 * 3600.0}  # fmt: skip


def _pick_earlier(
    t: np.ndarray, w: np.ndarray, who: np.ndarray, tau: float, u: np.ndarray
) -> np.ndarray:
    """For each index in ``who``, an earlier index (t strictly smaller, within WINDOW) drawn
    with probability proportional to ``w * exp(-(t_i - t_j) / tau)``; -1 where none."""
    growth = np.exp((t - t[0]) / tau) if len(t) else t
    cs = np.concatenate(([0.0], np.cumsum(w * growth)))
    hi = np.searchsorted(t, t[who], side="left")
    lo = np.searchsorted(t, t[who] - WINDOW, side="left")
    total = cs[hi] - cs[lo]
    r = cs[lo] + u * total
    j = np.searchsorted(cs, r, side="right") - 1
    j = np.clip(j, lo, np.maximum(hi - 1, lo))
    return np.where((hi > lo) & (total > 0), j, -1)


def link(
    platform: str,
    t: np.ndarray,
    group: np.ndarray,
    pop: np.ndarray,
    spam: np.ndarray,
    nrng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kinds (ROOT/REPLY/QUOTE), parent index (reply or quote target, -1) and thread root.

    ``t`` must be sorted; ``group`` keys posts that may answer each other.
    """
    n = len(t)
    kind = np.zeros(n, dtype=np.int8)
    parent = np.full(n, -1, dtype=np.int64)
    u = nrng.random(n)
    want_reply = (u < REPLY_RATE[platform]) & ~spam
    want_quote = (u >= REPLY_RATE[platform]) & (u < REPLY_RATE[platform] + QUOTE_RATE[platform])
    want_quote &= ~spam
    threaded = platform in ("reddit", "hn")
    # Replies draw fewer replies; spam draws none. Reddit/HN comments attach to submissions.
    weight = pop * np.where(want_reply, 0.0 if threaded else 0.25, 1.0) * ~spam
    pick = nrng.random(n)
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for idx in np.split(order, bounds):
        if len(idx) < 2:
            continue
        tg = t[idx]
        for flag, k in ((want_reply, REPLY), (want_quote, QUOTE)):
            who = np.flatnonzero(flag[idx])
            if len(who):
                j = _pick_earlier(tg, weight[idx], who, TAU[platform], pick[idx[who]])
                ok = j >= 0
                parent[idx[who[ok]]] = idx[j[ok]]
                kind[idx[who[ok]]] = k
    root = np.arange(n)
    if threaded:
        parent, root = _nest_comments(kind, parent, t, nrng)
    else:
        for i in np.flatnonzero(kind == REPLY):  # parents come first in time order
            root[i] = root[parent[i]]
    return kind, parent, root


def _nest_comments(
    kind: np.ndarray, parent: np.ndarray, t: np.ndarray, nrng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Reddit/HN: a comment answers its submission or an earlier comment of that thread."""
    root = np.arange(len(kind))
    root[kind == REPLY] = parent[kind == REPLY]
    direct = nrng.random(len(kind)) < 0.45
    pick = nrng.random(len(kind))
    comments: dict[int, list[int]] = {}
    out = parent.copy()
    for i in np.flatnonzero(kind == REPLY).tolist():
        sub = int(root[i])
        seen = comments.setdefault(sub, [])
        earlier = [c for c in seen[-12:] if t[c] < t[i]]
        if earlier and not direct[i]:
            out[i] = earlier[int(pick[i] * len(earlier))]
        seen.append(i)
    return out, root


def engagement(
    platform: str,
    kind: np.ndarray,
    parent: np.ndarray,
    z: np.ndarray,
    followers: np.ndarray,
    boost: np.ndarray,
    nrng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Likes/reposts/replies/quotes/views per post, consistent with the observed threads."""
    n = len(kind)
    mu, sigma = {"x": (1.3, 1.7), "bluesky": (1.0, 1.5), "mastodon": (0.6, 1.3),
                 "reddit": (1.2, 1.6), "hn": (0.9, 1.4)}[platform]  # fmt: skip
    logf = np.log1p(followers) - np.log(300.0)
    log_likes = mu + sigma * z + boost + (0.45 * logf if followers.any() else 0.0)
    log_likes = log_likes - np.where(kind == REPLY, 1.6, 0.0)
    if platform in ("reddit", "hn"):
        log_likes = log_likes + np.where(kind == ROOT, 1.3, 0.0)
    likes = np.floor(np.exp(np.minimum(log_likes, np.log(250_000)))).astype(np.int64)
    # Observed replies/quotes are a lower bound on the counts the platform reports.
    replies = np.bincount(parent[(kind == REPLY) & (parent >= 0)], minlength=n)
    quotes = np.bincount(parent[(kind == QUOTE) & (parent >= 0)], minlength=n)
    replies = replies + nrng.poisson(likes * 0.03)
    quotes = quotes + nrng.poisson(likes * 0.006)
    reposts = nrng.binomial(likes, 0.12)
    views = (likes + 1) * np.exp(nrng.normal(4.2, 0.6, n)) + followers * 0.04
    return {
        "likes": likes,
        "reposts": reposts.astype(np.int64),
        "replies": replies.astype(np.int64),
        "quotes": quotes.astype(np.int64),
        "views": views.astype(np.int64),
    }


def viral_z(nrng: np.random.Generator, n: int) -> np.ndarray:
    """Engagement latent: standard normal, plus a rare kick (a shifted exponential in log
    space, i.e. a Pareto tail) for the few posts that go viral."""
    z = nrng.standard_normal(n)
    kick = nrng.random(n) < 0.008
    z[kick] += (3.3 + nrng.exponential(1.0, int(kick.sum()))) / 1.7
    return z
