"""Topics: BERTopic topics (the topics stage) over time, and a card per topic."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, filters, widgets

CARDS_PER_ROW = 2

f = filters.current()
st.title("Topics")
st.caption(
    "What people talk about: topics found by BERTopic on the stored embeddings "
    "(`hypewatch topics`). Counts follow every filter and leave near-duplicate and bot-like "
    "posts out; times are UTC."
)

runs = data.load("topic_runs", f)
if runs.empty:
    widgets.stage_notice("topics", "Topics are computed by the topics stage")
    st.stop()

run_text = "; ".join(
    f"run {r['run_id']} ({r['campaign'] or 'all posts'}, fitted {r['created_at']:%Y-%m-%d %H:%M} "
    f"UTC on {r['fit_posts']:,} posts, {r['topics']} topics)"
    for r in runs.to_dict("records")
)
st.caption(f"Topic model: {run_text}.")

left, right = st.columns([1, 1])
with left:
    grain = widgets.grain_picker("tp_grain", default="day")
with right:
    top = st.slider("Topics on the chart", 3, 12, 8, key="tp_top")
over_time = data.load("topics_over_time", f, grain, top=top)
overview = data.load("topic_overview", f, limit=40)

summary = data.load("topic_summary", f)
assigned = summary["posts"]
largest = overview[overview["topic_id"] != -1].head(1)
c1, c2, c3 = st.columns(3)
c1.metric(
    "Topics in this period",
    f"{summary['topics']:,}",
    help="Topics with at least one post in the period (not the outlier topic), flagged "
    "posts left out.",
    border=True,
)
c2.metric(
    "Posts with a topic",
    f"{assigned:,}",
    help="Posts assigned to a topic (not the outlier topic), flagged posts left out.",
    border=True,
)
c3.metric(
    "Largest topic",
    f"{largest['share'].iloc[0]:.0%}" if len(largest) else "—",
    largest["name"].iloc[0] if len(largest) else None,
    help="Share of the period's posts (outliers included, flagged posts left out) in its "
    "largest topic (named below), as on the topic cards.",
    delta_color="off",
    delta_arrow="off",
    border=True,
)

st.subheader("Topics over time")
st.plotly_chart(charts.topics_over_time(over_time, grain), key="tp_time")
st.caption(
    f"Posts per UTC {grain} of the {top} largest topics of the period, stacked; the rest "
    "summed as *Other topics*. Posts near no topic (outliers) are left out."
)

st.subheader("Topics")
if overview.empty:
    st.info("No post of these filters has a topic.")
    st.stop()


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value:+.0%}" if signed else f"{value:.0%}"


def card(t: dict) -> None:
    """One topic: name, keywords, size, growth, sentiment, concern, representative posts."""
    with st.container(border=True):
        st.markdown(f"#### {widgets.plain(t['name'])}")
        st.caption("Keywords: " + widgets.plain(", ".join(t["keywords"][:10])))
        a, b = st.columns(2)
        a.metric(
            "Posts",
            f"{t['posts']:,}",
            f"{t['share']:.1%} of all posts",
            delta_color="off",
            delta_arrow="off",
        )
        growth = t["growth"]
        if not pd.isna(growth):
            shown, before = _pct(growth, signed=True), f"{t['previous_posts']:,} posts before"
        elif any_before:
            shown, before = "new", "no post before"
        else:
            shown, before = "—", "no posts in the previous period"
        b.metric(
            "Growth",
            shown,
            before,
            delta_color="off",
            delta_arrow="off",
            help="Posts now vs the period of the same length just before.",
        )
        c, d = st.columns(2)
        c.metric(
            "Net sentiment",
            f"{t['net_sentiment']:+.2f}" if not pd.isna(t["net_sentiment"]) else "—",
            f"{_pct(t['positive_share'])} positive · {_pct(t['negative_share'])} negative",
            delta_color="off",
            delta_arrow="off",
            help="(positive − negative) / labelled posts, from −1 to +1.",
        )
        d.metric(
            "Concern share",
            _pct(t["concern_share"]),
            help="Share of the topic's labelled posts that raise a copyright concern.",
        )
        posts = t["representative_posts"]
        if posts:
            st.markdown("**Representative posts**")
            for p in posts:
                st.markdown(f"> {widgets.plain(p['text'], 220)}")
                st.caption(
                    f"{charts.platform_name(p['platform'])} · "
                    f"{p['created_at']:%Y-%m-%d %H:%M} UTC{widgets.link(p.get('url'))}"
                )


any_before = bool(overview["previous_posts"].sum())
topics = overview.to_dict("records")
for i in range(0, len(topics), CARDS_PER_ROW):
    for column, t in zip(st.columns(CARDS_PER_ROW), topics[i : i + CARDS_PER_ROW], strict=False):
        with column:
            card(t)

with st.expander("All topics as a table"):
    st.dataframe(
        overview.drop(columns=["representative_posts"]),
        hide_index=True,
        column_config={
            "share": st.column_config.ProgressColumn(
                "share", min_value=0.0, max_value=1.0, format="percent"
            ),
            "growth": st.column_config.NumberColumn("growth", format="percent"),
            "net_sentiment": st.column_config.NumberColumn("net sentiment", format="%+.2f"),
            "concern_share": st.column_config.NumberColumn("concern share", format="percent"),
        },
    )
