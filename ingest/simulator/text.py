"""Compose post texts from the phrase banks.

A bank (one per language, in :mod:`.phrases`) holds generic openers, closers, reply
openers, copyright-concern asides and emoji by sentiment, slot fillers (``{subject}``,
``{style}``, ``{rival}``, ``{thing}``, ``{n}``) and, per storyline, claims, details and
reactions by sentiment. A post is opener? + claim + detail? + reaction? + concern? + emoji?,
with the slots filled at random, so wording varies combinatorially within a storyline.
"""

from __future__ import annotations

import random

from .phrases import BANKS
from .storylines import SPECS


class _Slots:
    """A mapping that fills each ``{slot}`` with a random filler, the same one within a text."""

    __slots__ = ("_chosen", "_rng", "_slots")

    def __init__(self, slots: dict[str, list[str]], rng: random.Random) -> None:
        self._slots = slots
        self._rng = rng
        self._chosen: dict[str, str] = {}

    def fill(self, text: str) -> str:
        self._chosen.clear()
        return text.format_map(self)

    def __getitem__(self, key: str) -> str:
        if key not in self._chosen:
            rng = self._rng
            self._chosen[key] = (
                str(rng.randint(2, 30)) if key == "n" else rng.choice(self._slots[key])
            )
        return self._chosen[key]


# Languages whose sentences may continue in lower case after "Wait," / "Fair, but" (German
# capitalises nouns, Japanese and Korean have no case).
_LOWER_AFTER_COMMA = frozenset({"en", "fr", "es", "pt", "it"})
_KEEP_CASE = ("Sam", "Studio", "Google", "Reve", "Ideogram", "Grok", "Sora", "Gemini",
              "Midjourney", "Miyazaki", "Stable", "Mistral", "Ghibli", "Legally")  # fmt: skip


def _continue(opener: str, part: str, lang: str) -> str:
    """Lower-case ``part``'s first letter when it continues an opener that ends in a comma."""
    if (
        lang in _LOWER_AFTER_COMMA
        and (opener.endswith(",") or opener.endswith(" but"))
        and len(part) > 1
        and part[1].islower()
        and not part.startswith(_KEEP_CASE)
    ):
        return part[0].lower() + part[1:]
    return part


class Composer:
    """Builds texts for one simulation run (all randomness from ``rng``)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._slots = {lang: _Slots(bank["slots"], rng) for lang, bank in BANKS.items()}

    def _fill(self, lang: str, text: str) -> str:
        return self._slots[lang].fill(text) if "{" in text else text

    def body(
        self,
        lang: str,
        storyline: str,
        sentiment: str,
        concern: bool,
        *,
        reply: bool = False,
        long: bool = False,
        tech: bool = False,
        claim: bool = True,
    ) -> str:
        """A post body; ``long`` adds detail and paragraphs (Reddit, HN), ``tech`` HN register,
        ``claim=False`` leaves the claim out (a submission body under a claim-like title)."""
        rng, bank = self.rng, BANKS[lang]
        story = bank["story"][storyline]
        ch = rng.choice
        parts: list[str] = []
        if reply and rng.random() < 0.55:
            parts.append(ch(bank["reply"][sentiment]))
        elif rng.random() < (0.25 if long else 0.4):
            parts.append(ch(bank["open"][sentiment]))
        if claim:
            claims = story["claim"]
            parts.append(ch(claims[sentiment] if isinstance(claims, dict) else claims))
        detail = ""
        if not claim or rng.random() < (0.9 if long else 0.55):
            detail = ch(story["detail"])
            parts.append(detail)
        if len(parts) > 1:
            parts[1] = _continue(parts[0], parts[1], lang)
        paragraphs = [parts]
        if long:
            parts = []
            paragraphs.append(parts)
            techs = bank.get("tech", {}).get(storyline)
            if tech and techs and rng.random() < 0.7:
                parts.append(ch(techs))
            elif rng.random() < 0.5:
                other = ch(story["detail"])
                if other != detail:
                    parts.append(other)
        r = rng.random()
        if r < 0.55:
            parts.append(ch(story[sentiment]))
        elif r < 0.85:
            parts.append(ch(bank["close"][sentiment]))
        if concern and storyline != "copyright_debate":
            parts.append(ch(bank["concern"]))
        if not long and rng.random() < 0.35:
            emoji = bank["emoji"][sentiment]
            parts.append(ch(emoji) + (ch(emoji) if rng.random() < 0.3 else ""))
        sep = bank["sep"]
        text = "\n\n".join(sep.join(p) for p in paragraphs if p)
        return self._fill(lang, text)

    def title(
        self, lang: str, storyline: str, sentiment: str, *, hn: bool = False
    ) -> tuple[str, bool]:
        """A Reddit submission or HN story title, and whether it is a news-style headline."""
        rng, bank = self.rng, BANKS[lang]
        titles = bank.get("title", {}).get(storyline)
        if hn and titles and rng.random() < 0.85:
            return self._fill(lang, rng.choice(titles)), True
        claims = bank["story"][storyline]["claim"]
        if isinstance(claims, dict):
            claims = claims[sentiment]
        text = rng.choice(claims)
        if not hn and rng.random() < 0.3:
            text += bank["sep"] + rng.choice(bank["story"][storyline][sentiment])
        return self._fill(lang, text), False

    def hashtags(self, lang: str, storyline: str, k: int) -> list[str]:
        """Up to ``k`` distinct hashtags (without '#') for a post."""
        pool = list(SPECS[storyline].hashtags) if storyline in SPECS else ["ChatGPT"]
        pool += BANKS[lang]["tags"]
        if storyline in ("ghibli_wave", "copyright_debate") and lang == "ja":
            pool.append("ジブリ")
        return self.rng.sample(pool, min(k, len(pool)))


def spam_text(template: str, rng: random.Random, url: str) -> str:
    """One near-duplicate of a spam template: same words, tiny changes, a fresh link."""
    text = template
    r = rng.random()
    if r < 0.25:
        text = text.replace("!", "!!", 1)
    elif r < 0.5:
        text = rng.choice(["🚨 ", "💥 ", "⚡ ", "✅ "]) + text
    elif r < 0.65:
        text = text.upper() if rng.random() < 0.2 else text.replace(",", "", 1)
    if rng.random() < 0.5:
        text += " " + rng.choice(["🎁", "💰", "🚀", "👇", "✨", "🔥🔥"])
    return text.replace("{URL}", "{url}").replace("{url}", url)
