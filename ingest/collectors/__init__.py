"""The registry of live collectors: one per source, all with the interface of
:class:`~ingest.collectors.base.Collector`.

Usage: ``get_collector("x")(settings)``; ``COLLECTORS`` lists them in collection order.
"""

from __future__ import annotations

from ingest.collectors.base import Collector
from ingest.collectors.bluesky import BlueskyCollector
from ingest.collectors.driver import SourceReport, run_source
from ingest.collectors.hn import HNCollector
from ingest.collectors.mastodon import MastodonCollector
from ingest.collectors.redaction import redact
from ingest.collectors.reddit import RedditCollector
from ingest.collectors.x import XCollector

__all__ = ["COLLECTORS", "Collector", "SourceReport", "get_collector", "redact", "run_source"]

COLLECTORS: dict[str, type[Collector]] = {
    "x": XCollector,
    "bluesky": BlueskyCollector,
    "mastodon": MastodonCollector,
    "reddit": RedditCollector,
    "hn": HNCollector,
}


def get_collector(name: str) -> type[Collector]:
    """The collector class of source ``name``; ``ValueError`` naming the valid sources."""
    try:
        return COLLECTORS[name]
    except (KeyError, TypeError):
        valid = ", ".join(COLLECTORS)
        raise ValueError(f"unknown source {name!r}; valid sources: {valid}") from None
