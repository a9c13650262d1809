"""Simulated accounts: names and handles per language, follower counts, Zipf activity."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

# fmt: off
NAMES: dict[str, tuple[list[str], list[str]]] = {
    "en": (["Sarah", "Mike", "Jess", "Chris", "Priya", "Dan", "Emily", "Alex", "Tom", "Rachel",
            "Jordan", "Kevin", "Megan", "Sam", "Olivia", "Ryan", "Aisha", "Ben", "Laura", "Nate"],
           ["Miller", "Chen", "Patel", "Nguyen", "Smith", "Garcia", "Brooks", "Reed", "Kim",
            "Walker", "Hughes", "Shah", "Bennett", "Foster", "Lee", "Murphy"]),
    "fr": (["Camille", "Julien", "Léa", "Thomas", "Chloé", "Nicolas", "Manon", "Hugo", "Sarah",
            "Antoine", "Inès", "Maxime"],
           ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux"]),
    "es": (["Lucía", "Carlos", "María", "Javier", "Sofía", "Diego", "Valentina", "Pablo",
            "Camila", "Andrés", "Paula", "Mateo"],
           ["García", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz"]),
    "pt": (["Ana", "João", "Beatriz", "Lucas", "Mariana", "Gabriel", "Júlia", "Rafael",
            "Larissa", "Pedro", "Camila", "Thiago"],
           ["Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Almeida", "Ferreira"]),
    "de": (["Lena", "Jonas", "Anna", "Felix", "Laura", "Lukas", "Sophie", "Tim", "Marie",
            "Jan", "Katrin", "Paul"],
           ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann"]),
    "it": (["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Matteo", "Sara", "Davide"],
           ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo"]),
    "ja": (["ゆうき", "はると", "さくら", "りん", "たくみ", "みお", "そうた", "ひなた", "まる",
            "こはる", "しょう", "あおい"],
           ["🍙", "🎨", "@お絵描き", "｜AI勉強中", "", "", "☕", "🐈", "@がんばらない"]),
    "ko": (["민준", "서연", "지호", "하은", "도윤", "수아", "예준", "지우"],
           ["", "🎨", "☕", "🐶", ""]),
}
ROMAJI = ["yuki", "haru", "sakura", "rin", "takumi", "mio", "sota", "hinata", "maru", "koharu",
          "minjun", "seoyeon", "jiho", "haeun"]
WORDS = ["art", "ai", "dev", "tech", "draws", "photo", "pixel", "cat", "coffee", "design",
         "studio", "ink", "retro", "byte", "sketch", "nerd", "vibes", "daily", "lab", "wave"]
REDDIT_ADJ = ["Rare", "Silent", "Curious", "Lazy", "Brave", "Salty", "Cosmic", "Fuzzy",
              "Electric", "Quiet", "Crafty", "Sleepy"]
REDDIT_NOUN = ["Otter", "Pancake", "Falcon", "Teapot", "Walrus", "Noodle", "Badger", "Comet",
               "Pickle", "Lantern", "Kiwi", "Goose"]
MASTODON_INSTANCES: dict[str, list[tuple[str, float]]] = {
    "en": [("mastodon.social", 0.45), ("mastodon.art", 0.15), ("hachyderm.io", 0.12),
           ("fosstodon.org", 0.10), ("mastodon.online", 0.10), ("chaos.social", 0.08)],
    "de": [("chaos.social", 0.40), ("mastodon.social", 0.35), ("social.tchncs.de", 0.25)],
    "fr": [("piaille.fr", 0.50), ("mastodon.social", 0.30), ("framapiaf.org", 0.20)],
    "ja": [("mstdn.jp", 0.75), ("pawoo.net", 0.25)],
}
SPAM_WORDS = ["ghibli", "aiart", "free", "gpt4o", "promo", "deals", "crypto", "prompts",
              "gen", "magic"]
# fmt: on

# Oldest plausible account age in days (Bluesky opened in 2023, Mastodon grew in 2022).
MAX_AGE_DAYS = {"x": 6200, "bluesky": 700, "mastodon": 2500, "reddit": 6500, "hn": 6500}
# Median followers and log-normal spread per platform (Reddit and HN report none).
FOLLOWERS = {"x": (320, 1.9), "bluesky": (240, 1.6), "mastodon": (180, 1.4)}


@dataclass(slots=True)
class Account:
    """One simulated account (ids in the platform's native form are added by the writers)."""

    index: int
    platform: str
    lang: str
    handle: str
    name: str
    created: float  # epoch seconds
    followers: int
    following: int
    statuses: int
    verified: bool = False
    bot: bool = False
    instance: str = ""  # Mastodon home instance
    native_id: str = ""  # filled by the platform writer


class People:
    """Account factory for one simulation run."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.accounts: dict[str, list[Account]] = {}
        self._handles: dict[str, set[str]] = {}

    def _unique(self, platform: str, handle: str) -> str:
        seen = self._handles.setdefault(platform, set())
        while handle.lower() in seen:
            handle = f"{handle}{self.rng.randint(1, 999)}"
        seen.add(handle.lower())
        return handle

    def _handle(self, platform: str, lang: str, given: str, family: str) -> str:
        rng = self.rng
        if platform == "reddit" and rng.random() < 0.45:
            return f"{rng.choice(REDDIT_ADJ)}_{rng.choice(REDDIT_NOUN)}_{rng.randint(10, 9999)}"
        base = rng.choice(ROMAJI) if lang in ("ja", "ko") else _ascii(given).lower()
        r = rng.random()
        if r < 0.3 and lang not in ("ja", "ko"):
            handle = base + _ascii(family).lower()
        elif r < 0.6:
            handle = f"{base}_{rng.choice(WORDS)}"
        elif r < 0.8:
            handle = f"{rng.choice(WORDS)}{base}{rng.randint(1, 99)}"
        else:
            handle = f"{base}{rng.randint(1, 9999)}"
        return handle[:15] if platform == "x" else handle

    def new(self, platform: str, lang: str, now: float, *, spam: bool = False) -> Account:
        """Create and register an account that posts first at ``now`` (epoch seconds)."""
        rng = self.rng
        pool = self.accounts.setdefault(platform, [])
        given, family = (rng.choice(part) for part in NAMES[lang])
        if lang in ("ja", "ko"):
            name = given + family
        else:
            name = f"{given} {family}" if rng.random() < 0.7 else given
        if spam:
            handle = f"{rng.choice(SPAM_WORDS)}_{rng.choice(SPAM_WORDS)}{rng.randint(100, 99999)}"
            name = handle.replace("_", " ").title()
            created = now - rng.uniform(0.5, 20) * 86400
        else:
            handle = self._handle(platform, lang, given, family)
            created = now - 86400 * (10 + MAX_AGE_DAYS[platform] * rng.random() ** 1.3)
        median, sigma = FOLLOWERS.get(platform, (0, 0))
        followers = 0
        if median:
            followers = (
                rng.randint(0, 40) if spam else int(rng.lognormvariate(np.log(median), sigma))
            )
        following = int(rng.lognormvariate(np.log(280 if not spam else 900), 1.0))
        statuses = int(rng.lognormvariate(np.log(2500 if not spam else 40), 1.5)) + 1
        acc = Account(
            index=len(pool),
            platform=platform,
            lang=lang,
            handle=self._unique(platform, handle),
            name=name,
            created=float(int(created)),
            followers=min(followers, 150_000_000),
            following=following,
            statuses=statuses,
            verified=(
                platform == "x" and not spam and rng.random() < 0.12 + 0.1 * (followers > 10_000)
            ),
            bot=spam and platform == "mastodon" and rng.random() < 0.3,
        )
        if platform == "mastodon":
            choices = MASTODON_INSTANCES.get(lang, [("mastodon.social", 1.0)])
            acc.instance = rng.choices([c[0] for c in choices], [c[1] for c in choices])[0]
            if spam:
                acc.instance = rng.choice(["mastodon.social", "mastodon.online", "mas.to"])
        pool.append(acc)
        return acc


def zipf_indices(
    nrng: np.random.Generator, n: int, ratio: float = 0.6, a: float = 1.05
) -> np.ndarray:
    """Which of a pool of about ``ratio * n`` accounts wrote each of ``n`` posts (Zipf-like).

    A few accounts post a lot, most post once; indices are renumbered by first appearance.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    m = max(1, int(n * ratio))
    w = 1.0 / (np.arange(m) + 6.0) ** a
    raw = nrng.choice(m, size=n, p=w / w.sum())
    _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # rank of each unique value by first appearance
    return order[inverse]


_ASCII = str.maketrans("éèêëàâäîïôöûüùçñáíóúãõÉ", "eeeeaaaiioouuucnaiouaoE")


def _ascii(s: str) -> str:
    return s.translate(_ASCII).replace("ß", "ss")
