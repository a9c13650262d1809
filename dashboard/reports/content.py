"""Every number of a report, gathered for one campaign and period on a read-only connection.

The figures come from the dashboard's own query functions (:mod:`dashboard.queries`,
:mod:`dashboard.trend_queries`, :mod:`dashboard.metrics`), so a report and the dashboard
over the same dates agree; spikes too (``trend_queries.period_spikes``: the stored ones, or
the same fallback volume rule as the Overview, labelled as such). Topics, indices and alerts
are empty (and the report says why) when the topics or trends stage has not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import duckdb
import pandas as pd

from dashboard import metrics, queries, trend_queries
from dashboard.queries import Filters, PostFilters
from warehouse.read import relation_exists

Period = Literal["day", "week"]
PERIODS: tuple[str, ...] = ("day", "week")
PERIOD_DAYS = {"day": 1, "week": 7}
GRAIN = {"day": "hour", "week": "day"}
"""Buckets of the sentiment, indices, topics and concern charts: hours in a daily report,
days in a weekly one (the volume chart is always hourly)."""
END_RULE = (
    "the last UTC day with posts for the campaign that is complete: it has ended, and the "
    "newest post stored for the campaign was collected after it ended"
)
NOTABLE_POSTS = 5
DEBATE_POSTS = 5
TOPIC_ROWS = 8


class ReportError(ValueError):
    """Bad report input (unknown campaign or format, bad date, no browser for PDF)."""


@dataclass(frozen=True)
class Window:
    """A report's period (:class:`~dashboard.queries.Filters` of the campaign: inclusive UTC
    days) and its name; ``previous`` is the period of the same length just before."""

    period: Period
    f: Filters

    @classmethod
    def ending(cls, period: Period, end: date, campaign: str | None = None) -> Window:
        if period not in PERIODS:
            raise ReportError(f"unknown period {period!r}: use one of {', '.join(PERIODS)}")
        return cls(period, Filters(campaign, end - timedelta(days=PERIOD_DAYS[period] - 1), end))

    @property
    def start(self) -> date:
        return self.f.start

    @property
    def end(self) -> date:
        return self.f.end

    @property
    def start_at(self) -> datetime:
        return self.f.start_at

    @property
    def end_at(self) -> datetime:
        """Exclusive end: midnight after ``end``."""
        return self.f.end_at

    @property
    def previous(self) -> Window:
        return Window(self.period, self.f.previous())

    def label(self) -> str:
        if self.start == self.end:
            return f"{self.end:%A %d %B %Y}"
        return f"{self.start:%d %B} – {self.end:%d %B %Y}"


def utc_naive(at: datetime | None) -> datetime:
    """``at`` (now when None) as a naive UTC datetime; an aware one is converted to UTC first,
    a naive one is taken as UTC already."""
    at = at or datetime.now(UTC)
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


@dataclass
class ReportContent:
    """What a report shows; every frame is a query result, possibly empty."""

    campaign: str
    title: str
    window: Window
    end_rule: str
    generated_at: datetime
    simulated: bool
    posts: int
    figures: list[metrics.Figure]
    last_post: datetime | None
    peak: tuple[datetime | None, int, int | None]
    volume: pd.DataFrame
    totals: pd.Series
    events: pd.DataFrame
    spikes: pd.DataFrame
    spikes_stored: bool
    spike_rule: str
    """How the spikes were found, when not stored by the trends stage (a sentence)."""
    sentiment: pd.DataFrame
    sentiment_totals: dict[str, int]
    concern: pd.DataFrame
    debate_posts: pd.DataFrame
    voice: pd.DataFrame
    topics: pd.DataFrame
    topics_over_time: pd.DataFrame
    topics_available: bool
    indices: pd.DataFrame
    alerts: pd.DataFrame
    notable: pd.DataFrame
    stale_aggregates: bool

    @property
    def empty(self) -> bool:
        return self.posts == 0

    @property
    def grain(self) -> str:
        return GRAIN[self.window.period]

    def figure(self, label: str) -> metrics.Figure:
        return figure(self.figures, label)

    @property
    def after_last_post(self) -> bool:
        """The period starts after the newest post stored for the campaign (or none is)."""
        return self.last_post is None or self.last_post < self.window.start_at


def figure(figures: list[metrics.Figure], label: str) -> metrics.Figure:
    """The headline figure called ``label``."""
    return next(f for f in figures if f.label == label)


def after_last_post(c: ReportContent) -> str:
    """For an empty period after the campaign's newest post: a sentence saying so."""
    if c.last_post is None:
        return f"The warehouse holds no posts of {c.campaign} at all yet."
    return (
        f"This period starts after the newest post stored for {c.campaign} "
        f"({c.last_post:%Y-%m-%d %H:%M} UTC): collect newer posts first "
        f"(hypewatch collect --campaign {c.campaign})."
    )


def campaign_row(con: duckdb.DuckDBPyConnection, campaign: str) -> dict[str, Any]:
    """The campaign's row, or a :class:`ReportError` naming the campaigns that exist."""
    rows = queries.campaigns(con)
    match = rows[rows["campaign"] == campaign]
    if match.empty:
        known = ", ".join(sorted(rows["campaign"])) or "none"
        raise ReportError(f"unknown campaign {campaign!r}: this warehouse has {known}")
    return match.iloc[0].to_dict()


def default_end(con: duckdb.DuckDBPyConnection, campaign: str, now: datetime | None = None) -> date:
    """The report's default last day (:data:`END_RULE`); yesterday (UTC) without posts."""
    now = utc_naive(now)
    found = con.execute(
        """
        WITH seen AS (SELECT max(collected_at) AS at FROM posts WHERE campaign = $c)
        SELECT max(p.created_at::DATE) FROM posts p, seen
        WHERE p.campaign = $c
          AND p.created_at::DATE + INTERVAL 1 DAY <= least(seen.at, $now)
        """,
        {"c": campaign, "now": now},
    ).fetchone()[0]
    return found if found is not None else (now - timedelta(days=1)).date()


def gather(
    con: duckdb.DuckDBPyConnection,
    campaign: str,
    period: Period,
    end: date | None = None,
    now: datetime | None = None,
) -> ReportContent:
    """Every number and table of the report for ``campaign`` over the period ending ``end``."""
    row = campaign_row(con, campaign)
    now = utc_naive(now)
    if end is not None and end > now.date():
        raise ReportError(
            f"--end {end} has not happened yet (today is {now:%Y-%m-%d} UTC): give a past "
            "day, or leave --end out for the last complete day with data"
        )
    end_rule = "given explicitly" if end is not None else END_RULE
    window = Window.ending(period, end or default_end(con, campaign, now), campaign)
    f = window.f
    facets = queries.facets(con, campaign)
    figures = metrics.headline_figures(queries.headline(con, f))
    posts = int(figure(figures, "Posts").value or 0)
    volume = queries.volume(con, f, "hour", "platform")
    totals = metrics.complete_series(volume, f.start_at, f.end_at, "hour")
    stored = trend_queries.has_trends(con, f)
    grain = GRAIN[period]
    sentiment = queries.sentiment_over_time(con, f, grain)
    if not sentiment.empty:
        sentiment = metrics.shares(sentiment, "bucket", "sentiment")
    by_label = sentiment.groupby("sentiment")["posts"].sum() if len(sentiment) else {}
    topics_available = not trend_queries.topic_runs(con, f).empty
    alerts = trend_queries.alerts(con, f)
    return ReportContent(
        campaign=campaign,
        title=str(row["title"]),
        window=window,
        end_rule=end_rule,
        generated_at=now.replace(microsecond=0),
        simulated=bool(facets["simulated"]),
        posts=posts,
        figures=figures,
        last_post=facets["last"],
        peak=metrics.peak_hour(queries.peak_hours(con, f)),
        volume=volume,
        totals=totals,
        events=queries.events(con, f),
        spikes=trend_queries.period_spikes(con, f),
        spikes_stored=stored,
        spike_rule=""
        if stored
        else metrics.fallback_rule(trend_queries.spike_threshold(con, campaign)),
        sentiment=sentiment,
        sentiment_totals={str(k): int(v) for k, v in dict(by_label).items()},
        concern=queries.concern_over_time(con, f, grain),
        debate_posts=_debate_posts(con, f),
        voice=_voice(con, f, window.previous.f),
        topics=_topics(con, f, facets["first"]) if topics_available else pd.DataFrame(),
        topics_over_time=trend_queries.topics_over_time(con, f, grain, top=TOPIC_ROWS)
        if topics_available
        else pd.DataFrame(),
        topics_available=topics_available,
        indices=trend_queries.indices(con, f, grain),
        alerts=alerts.sort_values("bucket_start", ignore_index=True),
        notable=_notable(con, f),
        stale_aggregates=bool(facets["stale"]),
    )


def _debate_posts(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """The period's most engaged posts labelled as raising a copyright concern."""
    return queries.posts(
        con, f, PostFilters(copyright="concern", sort="engagement", limit=DEBATE_POSTS)
    )


def _voice(con: duckdb.DuckDBPyConnection, f: Filters, prev: Filters) -> pd.DataFrame:
    """Share of voice per tracked entity, with the previous period's share."""
    now = queries.mention_totals(con, f)
    before = queries.mention_totals(con, prev)[["entity", "posts", "share"]]
    before = before.rename(columns={"posts": "prev_posts", "share": "prev_share"})
    return now.merge(before, on="entity", how="left")


def _topics(con: duckdb.DuckDBPyConnection, f: Filters, first: datetime | None) -> pd.DataFrame:
    """``trend_queries.topic_overview`` of the period (flagged posts left out, outliers
    too), ordered by posts gained over the previous period, with ``is_new``: the topic had
    no post before the period."""
    frame = trend_queries.topic_overview(con, f, limit=100, representatives=0)
    if frame.empty:
        return frame.assign(is_new=pd.Series(dtype=bool))
    before = set()
    if first is not None and first.date() < f.start:
        earlier = Filters(f.campaign, first.date(), f.start - timedelta(days=1))
        seen = trend_queries.topic_overview(con, earlier, limit=1000, representatives=0)
        before = set(zip(seen["run_id"], seen["topic_id"], strict=True))
    keys = zip(frame["run_id"], frame["topic_id"], strict=True)
    frame["is_new"] = [key not in before for key in keys]
    frame["gain"] = frame["posts"] - frame["previous_posts"]
    ordered = frame.sort_values(["gain", "posts", "topic_id"], ascending=[False, False, True])
    return ordered.head(TOPIC_ROWS).reset_index(drop=True)


def _notable(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """The period's most engaged posts, near-duplicate and bot-like posts left out."""
    top = queries.posts(con, f, PostFilters(sort="engagement", limit=4 * NOTABLE_POSTS))
    if top.empty or not relation_exists(con, "post_flags"):
        return top.head(NOTABLE_POSTS)
    ids = top["post_id"].tolist()
    flagged = {
        r[0]
        for r in con.execute(
            "SELECT post_id FROM post_flags WHERE list_contains($ids, post_id)", {"ids": ids}
        ).fetchall()
    }
    return top[~top["post_id"].isin(flagged)].head(NOTABLE_POSTS).reset_index(drop=True)
