"""Orchestration: sample when/what/who for each platform, thread it, word it, write it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .native import WRITERS
from .native.common import as_datetime, slug
from .people import Account, People, zipf_indices
from .phrases import BANKS
from .records import SimPost
from .storylines import (
    LANGS,
    PLATFORM_SHARE,
    PLATFORMS,
    SENTIMENTS,
    SPAM_RATE,
    SPAM_SENTIMENT,
    SPECS,
)
from .text import Composer, spam_text
from .threads import REPLY, ROOT, engagement, link, viral_z
from .timeline import LAUNCH, T0, cell_weights, hour_grid

DEFAULT_START = datetime(2025, 3, 20, tzinfo=UTC)
DEFAULT_END = datetime(2025, 4, 5, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
STORY_NAMES = [*SPECS, "spam"]
SPAM = len(SPECS)  # index of "spam" in STORY_NAMES
SPAM_LANGS = {"en": 0.7, "es": 0.1, "pt": 0.1, "ja": 0.1}
SPAM_DOMAINS = ("ghibli-ai-free.xyz", "gpt4o-unlimited.app", "free4o-images.net",
                "ghiblitoken.io", "promptpack.shop", "earnwith-ai.club")  # fmt: skip
# Chance that a post carries hashtags, and how many at most.
HASHTAGS = {"x": (0.45, 3), "bluesky": (0.25, 2), "mastodon": (0.85, 4)}
NEWS = ("openai.com", "www.theverge.com", "techcrunch.com", "arstechnica.com",
        "simonwillison.net", "www.bloomberg.com", "www.nytimes.com", "www.reuters.com",
        "www.wired.com", "blog.google", "www.midjourney.com", "venturebeat.com")  # fmt: skip
BLOGS = ("substack.com", "github.io", "bearblog.dev", "micro.blog")


@dataclass
class SimulatedCorpus:
    """Native payloads in import order, and the generation truth (one row per post)."""

    payloads: list[tuple[str, Any]]
    truth: list[dict]


def simulate(
    size: int = 20_000,
    seed: int = 42,
    start: datetime = DEFAULT_START,
    end: datetime = DEFAULT_END,
) -> SimulatedCorpus:
    """A deterministic simulated launch week of ``size`` posts across five platforms."""
    if size < 0:
        raise ValueError("size must be >= 0")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    hours = hour_grid(start, end)
    window = ((start - T0).total_seconds(), (end - T0).total_seconds())
    sim = _Run(rng, nrng, hours, window)
    shares = np.array([PLATFORM_SHARE[p] for p in PLATFORMS])
    counts = _allocate(size, shares / shares.sum())
    pages: list[tuple[int, int, int, str, Any]] = []
    truth: list[dict] = []
    for order, (platform, n) in enumerate(zip(PLATFORMS, counts, strict=True)):
        posts = sim.platform(platform, n)
        fmt, writer = WRITERS[platform]
        for ms, payload in writer(posts, rng):
            pages.append((ms, order, len(pages), fmt, payload))
        truth.extend(_truth(platform, p) for p in posts)
    pages.sort(key=lambda page: page[:3])
    return SimulatedCorpus([(fmt, payload) for *_, fmt, payload in pages], truth)


def _allocate(size: int, shares: np.ndarray) -> list[int]:
    """Split ``size`` by ``shares`` exactly (largest remainder)."""
    raw = shares * size
    counts = np.floor(raw).astype(int)
    for k in np.argsort(-(raw - counts), kind="stable")[: size - counts.sum()]:
        counts[k] += 1
    return counts.tolist()


def _truth(platform: str, p: SimPost) -> dict:
    return {
        "post_id": f"{platform}:{p.key}",
        "platform": platform,
        "lang": p.lang,
        "storyline": p.storyline,
        "sentiment": p.sentiment,
        "copyright": "concern" if p.concern else "none",
        "is_spam": p.spam,
        "created_at": as_datetime(p.ms),
    }


class _Run:
    """State shared by the platforms of one run (random streams, accounts, wording)."""

    def __init__(self, rng: random.Random, nrng: np.random.Generator, hours: np.ndarray,
                 window: tuple[float, float]) -> None:  # fmt: skip
        self.rng, self.nrng, self.hours, self.window = rng, nrng, hours, window
        self.people = People(rng)
        self.composer = Composer(rng)

    def _times(self, h_idx: np.ndarray) -> np.ndarray:
        """Uniform second inside each sampled hour (the last hour may be partial)."""
        lo = self.hours[h_idx]
        span = np.minimum(3600.0, self.window[1] - lo)
        return lo + self.nrng.random(len(h_idx)) * span

    def platform(self, platform: str, n: int) -> list[SimPost]:
        """The ``n`` posts of one platform, in time order, worded and threaded."""
        s_idx, l_idx, ms, campaign = self._sample(platform, n)
        spam = s_idx == SPAM
        authors = self._authors(platform, l_idx, ms, campaign)
        followers = np.array([a.followers for a in authors], dtype=float)
        z = viral_z(self.nrng, n)
        z[spam] = np.minimum(z[spam], 1.0)  # spam never goes viral
        boost = np.array([SPECS[s].virality if s in SPECS else -1.5 for s in STORY_NAMES])[s_idx]
        pop = np.exp(z + boost + 0.45 * np.log1p(followers))
        group = s_idx * len(LANGS) + l_idx  # replies stay within storyline and language
        kind, parent, root = link(platform, ms / 1000.0, group, pop, spam, self.nrng)
        eng = {k: v.tolist() for k, v in engagement(platform, kind, parent, z, followers, boost,
                                                    self.nrng).items()}  # fmt: skip
        cols = [x.tolist() for x in (ms, s_idx, l_idx, self._sentiments(s_idx),
                                     self._concern(s_idx, ms), kind, parent, root)]  # fmt: skip
        posts = []
        for i, (m, s, lg, se, c, k, pa, r) in enumerate(zip(*cols, strict=True)):
            posts.append(SimPost(
                i=i, ms=m, storyline=STORY_NAMES[s], lang=LANGS[lg], spam=s == SPAM,
                sentiment=SENTIMENTS[se], concern=c, author=authors[i], kind=k, parent=pa,
                root=r, likes=eng["likes"][i], reposts=eng["reposts"][i],
                replies=eng["replies"][i], quotes=eng["quotes"][i], views=eng["views"][i],
            ))  # fmt: skip
        templates = self._spam_templates(campaign, l_idx)
        for p, c in zip(posts, campaign.tolist(), strict=True):
            self._word(platform, p, templates.get(c))
        return posts

    def _sample(
        self, platform: str, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Storyline, language, time (epoch ms) and spam campaign (-1: none), time-sorted."""
        nrng = self.nrng
        n_spam = round(n * SPAM_RATE[platform])
        w = cell_weights(platform, list(SPECS), self.hours)
        flat = w.ravel()
        cells = nrng.choice(flat.size, size=n - n_spam, p=flat / flat.sum())
        s_idx, l_idx, h_idx = np.unravel_index(cells, w.shape)
        spam_sec, spam_lang, campaign = self._spam(w.sum(axis=(0, 1)), n_spam)
        s_idx = np.concatenate([s_idx, np.full(n_spam, SPAM)])
        l_idx = np.concatenate([l_idx, spam_lang])
        sec = np.concatenate([self._times(h_idx), spam_sec])
        campaign = np.concatenate([np.full(n - n_spam, -1), campaign])
        ms = T0_MS + np.floor(sec * 1000).astype(np.int64)
        if platform in ("x", "reddit", "hn"):  # these report whole seconds
            ms -= ms % 1000
        order = np.argsort(ms, kind="stable")
        return s_idx[order], l_idx[order], ms[order], campaign[order]

    def _spam(self, volume: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Spam bursts: campaigns ride the overall volume, each a few hours long."""
        nrng = self.nrng
        if n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty.astype(float), empty, empty
        k = max(1, n // 12)
        centers = self._times(nrng.choice(len(volume), size=k, p=volume / volume.sum()))
        langs = list(SPAM_LANGS)
        camp_lang = nrng.choice(len(langs), size=k, p=list(SPAM_LANGS.values()))
        campaign = nrng.integers(0, k, size=n)
        sec = centers[campaign] + nrng.normal(0, 2.5 * 3600, n)
        sec = np.clip(sec, self.window[0], self.window[1] - 1)
        lang_idx = np.array([LANGS.index(langs[c]) for c in camp_lang])[campaign]
        return sec, lang_idx, campaign

    def _spam_templates(
        self, campaign: np.ndarray, l_idx: np.ndarray
    ) -> dict[int, tuple[str, str]]:
        """Per spam campaign: its template (in the campaign's language) and link domain."""
        out: dict[int, tuple[str, str]] = {}
        for i in np.flatnonzero(campaign >= 0).tolist():
            c = int(campaign[i])
            if c not in out:
                templates = BANKS[LANGS[l_idx[i]]]["spam"]
                k = self.rng.randrange(len(templates))
                out[c] = (templates[k], SPAM_DOMAINS[k % len(SPAM_DOMAINS)])
        return out

    def _sentiments(self, s_idx: np.ndarray) -> np.ndarray:
        table = np.array(
            [SPECS[s].sentiment if s in SPECS else SPAM_SENTIMENT for s in STORY_NAMES]
        )
        cum = np.cumsum(table, axis=1)
        u = self.nrng.random(len(s_idx))
        return np.minimum((u[:, None] > cum[s_idx]).sum(axis=1), 2)

    def _concern(self, s_idx: np.ndarray, ms: np.ndarray) -> np.ndarray:
        days = np.clip((ms - T0_MS) / 3.6e6 - LAUNCH, 0, None) / 24
        base = np.array([SPECS[s].concern if s in SPECS else 0.0 for s in STORY_NAMES])
        growth = np.array([SPECS[s].concern_growth if s in SPECS else 0.0 for s in STORY_NAMES])
        p = np.minimum(base[s_idx] * (1 + growth[s_idx] * days), 1.0)
        return self.nrng.random(len(s_idx)) < p

    def _authors(self, platform: str, l_idx: np.ndarray, ms: np.ndarray,
                 campaign: np.ndarray) -> list[Account]:  # fmt: skip
        """Zipf-distributed regular accounts per language; fresh accounts for spam."""
        authors: list[Account | None] = [None] * len(ms)
        for j, lang in enumerate(LANGS):
            idx = np.flatnonzero((l_idx == j) & (campaign < 0))
            pool: list[Account] = []
            for k, i in zip(zipf_indices(self.nrng, len(idx)).tolist(), idx.tolist(), strict=True):
                if k == len(pool):
                    pool.append(self.people.new(platform, lang, ms[i] / 1000))
                authors[i] = pool[k]
        pools: dict[int, list[Account]] = {}
        for i in np.flatnonzero(campaign >= 0).tolist():
            pool = pools.setdefault(int(campaign[i]), [])
            if not pool or self.rng.random() < 0.75:
                pool.append(self.people.new(platform, LANGS[l_idx[i]], ms[i] / 1000, spam=True))
            authors[i] = self.rng.choice(pool)
        return authors  # type: ignore[return-value]

    def _word(self, platform: str, p: SimPost, spam: tuple[str, str] | None) -> None:
        """Fill in text, title, hashtags and link."""
        rng, comp = self.rng, self.composer
        if spam is not None:
            template, domain = spam
            path = "".join(rng.choices("abcdefghijkmnpqrstuvwxyz23456789", k=6))
            p.link = f"https://{domain}/{rng.choice(('r', 'go', 'free', 'p'))}/{path}"
            p.text = spam_text(template, rng, p.link)
            if platform in ("reddit", "hn"):
                p.title, p.text = p.text.replace(p.link, "").strip(), ""
            elif platform in HASHTAGS:
                p.tags = comp.hashtags(p.lang, "ghibli_wave", rng.randint(2, 4))
            return
        args = (p.lang, p.storyline, p.sentiment, p.concern)
        if platform in ("reddit", "hn"):
            if p.kind == ROOT:
                self._submission(platform, p)
            else:
                p.text = comp.body(*args, reply=True, long=True, tech=platform == "hn")
            return
        p.text = comp.body(*args, reply=p.kind == REPLY)
        chance, most = HASHTAGS[platform]
        if rng.random() < chance:
            p.tags = comp.hashtags(p.lang, p.storyline, rng.randint(1, most))

    def _submission(self, platform: str, p: SimPost) -> None:
        rng, comp = self.rng, self.composer
        hn = platform == "hn"
        p.title, headline = comp.title(p.lang, p.storyline, p.sentiment, hn=hn)
        ask = p.title.startswith(("Ask HN", "Show HN"))
        if hn and not ask:
            path = slug(p.title).replace("_", "-")
            if headline:
                day = as_datetime(p.ms).strftime("%Y/%m/%d")
                p.link = f"https://{rng.choice(NEWS)}/{day}/{path}"
            else:  # a personal blog post
                p.link = f"https://{p.author.handle.replace('_', '')}.{rng.choice(BLOGS)}/{path}"
        elif ask or rng.random() < 0.55:
            p.text = comp.body(
                p.lang, p.storyline, p.sentiment, p.concern, long=True, tech=hn, claim=False
            )
