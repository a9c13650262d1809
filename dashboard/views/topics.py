"""Topics: BERTopic topics over time (computed by a later stage)."""

from __future__ import annotations

import streamlit as st

from dashboard import widgets

st.title("Topics")
st.caption("What people talk about: topics found by BERTopic on the stored embeddings.")
widgets.later_stage_notice("topics", "Topics are computed by the topics stage")
