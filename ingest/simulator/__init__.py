"""A seeded, deterministic simulated launch week (GPT-4o image generation, 2025-03-25).

:func:`simulate` returns native payloads for X, Bluesky, Mastodon, Reddit and Hacker News
(the formats the live collectors fetch, replayed through the same parsers) and the truth
of how each post was generated (storyline, sentiment, copyright concern, spam).
"""

from .corpus import SimulatedCorpus, simulate
from .storylines import STORYLINES

__all__ = ["STORYLINES", "SimulatedCorpus", "simulate"]
