"""The in-memory record of one simulated post, before it is written as a native payload."""

from __future__ import annotations

from dataclasses import dataclass, field

from .people import Account


@dataclass(slots=True)
class SimPost:
    """One simulated post; ``parent``/``root`` index the same platform's time-sorted list."""

    i: int
    ms: int  # created_at, epoch milliseconds
    storyline: str
    lang: str
    spam: bool
    sentiment: str
    concern: bool
    author: Account
    kind: int  # threads.ROOT / REPLY / QUOTE (Reddit/HN: submission or comment)
    parent: int  # reply or quote target, -1 for none
    root: int  # thread root (conversation, submission or story)
    text: str = ""
    title: str = ""  # Reddit submissions, HN stories
    tags: list[str] = field(default_factory=list)
    link: str = ""  # the outbound link (spam, HN stories, Reddit link posts)
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    views: int = 0
    native_id: str = ""  # the id in the payload (Mastodon: the instance-local status id)
    key: str = ""  # the warehouse native id (``platform:key``; Mastodon: the status uri)
    cid: str = ""  # Bluesky
