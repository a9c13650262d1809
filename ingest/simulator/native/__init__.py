"""Native payload writers, one module per platform (format name -> writer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import bluesky, hn, mastodon, reddit, x

# platform -> (format name, writer(posts, rng) -> [(oldest ms, payload)])
WRITERS: dict[str, tuple[str, Callable[..., list[tuple[int, Any]]]]] = {
    "x": ("x-v2", x.write),
    "bluesky": ("bluesky", bluesky.write),
    "mastodon": ("mastodon", mastodon.write),
    "reddit": ("reddit", reddit.write),
    "hn": ("hn", hn.write),
}
