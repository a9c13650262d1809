"""Storylines of the simulated launch week: what people talk about, and how.

Each storyline has its own sentiment mix, copyright-concern share, platform and language
affinities, hashtags and subreddits. When a storyline peaks is in :mod:`.timeline`; what
its posts say, per language, is in :mod:`.phrases`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STORYLINES: dict[str, str] = {
    "rumours": "Pre-launch speculation: leaks and teasers that GPT-4o will generate images "
    "natively.",
    "launch_hype": "The 2025-03-25 launch: livestream, first tests, text rendering, 'this changes "
    "everything'.",
    "ghibli_wave": "Studio Ghibli-style portraits of pets, families and memes flood feeds from "
    "03-26 to 03-28.",
    "capacity_melting": "'Our GPUs are melting': rate limits, queues, errors and refusals after "
    "03-27.",
    "signups_free_tier": "One million sign-ups in an hour and image generation rolling out to "
    "free users on 03-31.",
    "copyright_debate": "Artists, consent and Miyazaki's 'an insult to life itself' remark: is "
    "style imitation theft?",
    "competitor_race": "Comparisons with Gemini 2.0 Flash, Midjourney, Grok, Reve, Ideogram, "
    "DALL-E 3, Stable Diffusion and Sora.",
    "midjourney_v7": "The Midjourney V7 alpha release on 2025-04-03 and how it stacks up "
    "against 4o.",
    "memes_offtopic": "Memes, jokes and off-topic chatter riding the trending hashtags.",
    "spam": "Bots and spam near-duplicates: fake free generators, Ghibli memecoins, prompt packs.",
}

SENTIMENTS = ("negative", "neutral", "positive")
LANGS = ("en", "ja", "es", "pt", "fr", "de", "it", "ko")
PLATFORMS = ("x", "bluesky", "reddit", "mastodon", "hn")
PLATFORM_SHARE = {"x": 0.45, "bluesky": 0.18, "reddit": 0.15, "mastodon": 0.12, "hn": 0.10}

# Language mix per platform (before storyline affinities tilt it a little).
PLATFORM_LANGS: dict[str, dict[str, float]] = {
    "x": {"en": 0.50, "ja": 0.17, "es": 0.09, "pt": 0.07, "fr": 0.05, "de": 0.04, "it": 0.04,
          "ko": 0.04},
    "bluesky": {"en": 0.68, "ja": 0.09, "pt": 0.08, "fr": 0.05, "de": 0.05, "es": 0.03,
                "it": 0.01, "ko": 0.01},
    "mastodon": {"en": 0.68, "de": 0.12, "fr": 0.08, "ja": 0.07, "es": 0.02, "it": 0.02,
                 "pt": 0.01},
    "reddit": {"en": 0.94, "de": 0.015, "fr": 0.012, "pt": 0.012, "es": 0.012, "it": 0.005,
               "ja": 0.004},
    "hn": {"en": 0.97, "de": 0.012, "fr": 0.01, "es": 0.005, "pt": 0.003},
}  # fmt: skip

# Share of each platform's posts that are bot/spam near-duplicates (about 3 % overall).
SPAM_RATE = {"x": 0.05, "bluesky": 0.03, "mastodon": 0.015, "reddit": 0.015, "hn": 0.003}


@dataclass(frozen=True)
class Storyline:
    """How posts of one storyline are generated (everything but the words)."""

    sentiment: tuple[float, float, float]  # P(negative), P(neutral), P(positive)
    concern: float  # share of posts raising a copyright concern, at launch
    concern_growth: float = 0.0  # relative growth of that share per day after launch
    platforms: dict[str, float] = field(default_factory=dict)  # affinity, default 1
    langs: dict[str, float] = field(default_factory=dict)  # affinity, default 1
    hashtags: tuple[str, ...] = ()
    subreddits: tuple[str, ...] = ("ChatGPT",)
    virality: float = 0.0  # log-scale engagement boost


SPECS: dict[str, Storyline] = {
    "rumours": Storyline(
        (0.10, 0.55, 0.35), 0.01,
        platforms={"hn": 0.6, "mastodon": 0.5},
        hashtags=("OpenAI", "GPT4o", "ChatGPT", "AI"),
        subreddits=("singularity", "OpenAI", "ChatGPT"),
    ),
    "launch_hype": Storyline(
        (0.08, 0.30, 0.62), 0.04, 0.10,
        platforms={"hn": 1.6, "mastodon": 0.6, "reddit": 1.1},
        hashtags=("ChatGPT", "GPT4o", "OpenAI", "4oImageGen", "AI", "GenerativeAI"),
        subreddits=("ChatGPT", "OpenAI", "singularity"),
        virality=0.6,
    ),
    "ghibli_wave": Storyline(
        (0.18, 0.22, 0.60), 0.08, 0.20,
        platforms={"x": 1.4, "hn": 0.25, "mastodon": 0.5, "reddit": 1.0},
        langs={"ja": 2.0, "ko": 1.4, "pt": 1.3, "es": 1.3},
        hashtags=("Ghibli", "StudioGhibli", "ChatGPT", "GhibliStyle", "AIart", "GPT4o"),
        subreddits=("ChatGPT", "aiArt", "OpenAI"),
        virality=0.5,
    ),
    "capacity_melting": Storyline(
        (0.60, 0.28, 0.12), 0.01,
        platforms={"reddit": 1.5, "hn": 1.2, "bluesky": 0.7},
        langs={"de": 1.2},
        hashtags=("ChatGPT", "OpenAI", "GPT4o", "RateLimit"),
        subreddits=("ChatGPT", "OpenAI"),
        virality=0.2,
    ),
    "signups_free_tier": Storyline(
        (0.15, 0.35, 0.50), 0.02, 0.05,
        platforms={"hn": 0.8, "mastodon": 0.5},
        langs={"pt": 1.3, "es": 1.3, "ko": 1.2},
        hashtags=("ChatGPT", "OpenAI", "GPT4o", "AI"),
        subreddits=("ChatGPT", "OpenAI", "singularity"),
        virality=0.3,
    ),
    "copyright_debate": Storyline(
        (0.65, 0.25, 0.10), 1.0,
        platforms={"mastodon": 2.6, "bluesky": 1.9, "hn": 1.2, "x": 0.75},
        langs={"ja": 1.3, "fr": 1.5, "de": 1.3, "it": 1.2},
        hashtags=("Miyazaki", "StudioGhibli", "NoAI", "SupportHumanArtists", "AIart", "Copyright"),
        subreddits=("ArtistHate", "aiwars", "ChatGPT", "singularity"),
        virality=0.3,
    ),
    "competitor_race": Storyline(
        (0.20, 0.45, 0.35), 0.04, 0.05,
        platforms={"reddit": 1.4, "hn": 1.5, "mastodon": 0.6},
        hashtags=("GPT4o", "Gemini", "Midjourney", "AIart", "GenerativeAI", "AI"),
        subreddits=("StableDiffusion", "singularity", "OpenAI", "midjourney"),
    ),
    "midjourney_v7": Storyline(
        (0.20, 0.40, 0.40), 0.10, 0.0,
        platforms={"reddit": 1.5, "mastodon": 0.6},
        langs={"ja": 0.8},
        hashtags=("Midjourney", "MidjourneyV7", "AIart", "GPT4o"),
        subreddits=("midjourney", "aiArt", "StableDiffusion"),
        virality=0.2,
    ),
    "memes_offtopic": Storyline(
        (0.15, 0.40, 0.45), 0.02,
        platforms={"x": 1.3, "hn": 0.15, "mastodon": 0.7},
        langs={"es": 1.4, "pt": 1.4},
        hashtags=("ChatGPT", "Ghibli", "memes", "AI"),
        subreddits=("ChatGPT", "aiArt"),
        virality=0.4,
    ),
}  # fmt: skip

# Spam: promotional near-duplicates; sentiment as generated (mostly upbeat), never concern.
SPAM_SENTIMENT = (0.0, 0.3, 0.7)
SPAM_SUBREDDITS = ("aiArt", "ChatGPT", "StableDiffusion")

SUBREDDIT_BY_LANG = {"fr": "france", "de": "de", "pt": "brasil", "es": "es", "it": "italy",
                     "ja": "newsokur", "ko": "korea"}  # fmt: skip
