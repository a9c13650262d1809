"""The one place that builds each Plotly figure (the pages and the scheduled reports).

Figures take query results (:mod:`dashboard.queries`) and return ``go.Figure``; they fix
only what carries meaning (sentiment and platform colours, axis titles with units and UTC)
and leave the background and fonts to the theme, so they read in light and dark themes
(Streamlit applies its own; reports use :data:`REPORT_TEMPLATE`).
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go

REPORT_TEMPLATE = "plotly_white"
SENTIMENT_COLORS = {"negative": "#d9534f", "neutral": "#8c96a3", "positive": "#2ca25f"}
PLATFORM_COLORS = {
    "x": "#4c78a8",
    "bluesky": "#72b7b2",
    "mastodon": "#b279a2",
    "reddit": "#f58518",
    "hn": "#e45756",
    "file": "#9d755d",
}
PLATFORM_NAMES = {
    "x": "X",
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
    "reddit": "Reddit",
    "hn": "Hacker News",
    "file": "File import",
}
LANGUAGE_NAMES = {
    "en": "English", "ja": "Japanese", "es": "Spanish", "pt": "Portuguese", "fr": "French",
    "de": "German", "it": "Italian", "ko": "Korean", "zh": "Chinese", "und": "unknown",
}  # fmt: skip
KIND_COLORS = {"subject": "#4c78a8", "competitor": "#f58518", "related": "#9ca3af",
               "topic": "#9ca3af"}  # fmt: skip
"""Share-of-voice bars: the campaign's subject, its competitors, the rest."""
CONCERN_COLOR = "#c2410c"
SPIKE_COLOR = "#c026d3"
EVENT_COLOR = "#6b7280"
HEIGHT = 380


def platform_name(code: str) -> str:
    return PLATFORM_NAMES.get(code, code)


def language_name(code: str) -> str:
    name = LANGUAGE_NAMES.get(code)
    return f"{name} ({code})" if name and code != "und" else (name or code)


def _label(dimension: str, code: str) -> str:
    return platform_name(code) if dimension == "platform" else language_name(code)


def _per(grain: str) -> str:
    return "hour" if grain == "hour" else "day"


def _layout(fig: go.Figure, *, title: str | None = None, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 10, "r": 10, "t": 60 if title else 30, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hovermode="x unified",
    )
    return fig


def _time_axis(fig: go.Figure, grain: str) -> None:
    fig.update_xaxes(title_text=f"Time (UTC, {'hourly' if grain == 'hour' else 'daily'} buckets)")


def empty(message: str) -> go.Figure:
    """A blank figure carrying a message (no data for the filters)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=200)


def _spike_label(row: dict) -> str:
    hours = int((row["end_hour"] - row["start_hour"]) / pd.Timedelta(hours=1)) + 1
    topics = row.get("top_topics")
    topics = list(topics) if isinstance(topics, list | tuple | np.ndarray) else []
    lines = [
        f"<b>Spike {row['spike_id']}</b>: {row['posts']:,} posts in {hours} h "
        f"({row['start_hour']:%b %d %H:00}–{row['end_hour']:%H:59} UTC)",
        f"peak {row['peak_hour']:%b %d %H:00} UTC: {row['peak_posts']:,} posts, "
        f"score {row['peak_score']:.1f}",
    ]
    if topics:
        lines.append("top topics: " + "; ".join(escape(str(t)) for t in topics))
    return "<br>".join(lines)


def volume_timeline(
    volume: pd.DataFrame,
    totals: pd.Series,
    events: pd.DataFrame,
    spikes: pd.DataFrame | None = None,
    grain: str = "hour",
    dimension: str = "platform",
) -> go.Figure:
    """Stacked posts per bucket and platform (or language), event markers and the spikes
    (``trend_queries.period_spikes``: stored by the trends stage, or the fallback volume
    rule, one shape): each spike's hours shaded, a marker on its peak bucket whose hover
    gives its posts, score and top topics."""
    if totals.sum() == 0:
        return empty("No posts for these filters")
    fig = go.Figure()
    for code, part in volume.groupby("series", sort=False):
        fig.add_trace(
            go.Bar(
                x=part["bucket"],
                y=part["posts"],
                name=_label(dimension, code),
                marker_color=PLATFORM_COLORS.get(code) if dimension == "platform" else None,
                hovertemplate="%{y:,} posts<extra>%{fullData.name}</extra>",
            )
        )
    top = float(totals.max()) * 1.08
    if not events.empty:
        for at in events["event_at"]:
            fig.add_vline(x=at, line_width=1, line_dash="dot", line_color=EVENT_COLOR)
        fig.add_trace(
            go.Scatter(
                x=events["event_at"],
                y=[top] * len(events),
                mode="markers+text",
                text=[str(i + 1) for i in range(len(events))],
                textposition="top center",
                marker={"symbol": "triangle-down", "size": 11, "color": EVENT_COLOR},
                name="Events",
                customdata=events["title"],
                hovertemplate="%{customdata}<extra>event</extra>",
            )
        )
    if spikes is not None and not spikes.empty:
        rows = spikes.to_dict("records")
        if grain == "hour":
            for row in rows:
                fig.add_vrect(
                    x0=row["start_hour"],
                    x1=row["end_hour"] + pd.Timedelta(hours=1),
                    fillcolor=SPIKE_COLOR,
                    opacity=0.15,
                    line_width=0,
                    layer="below",
                )
        peaks = [pd.Timestamp(r["peak_hour"]).floor("h" if grain == "hour" else "D") for r in rows]
        fig.add_trace(
            go.Scatter(
                x=peaks,
                y=[float(totals.get(p, 0)) for p in peaks],
                mode="markers",
                marker={"symbol": "circle-open", "size": 14, "line": {"width": 2.5},
                        "color": SPIKE_COLOR},
                name="Spike (peak)",
                text=[_spike_label(r) for r in rows],
                hovertemplate="%{text}<extra></extra>",
            )
        )  # fmt: skip
    fig.update_layout(barmode="stack", bargap=0.05)
    fig.update_yaxes(title_text=f"Posts per {_per(grain)}", rangemode="tozero")
    _time_axis(fig, grain)
    return _layout(fig, height=420)


INDEX_COLORS = {"hype": "#2ca25f", "debate": "#c2410c"}


def indices_over_time(frame: pd.DataFrame, grain: str = "hour") -> go.Figure:
    """The hype and debate indices (0–100) per bucket (``trend_queries.indices``)."""
    if frame.empty or frame[["hype", "debate"]].isna().all().all():
        return empty("No index for these filters (too few labelled posts per hour)")
    fig = go.Figure()
    for column, name in (("hype", "Hype index"), ("debate", "Debate index")):
        fig.add_trace(
            go.Scatter(
                x=frame["bucket"],
                y=frame[column],
                name=name,
                mode="lines+markers" if len(frame) < 40 else "lines",
                line={"color": INDEX_COLORS[column], "width": 2},
                connectgaps=False,
                customdata=frame["posts"],
                hovertemplate="%{y:.1f} (%{customdata:,} posts)",
            )
        )
    fig.update_yaxes(title_text="Index (0–100)", range=[0, 100])
    _time_axis(fig, grain)
    return _layout(fig)


def topics_over_time(frame: pd.DataFrame, grain: str = "day") -> go.Figure:
    """Posts per bucket and topic, stacked areas (``trend_queries.topics_over_time``)."""
    if frame.empty:
        return empty("No topic-assigned posts for these filters")
    wide = frame.pivot_table(
        index="bucket", columns="name", values="posts", aggfunc="sum", fill_value=0
    )
    freq = "h" if grain == "hour" else "D"
    wide = wide.reindex(pd.date_range(wide.index.min(), wide.index.max(), freq=freq), fill_value=0)
    order = [n for n in wide.sum().sort_values(ascending=False).index if n != "Other topics"]
    if "Other topics" in wide.columns:
        order.append("Other topics")
    palette = TOPIC_PALETTE
    fig = go.Figure()
    for i, name in enumerate(order):
        color = EVENT_COLOR if name == "Other topics" else palette[i % len(palette)]
        fig.add_trace(
            go.Scatter(
                x=wide.index,
                y=wide[name],
                name=escape(str(name)),
                stackgroup="topics",
                mode="lines",
                line={"width": 0.5, "color": color},
                hovertemplate="%{y:,} posts<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_yaxes(title_text=f"Posts per {_per(grain)}", rangemode="tozero")
    _time_axis(fig, grain)
    fig.update_layout(hovermode="closest")
    return _layout(fig, height=460)


TOPIC_PALETTE = [
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2",
    "#ff9da6", "#9d755d", "#bab0ac", "#1f77b4", "#17becf",
]  # fmt: skip


def sentiment_over_time(frame: pd.DataFrame, grain: str = "day") -> go.Figure:
    """Share of each sentiment among labelled posts per bucket (stacked to 100%)."""
    if frame.empty:
        return empty("No labelled posts for these filters")
    fig = go.Figure()
    for sentiment in SENTIMENT_COLORS:
        part = frame[frame["sentiment"] == sentiment]
        fig.add_trace(
            go.Scatter(
                x=part["bucket"],
                y=part["share"],
                name=sentiment,
                stackgroup="one",
                mode="lines",
                line={"width": 0.5, "color": SENTIMENT_COLORS[sentiment]},
                customdata=part["posts"],
                hovertemplate="%{y:.1%} (%{customdata:,} posts)",
            )
        )
    fig.update_yaxes(title_text="Share of labelled posts (%)", tickformat=".0%", range=[0, 1])
    _time_axis(fig, grain)
    return _layout(fig)


def sentiment_by(frame: pd.DataFrame, dimension: str) -> go.Figure:
    """Sentiment shares per platform or language (horizontal bars stacked to 100%)."""
    if frame.empty:
        return empty("No labelled posts for these filters")
    fig = go.Figure()
    order = frame.groupby("series")["posts"].sum().sort_values().index.tolist()
    for sentiment in SENTIMENT_COLORS:
        part = frame[frame["sentiment"] == sentiment].set_index("series").reindex(order)
        fig.add_trace(
            go.Bar(
                y=[_label(dimension, c) for c in order],
                x=part["share"],
                orientation="h",
                name=sentiment,
                marker_color=SENTIMENT_COLORS[sentiment],
                customdata=part["posts"],
                hovertemplate="%{x:.1%} (%{customdata:,} posts)",
            )
        )
    fig.update_layout(barmode="stack", hovermode="y unified")
    fig.update_xaxes(title_text="Share of labelled posts (%)", tickformat=".0%", range=[0, 1])
    return _layout(fig, height=max(220, 48 * len(order) + 110))


def concern_over_time(frame: pd.DataFrame, grain: str = "day") -> go.Figure:
    """Copyright-concern share per bucket (line) over labelled posts per bucket (bars)."""
    if frame.empty:
        return empty("No posts labelled for copyright concern yet")
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=frame["bucket"],
            y=frame["labelled"],
            name=f"Labelled posts per {_per(grain)}",
            marker_color=EVENT_COLOR,
            opacity=0.35,
            yaxis="y2",
            hovertemplate="%{y:,} labelled",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=frame["bucket"],
            y=frame["share"],
            name="Concern share",
            mode="lines+markers" if len(frame) < 40 else "lines",
            line={"color": CONCERN_COLOR, "width": 2.5},
            customdata=frame["concern"],
            hovertemplate="%{y:.1%} (%{customdata:,} posts)",
        )
    )
    fig.update_layout(
        yaxis={"title": {"text": "Concern share (%)"}, "tickformat": ".0%", "rangemode": "tozero"},
        yaxis2={
            "title": {"text": f"Labelled posts per {_per(grain)}"},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "rangemode": "tozero",
        },
    )
    _time_axis(fig, grain)
    return _layout(fig)


def concern_by(frame: pd.DataFrame, dimension: str) -> go.Figure:
    """Copyright-concern share per platform or language."""
    if frame.empty:
        return empty("No posts labelled for copyright concern yet")
    ordered = frame.sort_values("share")
    fig = go.Figure(
        go.Bar(
            y=[_label(dimension, c) for c in ordered["series"]],
            x=ordered["share"],
            orientation="h",
            marker_color=CONCERN_COLOR,
            text=[f"{v:.0%}" for v in ordered["share"]],
            textposition="auto",
            customdata=ordered[["concern", "labelled"]].to_numpy(),
            hovertemplate="%{x:.1%}: %{customdata[0]:,} of %{customdata[1]:,} labelled posts"
            "<extra></extra>",
            name="Concern share",
        )
    )
    fig.update_xaxes(title_text="Concern share of labelled posts (%)", tickformat=".0%")
    fig.update_layout(hovermode="closest", showlegend=False)
    return _layout(fig, height=max(220, 40 * len(ordered) + 100))


def mentions_over_time(frame: pd.DataFrame, grain: str = "day") -> go.Figure:
    """Posts mentioning each tracked entity per bucket (one line per entity)."""
    if frame.empty:
        return empty("No tracked entity is mentioned for these filters")
    fig = go.Figure()
    order = frame.groupby("entity")["posts"].sum().sort_values(ascending=False).index
    for entity in order:
        part = frame[frame["entity"] == entity]
        fig.add_trace(
            go.Scatter(
                x=part["bucket"],
                y=part["posts"],
                name=entity,
                mode="lines+markers" if len(part) < 40 else "lines",
                hovertemplate="%{y:,} posts",
            )
        )
    fig.update_yaxes(title_text=f"Posts mentioning it per {_per(grain)}", rangemode="tozero")
    _time_axis(fig, grain)
    return _layout(fig, height=420)


def share_of_voice(totals: pd.DataFrame) -> go.Figure:
    """Each entity's share of all entity mentions (horizontal bars)."""
    data = totals[totals["posts"] > 0].sort_values("posts")
    if data.empty:
        return empty("No tracked entity is mentioned for these filters")
    fig = go.Figure(
        go.Bar(
            y=data["entity"],
            x=data["share"],
            orientation="h",
            marker_color=[KIND_COLORS.get(k, KIND_COLORS["related"]) for k in data["kind"]],
            text=[f"{v:.0%}" for v in data["share"]],
            textposition="auto",
            customdata=data[["posts", "kind"]].to_numpy(),
            hovertemplate="%{x:.1%} of mentions (%{customdata[0]:,} posts, %{customdata[1]})"
            "<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Share of all entity mentions (%)", tickformat=".0%")
    fig.update_layout(hovermode="closest", showlegend=False)
    return _layout(fig, height=max(240, 34 * len(data) + 100))
