"""Helpers shared by the native payload writers."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
B32 = "abcdefghijklmnopqrstuvwxyz234567"
B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def as_datetime(ms: int) -> datetime:
    """Epoch milliseconds -> aware UTC datetime (exact)."""
    return EPOCH + timedelta(milliseconds=ms)


def iso_ms(ms: int) -> str:
    """``2025-03-25T18:03:12.345Z``."""
    return as_datetime(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def token(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choices(alphabet, k=n))


def base36(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = B36[r] + out
    return out or "0"


def pages(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive chunks of at most ``size`` items."""
    for k in range(0, len(items), size):
        yield items[k : k + size]


def hashtag_suffix(tags: list[str]) -> str:
    return " " + " ".join("#" + t for t in tags) if tags else ""


def tag_spans(text: str, tags: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, tag) character spans of the trailing ``#tags`` in ``text``."""
    spans = []
    pos = len(text) - len(hashtag_suffix(tags))
    for t in tags:
        start = text.index("#" + t, pos)
        spans.append((start, start + 1 + len(t), t))
        pos = start + 1 + len(t)
    return spans


def slug(title: str, limit: int = 48) -> str:
    out = "".join(c.lower() if c.isascii() and c.isalnum() else "_" for c in title)
    out = "_".join(p for p in out.split("_") if p)
    return out[:limit].rstrip("_") or "post"
