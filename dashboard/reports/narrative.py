"""A few sentences written from a report's numbers ("Posts rose 340% day over day, ...").

:class:`Facts` holds plain values so the wording can be tested with hand-made inputs;
:func:`facts_from` fills it from a :class:`~dashboard.reports.content.ReportContent`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from dashboard.reports.content import ReportContent

OVER = {"day": "day over day", "week": "week over week"}
BEFORE = {"day": "the day before", "week": "the week before"}
FLAT = 0.05
"""Relative changes smaller than this read as "held steady"."""
MIN_NEW_POSTS = 5
"""A new topic is mentioned when it has at least this many posts in the period."""
SHIFT_PTS = 3.0
"""Changes of a share smaller than this many percentage points are not mentioned."""


@dataclass(frozen=True)
class TopicMove:
    name: str
    posts: int
    prev_posts: int
    is_new: bool = False


@dataclass(frozen=True)
class Facts:
    """The numbers the sentences are written from (None: unknown / not labelled)."""

    period: str  # "day" or "week"
    posts: int
    prev_posts: int
    lead_topic: TopicMove | None = None
    new_topics: list[str] = field(default_factory=list)
    net_sentiment: float | None = None
    prev_net_sentiment: float | None = None
    concern_share: float | None = None
    prev_concern_share: float | None = None
    top_entity: str | None = None
    top_entity_share: float | None = None
    top_entity_prev_share: float | None = None
    spike_at: datetime | None = None
    spike_posts: int = 0
    spike_topic: str | None = None
    peak_at: datetime | None = None
    peak_posts: int = 0


def _pct(x: float) -> str:
    return f"{x:.0%}"


def change(now: float, before: float) -> tuple[str, float | None]:
    """("rose"/"fell"/"held steady"/"appeared", relative change) of a count."""
    if before <= 0:
        return ("appeared", None) if now > 0 else ("held steady", 0.0)
    rel = (now - before) / before
    if abs(rel) < FLAT:
        return "held steady", rel
    return ("rose" if rel > 0 else "fell"), rel


def volume_sentence(f: Facts) -> str:
    """The first sentence: how volume moved and what led it."""
    if f.posts == 0 and f.prev_posts == 0:
        return f"There were no posts in this period, nor {BEFORE[f.period]}."
    if f.posts == 0:
        return f"There were no posts in this period, after {f.prev_posts:,} {BEFORE[f.period]}."
    verb, rel = change(f.posts, f.prev_posts)
    if verb == "appeared":
        text = f"{f.posts:,} posts, up from none {BEFORE[f.period]}"
    elif verb == "held steady":
        text = f"Posts held steady {OVER[f.period]} ({f.posts:,}, {rel:+.0%})"
    else:
        text = f"Posts {verb} {_pct(abs(rel))} {OVER[f.period]} to {f.posts:,}"
    lead = f.lead_topic
    if lead is not None and lead.posts > 0:
        if lead.is_new:
            text += f", led by the new topic '{lead.name}' ({lead.posts:,} posts)"
        elif lead.posts > lead.prev_posts:
            how = "led by" if verb in ("rose", "appeared") else "while"
            grew = "" if how == "led by" else " grew"
            text += (
                f", {how} the topic '{lead.name}'{grew} "
                f"({lead.prev_posts:,} → {lead.posts:,} posts)"
            )
    return text + "."


def spike_sentence(f: Facts) -> str | None:
    if f.spike_at is None:
        if f.peak_at is None or f.posts == 0:
            return None
        return f"The busiest hour was {f.peak_at:%d %b %H:00} UTC with {f.peak_posts:,} posts."
    text = f"Volume spiked at {f.spike_at:%d %b %H:00} UTC ({f.spike_posts:,} posts in the hour"
    text += f", mostly about '{f.spike_topic}')." if f.spike_topic else ")."
    return text


def new_topics_sentence(f: Facts) -> str | None:
    names = [
        n
        for n in f.new_topics
        if not (f.lead_topic and f.lead_topic.is_new and n == f.lead_topic.name)
    ]
    if not names:
        return None
    quoted = ", ".join(f"'{n}'" for n in names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"New topic{'s' if len(names) > 1 else ''} this {f.period}: {quoted}{more}."


def _finite(x: float | None) -> bool:
    return x is not None and not math.isnan(x)


def sentiment_sentence(f: Facts) -> str | None:
    if not _finite(f.net_sentiment):
        return None
    net = f.net_sentiment
    tone = "positive" if net > 0.1 else "negative" if net < -0.1 else "mixed"
    text = f"The tone was {tone} (net sentiment {net:+.2f}"
    if _finite(f.prev_net_sentiment):
        diff = (net - f.prev_net_sentiment) * 100
        if abs(diff) >= SHIFT_PTS:
            text += f", {'up' if diff > 0 else 'down'} {abs(diff):.0f} pts"
        else:
            text += ", about as before"
    return text + ")."


def concern_sentence(f: Facts) -> str | None:
    if not _finite(f.concern_share):
        return None
    text = f"{_pct(f.concern_share)} of copyright-labelled posts raised a copyright concern"
    if _finite(f.prev_concern_share):
        diff = (f.concern_share - f.prev_concern_share) * 100
        if abs(diff) >= SHIFT_PTS:
            text += f" ({'up' if diff > 0 else 'down'} from {_pct(f.prev_concern_share)})"
        else:
            text += f" (about as {BEFORE[f.period]})"
    return text + "."


def voice_sentence(f: Facts) -> str | None:
    if f.top_entity is None or not _finite(f.top_entity_share):
        return None
    text = (
        f"{f.top_entity} led the share of voice with {_pct(f.top_entity_share)} of entity mentions"
    )
    if _finite(f.top_entity_prev_share):
        diff = (f.top_entity_share - f.top_entity_prev_share) * 100
        if abs(diff) >= SHIFT_PTS:
            text += f" ({'up' if diff > 0 else 'down'} from {_pct(f.top_entity_prev_share)})"
    return text + "."


def sentences(f: Facts) -> list[str]:
    """The report's summary, most important first; only what the numbers support."""
    if f.posts == 0:
        return [volume_sentence(f)]
    parts = [
        volume_sentence(f),
        spike_sentence(f),
        new_topics_sentence(f),
        sentiment_sentence(f),
        concern_sentence(f),
        voice_sentence(f),
    ]
    return [p for p in parts if p]


def _value(x: object) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def facts_from(c: ReportContent) -> Facts:
    """The narrative's inputs, read off a gathered report."""
    posts = c.figure("Posts")
    net = c.figure("Net sentiment")
    concern = c.figure("Concern share")
    lead = None
    new: list[str] = []
    if not c.topics.empty:
        fresh = c.topics["is_new"] & (c.topics["posts"] >= MIN_NEW_POSTS)
        new = c.topics[fresh]["name"].tolist()
        best = c.topics.sort_values(["gain", "posts"], ascending=False).iloc[0]
        if best["gain"] > 0:
            lead = TopicMove(
                str(best["name"]),
                int(best["posts"]),
                int(best["previous_posts"]),
                bool(best["is_new"]),
            )
    entity = share = prev_share = None
    voiced = c.voice[c.voice["posts"] > 0] if not c.voice.empty else c.voice
    if not voiced.empty:
        top = voiced.iloc[0]
        entity, share, prev_share = (
            str(top["entity"]),
            _value(top["share"]),
            _value(top["prev_share"]),
        )
    spike_at = spike_topic = None
    spike_posts = 0
    peaks = pd.to_datetime(c.spikes["peak_hour"]) if not c.spikes.empty else None
    inside = (
        c.spikes[(peaks >= c.window.start_at) & (peaks < c.window.end_at)]
        if len(c.spikes)
        else c.spikes
    )
    if not inside.empty:
        biggest = inside.sort_values("peak_score", ascending=False).iloc[0]
        spike_at = pd.Timestamp(biggest["peak_hour"]).to_pydatetime()
        spike_posts = int(biggest["peak_posts"])
        topics = biggest["top_topics"]
        spike_topic = str(topics[0]) if topics is not None and len(topics) else None
    peak_at, peak_posts, _ = c.peak
    return Facts(
        period=c.window.period,
        posts=int(posts.value or 0),
        prev_posts=int(posts.previous or 0),
        lead_topic=lead,
        new_topics=new,
        net_sentiment=_value(net.value),
        prev_net_sentiment=_value(net.previous),
        concern_share=_value(concern.value),
        prev_concern_share=_value(concern.previous),
        top_entity=entity,
        top_entity_share=share,
        top_entity_prev_share=prev_share,
        spike_at=spike_at,
        spike_posts=spike_posts,
        spike_topic=spike_topic,
        peak_at=peak_at,
        peak_posts=peak_posts,
    )
