"""Share of voice: how often each tracked entity is mentioned, over time and in total."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, filters, widgets

f = filters.current()
st.title("Share of voice")
st.caption(
    "Posts mentioning each tracked entity of the campaign: an alias counts when it appears "
    'case-insensitively as a whole word ("Reve" counts in "Reve\'s", not in "revealed"). '
    "A post mentioning two entities counts for both."
)

totals = data.load("mention_totals", f)
if totals.empty:
    st.info("This campaign tracks no entities: add `[[entities]]` to its campaign file.")
else:
    kinds = sorted(totals["kind"].dropna().unique())
    picked = st.pills("Kinds", kinds, selection_mode="multi", default=kinds, key="sov_kinds")
    shown = totals[totals["kind"].isin(picked or kinds)]
    mentioned = shown[shown["posts"] > 0]
    total = int(mentioned["posts"].sum())
    shown = shown.assign(share=shown["posts"] / total if total else 0.0)
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**Share of voice**")
        st.caption("Blue: the campaign's subject · orange: competitors · grey: related topics.")
        st.plotly_chart(charts.share_of_voice(shown), key="sov_share")
    with right:
        grain = widgets.grain_picker("sov_grain")
        over_time = data.load("mentions_over_time", f, grain)
        over_time = over_time[over_time["entity"].isin(shown["entity"])]
        st.plotly_chart(charts.mentions_over_time(over_time, grain), key="sov_time")
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "posts": st.column_config.NumberColumn("posts mentioning", format="%d"),
            "share": st.column_config.ProgressColumn(
                "share of voice", min_value=0.0, max_value=1.0, format="percent"
            ),
            "engagement": st.column_config.NumberColumn("engagement", format="%d"),
            "net_sentiment": st.column_config.NumberColumn(
                "net sentiment", format="%+.2f", help="(positive − negative) / labelled"
            ),
        },
    )
