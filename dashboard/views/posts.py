"""Posts: every filter plus text search, sortable; similar posts by embedding."""

from __future__ import annotations

import streamlit as st

from dashboard import data, filters, widgets
from dashboard.queries import SORTS, PostFilters

f = filters.current()
st.title("Posts")

c1, c2, c3, c4, c5 = st.columns([3, 1.2, 1.2, 1.6, 1.4])
search = c1.text_input("Text contains", key="po_search", placeholder="e.g. ghibli")
sentiment = c2.selectbox(
    "Sentiment", [None, "negative", "neutral", "positive"], key="po_sentiment",
    format_func=lambda v: "any" if v is None else v,
)  # fmt: skip
copyright_ = c3.selectbox(
    "Copyright", [None, "concern", "none"], key="po_copyright",
    format_func=lambda v: "any" if v is None else v,
)  # fmt: skip
entities = data.load("entity_names", f.campaign)
entity = c4.selectbox(
    "Mentions", [None, *entities], key="po_entity",
    format_func=lambda v: "any entity" if v is None else v,
)  # fmt: skip
sort = c5.selectbox("Sort by", list(SORTS), key="po_sort")
limit = st.select_slider("Rows", [50, 100, 200, 500, 1000], value=200, key="po_limit")

pf = PostFilters(search, sentiment, copyright_, entity, sort, limit)
rows = data.load("posts", f, pf)
st.caption(
    f"{len(rows):,} posts shown (the first {limit:,} by {sort}; click a column to re-sort "
    "the shown rows). Times are UTC."
)
widgets.post_table(
    rows,
    ["created_at", "platform", "lang", "author", "text", "engagement", "sentiment",
     "sentiment_score", "copyright", "concern_prob", "url"],
    key="po_table",
)  # fmt: skip

st.subheader("Similar posts")
if not data.load("has_embeddings"):
    st.info("No embeddings yet: run `hypewatch analyze` to embed the posts.")
elif rows.empty:
    st.caption("No post to compare: loosen the filters.")
else:
    texts = dict(zip(rows["post_id"], rows["text"], strict=True))
    chosen = st.selectbox(
        "Posts closest in meaning to",
        list(texts),
        key="po_similar_to",
        format_func=lambda pid: f"{pid} — {' '.join(texts[pid].split())[:90]}",
    )
    scope = st.toggle("Only within the sidebar's filters", value=True, key="po_scope")
    similar = data.load("similar_posts", chosen, f if scope else None, 10)
    if similar.empty:
        st.caption("This post has no embedding yet.")
    else:
        widgets.post_table(similar, ["similarity", "created_at", "platform", "text", "url"])
