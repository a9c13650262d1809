"""Sentiment: shares over time (hour/day), by platform and by language."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, filters, metrics, widgets

f = filters.current()
st.title("Sentiment")
st.caption("Share of each sentiment among the posts the classifier labelled (UTC times).")

grain = widgets.grain_picker("se_grain")
over_time = data.load("sentiment_over_time", f, grain)
if not widgets.labels_missing(int(over_time["posts"].sum()) if len(over_time) else 0, "sentiment"):
    labelled = int(over_time["posts"].sum())
    counts = over_time.groupby("sentiment")["posts"].sum()
    cols = st.columns(4)
    cols[0].metric("Labelled posts", f"{labelled:,}", border=True)
    for col, name in zip(cols[1:], charts.SENTIMENT_COLORS, strict=True):
        col.metric(name.capitalize(), f"{counts.get(name, 0) / labelled:.1%}", border=True)
    st.plotly_chart(
        charts.sentiment_over_time(metrics.shares(over_time, "bucket", "sentiment"), grain),
        key="se_time",
    )
    left, right = st.columns(2)
    for column, dimension in ((left, "platform"), (right, "language")):
        frame = metrics.shares(data.load("sentiment_by", f, dimension), "series", "sentiment")
        column.markdown(f"**By {dimension}**")
        column.plotly_chart(charts.sentiment_by(frame, dimension), key=f"se_{dimension}")
