"""Figures derived from query results: headline numbers with their change, zero-filled
series, and the fallback volume-spike rule for warehouses the trends stage has not seen.

Pure pandas, no Streamlit: the pages and the scheduled reports share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

SPIKE_WINDOW = {"hour": 24, "day": 7}
"""Trailing buckets a spike is compared with."""
SPIKE_MIN_POSTS = 10


@dataclass(frozen=True)
class Figure:
    """One headline number, its previous-period value and how to show it."""

    label: str
    value: float | None
    previous: float | None
    kind: str  # "count", "share" or "signed" (net sentiment, -1..1)
    help: str = ""

    def text(self) -> str:
        return _fmt(self.value, self.kind)

    def delta(self) -> str | None:
        if self.value is None or self.previous is None:
            return None
        if self.kind == "count":
            if not self.previous:
                return None
            return f"{(self.value - self.previous) / self.previous:+.0%} vs previous period"
        return f"{points(self.value - self.previous)} vs previous period"


def points(diff: float) -> str:
    """A change of a share in percentage points, "+2.1 pts"; no sign when it rounds to 0."""
    value = round(diff * 100, 1)
    return "0.0 pts" if value == 0 else f"{value:+.1f} pts"


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "share":
        return f"{value:.1%}"
    if kind == "signed":
        return f"{value:+.2f}"
    return f"{value:,.0f}"


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def headline_figures(headline: pd.DataFrame) -> list[Figure]:
    """Posts, authors, engagement, net sentiment and concern share, now and before."""
    rows = {r["period"]: r for r in headline.to_dict("records")}
    empty = {
        "posts": 0,
        "authors": 0,
        "engagement": 0,
        "sentiment_labelled": 0,
        "positive": 0,
        "negative": 0,
        "copyright_labelled": 0,
        "concern": 0,
    }
    cur, prev = rows.get("current", empty), rows.get("previous", empty)

    def net(r: dict) -> float | None:
        return _ratio(r["positive"] - r["negative"], r["sentiment_labelled"])

    def concern(r: dict) -> float | None:
        return _ratio(r["concern"], r["copyright_labelled"])

    def count(r: dict, key: str) -> float:
        value = r[key]
        return 0.0 if value is None or pd.isna(value) else float(value)

    return [
        Figure("Posts", count(cur, "posts"), count(prev, "posts"), "count"),
        Figure("Authors", count(cur, "authors"), count(prev, "authors"), "count",
               "Distinct accounts that posted."),
        Figure("Engagement", count(cur, "engagement"), count(prev, "engagement"), "count",
               "Likes + reposts + replies + quotes (latest counts)."),
        Figure("Net sentiment", net(cur), net(prev), "signed",
               "(positive − negative) / labelled posts, from −1 to +1."),
        Figure("Concern share", concern(cur), concern(prev), "share",
               "Share of labelled posts that raise a copyright concern."),
    ]  # fmt: skip


def peak_hour(peaks: pd.DataFrame) -> tuple[datetime | None, int, int | None]:
    """(busiest UTC hour of the period, its posts, the previous period's peak posts)."""
    rows = {r["period"]: r for r in peaks.to_dict("records")}
    cur, prev = rows.get("current"), rows.get("previous")
    if cur is None:
        return None, 0, None
    return cur["hour"], int(cur["posts"]), (int(prev["posts"]) if prev else None)


def complete_series(
    frame: pd.DataFrame, start: datetime, end: datetime, grain: str, value: str = "posts"
) -> pd.Series:
    """Totals per bucket over ``[start, end)``, zero-filled (no gaps for quiet hours)."""
    freq = "h" if grain == "hour" else "D"
    index = pd.date_range(start, end, freq=freq, inclusive="left", name="bucket")
    if frame.empty:
        return pd.Series(0, index=index, name=value, dtype="int64")
    totals = frame.groupby("bucket")[value].sum()
    totals.index = pd.DatetimeIndex(totals.index)
    return totals.reindex(index, fill_value=0).astype("int64").rename(value)


def detect_spikes(totals: pd.Series, threshold: float, grain: str = "hour") -> pd.DataFrame:
    """Buckets whose volume stands out from the trailing window:
    ``bucket, posts, baseline, score`` (:func:`fallback_rule` says it in words).

    score = (posts - trailing mean) / max(trailing std, sqrt(trailing mean), 1): a z-score
    whose floor is the Poisson noise of the baseline (the trailing mean). A spike has
    ``score >= threshold`` and at least :data:`SPIKE_MIN_POSTS` posts. A bucket needs half a
    window of history to be scored, so pass a series that starts :data:`SPIKE_WINDOW`
    buckets before the period (``trend_queries.volume_rule_spikes`` does). A fallback
    only: where `hypewatch trends` ran, the pages and reports show the spikes it stores
    (docs/metrics.md).
    """
    window = SPIKE_WINDOW[grain]
    history = totals.shift(1).rolling(window, min_periods=max(3, window // 2))
    mean, std = history.mean(), history.std()
    floor = np.maximum(np.maximum(std.fillna(0), np.sqrt(mean.fillna(0))), 1.0)
    score = (totals - mean) / floor
    hits = (score >= threshold) & (totals >= SPIKE_MIN_POSTS)
    out = pd.DataFrame(
        {
            "bucket": totals.index,
            "posts": totals.values,
            "baseline": mean.values,
            "score": score.values,
        }
    )
    return out[hits.values].reset_index(drop=True)


def fallback_rule(threshold: float) -> str:
    """One sentence saying how :func:`detect_spikes` finds spikes (the pages and reports
    show it next to spikes found without the trends stage)."""
    return (
        f"hours whose posts are at least {threshold:g} standard deviations above the mean of "
        f"the {SPIKE_WINDOW['hour']} hours before (at least {SPIKE_MIN_POSTS} posts), "
        "consecutive hours merged, all platforms and languages"
    )


def shares(frame: pd.DataFrame, by: str, category: str, value: str = "posts") -> pd.DataFrame:
    """Add ``share``: each row's ``value`` over its ``by`` group's total."""
    out = frame.copy()
    totals = out.groupby(by)[value].transform("sum")
    out["share"] = out[value] / totals.where(totals > 0)
    return out.sort_values([by, category])
