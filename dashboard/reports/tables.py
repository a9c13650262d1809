"""The report's tables as text cells, shared by the HTML and Markdown renderers."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from dashboard.charts import platform_name
from dashboard.metrics import Figure, points
from dashboard.reports.content import ReportContent

TEXT_CHARS = 220


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    numeric: tuple[int, ...] = ()
    """Indices of right-aligned columns."""

    def __bool__(self) -> bool:
        return bool(self.rows)


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT


def count(x: object) -> str:
    return "—" if _missing(x) else f"{int(x):,}"  # type: ignore[call-overload]


def share(x: object) -> str:
    return "—" if _missing(x) else f"{float(x):.1%}"  # type: ignore[arg-type]


def hour(x: object) -> str:
    return "—" if _missing(x) else f"{pd.Timestamp(x):%d %b %H:00}"


def minute(x: object) -> str:
    return "—" if _missing(x) else f"{pd.Timestamp(x):%d %b %H:%M}"


def clip(text: object, n: int = TEXT_CHARS) -> str:
    t = "" if _missing(text) else " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1].rstrip() + "…"


def change(f: Figure) -> str:
    """A headline figure's change vs the previous period, short ("+34%", "-2.1 pts", "new")."""
    text = f.delta()
    if text is None:
        return "new" if f.kind == "count" and f.value and not f.previous else "—"
    return text.removesuffix(" vs previous period")


def headline(c: ReportContent) -> Table:
    before = "day before" if c.window.period == "day" else "week before"
    rows = [[f.label, f.text(), replace(f, value=f.previous).text(), change(f)] for f in c.figures]
    peak, posts, prev_peak = c.peak
    rows.append(
        [
            "Peak hour (UTC)",
            f"{peak:%d %b %H:00} · {posts:,} posts" if peak is not None else "—",
            f"{prev_peak:,} posts" if prev_peak else "—",
            "",
        ]
    )
    return Table(["Figure", "This period", f"The {before}", "Change"], rows, (1, 2, 3))


def spikes(c: ReportContent) -> Table:
    """The period's spikes, strongest first."""
    rows = []
    for s in c.spikes.sort_values("peak_score", ascending=False).head(8).to_dict("records"):
        topics = s.get("top_topics")
        names = ", ".join(str(t) for t in list(topics)[:2]) if topics is not None else ""
        base = s.get("peak_baseline")
        hours = int((s["end_hour"] - s["start_hour"]) / pd.Timedelta(hours=1)) + 1
        rows.append(
            [
                hour(s["peak_hour"]),
                f"{hours} h",
                count(s["posts"]),
                count(s["peak_posts"]),
                "—" if _missing(base) else f"{float(base):.0f}",
                f"{float(s['peak_score']):.1f}",
                names or "—",
            ]
        )
    columns = ["Peak hour (UTC)", "Length", "Posts", "At peak", "Usual", "Score", "Top topics"]
    return Table(columns, rows, (1, 2, 3, 4, 5))


def events(c: ReportContent) -> Table:
    rows = [
        [str(i + 1), hour(e["event_at"]), clip(e["title"], 120), str(e["kind"] or "")]
        for i, e in enumerate(c.events.to_dict("records"))
    ]
    return Table(["#", "When (UTC)", "Event", "Kind"], rows)


def sentiment(c: ReportContent) -> Table:
    total = sum(c.sentiment_totals.values())
    got = c.sentiment_totals
    names = ("positive", "neutral", "negative") if total else ()
    rows = [[name, count(got.get(name, 0)), share(got.get(name, 0) / total)] for name in names]
    return Table(["Sentiment", "Posts", "Share"], rows, (1, 2))


def topics(c: ReportContent, limit: int = 8) -> Table:
    rows = []
    for t in c.topics.head(limit).to_dict("records"):
        if t["is_new"]:
            change = "new"
        elif _missing(t["growth"]):
            change = "—"
        else:
            change = f"{float(t['growth']):+.0%}"
        rows.append(
            [
                clip(t["name"], 60),
                count(t["posts"]),
                share(t["share"]),
                count(t["previous_posts"]),
                change,
            ]
        )
    return Table(["Topic", "Posts", "Share", "Before", "Change"], rows, (1, 2, 3, 4))


def voice(c: ReportContent) -> Table:
    rows = []
    for v in c.voice.to_dict("records"):
        if not v["posts"] and not (v.get("prev_posts") or 0):
            continue
        diff = (
            "—"
            if _missing(v["share"]) or _missing(v.get("prev_share"))
            else points(float(v["share"]) - float(v["prev_share"]))
        )
        rows.append([str(v["entity"]), str(v["kind"]), count(v["posts"]), share(v["share"]), diff])
    return Table(["Entity", "Kind", "Mentions", "Share of voice", "Change"], rows, (2, 3, 4))


def _who(p: dict) -> str:
    author = "" if _missing(p["author"]) else f"@{p['author']}"
    return (
        f"{author} ({platform_name(str(p['platform']))})"
        if author
        else platform_name(str(p["platform"]))
    )


def posts(frame: pd.DataFrame) -> Table:
    """Posts: when, who (platform), engagement, sentiment, text, link."""
    rows = [
        [
            minute(p["created_at"]),
            _who(p),
            count(p["engagement"]),
            "—" if _missing(p["sentiment"]) else str(p["sentiment"]),
            clip(p["text"]),
            "" if _missing(p["url"]) else str(p["url"]),
        ]
        for p in frame.to_dict("records")
    ]
    return Table(["When (UTC)", "Author", "Engagement", "Sentiment", "Text", "Link"], rows, (2,))


def alerts(c: ReportContent) -> Table:
    rows = [[hour(a["bucket_start"]), str(a["rule"]), clip(a["message"], 160)]
            for a in c.alerts.to_dict("records")]  # fmt: skip
    return Table(["When (UTC)", "Rule", "Alert"], rows)


def indices_summary(c: ReportContent) -> Table:
    """Mean (weighted by labelled posts) and peak of the hype and debate indices."""
    frame = c.indices
    rows = []
    for column, name in (("hype", "Hype index"), ("debate", "Debate index")):
        values = frame[column].dropna() if column in frame else pd.Series(dtype=float)
        if values.empty:
            continue
        weights = frame.loc[values.index, "labelled"].astype(float)
        mean = (values * weights).sum() / weights.sum() if weights.sum() else values.mean()
        top = frame.loc[values.idxmax()]
        when = hour(top["bucket"]) if c.grain == "hour" else f"{pd.Timestamp(top['bucket']):%d %b}"
        rows.append([name, f"{mean:.1f}", f"{values.max():.1f}", when])
    return Table(["Index", "Mean", "Peak", f"Peak {c.grain} (UTC)"], rows, (1, 2))
