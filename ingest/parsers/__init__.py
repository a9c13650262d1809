"""The registry of payload formats: one parser per native API format, plus generic files.

Every parser has the signature ``parse(payload, mapping=None) -> ParseResult``: it takes
ONE top-level JSON value (one JSONL line, one JSON document, or one CSV/JSONL row as a
dict for the generic formats) and never raises. A payload it cannot use at all becomes
one :class:`~ingest.model.Reject`; a bad item inside a container becomes a reject of its
own while the good items are kept. ``mapping`` is only used by ``jsonl`` and ``csv``.

Usage: ``get_format("x-v2").parse(page)`` or ``FORMATS["csv"].parse(row, mapping)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ingest.model import ParseResult, Reject
from ingest.parsers import bluesky, hn, mastodon, reddit, tabular, x_v2

__all__ = ["FORMATS", "Format", "get_format"]


@dataclass(frozen=True)
class Format:
    name: str  # "x-v2" | "bluesky" | "mastodon" | "reddit" | "hn" | "jsonl" | "csv"
    platform: str  # "x" | "bluesky" | "mastodon" | "reddit" | "hn" | "file"
    description: str  # one line, shown in CLI help
    parse: Callable[..., ParseResult]  # parse(payload, mapping=None) -> ParseResult


def _never_raising(name: str, parse: Callable[..., ParseResult]) -> Callable[..., ParseResult]:
    """Last line of defence: a parser bug rejects the payload instead of stopping a run.

    The parsers validate their input and do not rely on this; the fuzz tests check that
    no reject ever carries the "internal parser error" reason.
    """

    def guarded(payload: Any, mapping: Mapping[str, str] | None = None) -> ParseResult:
        try:
            return parse(payload, mapping)
        except Exception as exc:
            reason = f"{name}: internal parser error ({type(exc).__name__}: {exc})"
            return ParseResult(rejects=[Reject(name, reason, payload)])

    guarded.__name__ = guarded.__qualname__ = f"parse_{name.replace('-', '_')}"
    guarded.__doc__ = parse.__doc__
    return guarded


_DEFINITIONS = (
    ("x-v2", "x", "X API v2 pages (twarc2 / tweepy JSON) or bare tweets", x_v2.parse),
    ("bluesky", "bluesky", "Bluesky postViews, feeds, threads, searchPosts", bluesky.parse),
    ("mastodon", "mastodon", "Mastodon statuses, timelines, search, context", mastodon.parse),
    ("reddit", "reddit", "Reddit listings of submissions and comments", reddit.parse),
    ("hn", "hn", "Hacker News Algolia search responses or hits", hn.parse),
    (
        "jsonl",
        "file",
        "generic JSON objects, one per line, with a column mapping",
        tabular.parse_jsonl,
    ),
    ("csv", "file", "generic CSV rows with a column mapping", tabular.parse_csv),
)

FORMATS: dict[str, Format] = {
    name: Format(name, platform, description, _never_raising(name, parse))
    for name, platform, description, parse in _DEFINITIONS
}


def get_format(name: str) -> Format:
    """The format called ``name``; ``ValueError`` naming it and the valid names if unknown."""
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        valid = ", ".join(FORMATS)
        raise ValueError(f"unknown payload format {name!r}; valid formats: {valid}") from None
