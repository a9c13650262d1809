"""Copyright debate: concern share over time, by platform and language, the arguments."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, filters, widgets
from dashboard.queries import PostFilters

f = filters.current()
st.title("Copyright debate")
st.caption(
    "Posts the copyright classifier labels as raising a concern (style imitation, training "
    "data, consent), as a share of labelled posts. Times are UTC."
)

grain = widgets.grain_picker("cr_grain")
over_time = data.load("concern_over_time", f, grain)
labelled = int(over_time["labelled"].sum()) if len(over_time) else 0
if not widgets.labels_missing(labelled, "copyright"):
    concern = int(over_time["concern"].sum())
    a, b, c = st.columns(3)
    a.metric("Labelled posts", f"{labelled:,}", border=True)
    b.metric("Raising a concern", f"{concern:,}", border=True)
    c.metric("Concern share", f"{concern / labelled:.1%}", border=True)
    st.plotly_chart(charts.concern_over_time(over_time, grain), key="cr_time")
    left, right = st.columns(2)
    for column, dimension in ((left, "platform"), (right, "language")):
        column.markdown(f"**By {dimension}**")
        column.plotly_chart(
            charts.concern_by(data.load("concern_by", f, dimension), dimension),
            key=f"cr_{dimension}",
        )

    st.subheader("The arguments on each side")
    st.caption(
        "The most engaged concern posts, split by sentiment: negative ones object (artists, "
        "consent, 'insult to life'), positive and neutral ones defend or weigh the use."
    )
    sides = data.load("concern_sides", f, 5)
    columns = st.columns(3)
    for column, sentiment, title in zip(
        columns,
        ("negative", "neutral", "positive"),
        ("Objecting (negative)", "Weighing (neutral)", "Defending (positive)"),
        strict=True,
    ):
        column.markdown(f"**{title}**")
        part = sides[sides["sentiment"] == sentiment]
        if part.empty:
            column.caption("No such posts for these filters.")
        for post in part.to_dict("records"):
            with column.container(border=True):
                st.markdown(widgets.plain(post["text"], 400))
                st.caption(
                    f"{post['platform']} · {post['created_at']:%Y-%m-%d %H:%M} UTC · "
                    f"{post['engagement']:,} engagement · concern p={post['concern_prob']:.2f}"
                )

    st.subheader("Most engaged concern posts")
    top = data.load("posts", f, PostFilters(copyright="concern", limit=50))
    widgets.post_table(
        top,
        ["created_at", "platform", "author", "text", "engagement", "sentiment", "concern_prob",
         "url"],
    )  # fmt: skip
