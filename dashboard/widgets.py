"""Small UI pieces several pages share."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.queries import DEFAULT_SPIKE_SCORE, TOPICS_TABLES, TRENDS_TABLES

STAGE_TABLES = {"topics": TOPICS_TABLES, "trends": TRENDS_TABLES}


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: str, limit: int | None = None) -> str:
    """Post text made safe for ``st.markdown``: one line, every markdown character escaped
    (a post cannot render links, images or HTML)."""
    text = " ".join(str(text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MARKDOWN.sub(r"\\\1", text)


def spike_threshold(campaigns: pd.DataFrame, campaign: str | None) -> float:
    """The campaign's ``alerts.spike_score`` (the default for all campaigns)."""
    rows = campaigns[campaigns["campaign"] == campaign]
    return float(rows["spike_score"].iloc[0]) if len(rows) else DEFAULT_SPIKE_SCORE


def later_stage_notice(stage: str, what: str) -> bool:
    """Tell how to produce a later stage's tables; True when they exist (shows a preview)."""
    present = data.load("optional_tables")
    tables = [t for t in STAGE_TABLES[stage] if present.get(t)]
    if not tables:
        names = ", ".join(f"`{t}`" for t in STAGE_TABLES[stage])
        st.info(
            f"{what}: run `hypewatch {stage}` to compute them ({names}: missing or empty "
            "in this warehouse).",
            icon=":material/pending:",
        )
        return False
    for table in tables:
        with st.expander(f"`{table}` (first rows)"):
            st.dataframe(data.load("table_preview", table), hide_index=True)
    return True


def labels_missing(count: int, task: str) -> bool:
    """Show the "run hypewatch analyze" notice when no post has a ``task`` label."""
    if count:
        return False
    st.info(
        f"No {task} labels for these filters yet: run `hypewatch analyze` to classify the posts.",
        icon=":material/pending:",
    )
    return True


def grain_picker(key: str, default: str = "day") -> str:
    return (
        st.segmented_control("Buckets (UTC)", ["hour", "day"], default=default, key=key) or default
    )


POST_COLUMNS = {
    "created_at": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm"),
    "text": st.column_config.TextColumn("text", width="large"),
    "engagement": st.column_config.NumberColumn("engagement", format="%d"),
    "sentiment_score": st.column_config.ProgressColumn(
        "sentiment p", min_value=0.0, max_value=1.0, format="%.2f"
    ),
    "concern_prob": st.column_config.ProgressColumn(
        "concern p", min_value=0.0, max_value=1.0, format="%.2f"
    ),
    "similarity": st.column_config.ProgressColumn(
        "similarity", min_value=0.0, max_value=1.0, format="%.3f"
    ),
    "url": st.column_config.LinkColumn("link", display_text="open"),
    "is_simulated": st.column_config.CheckboxColumn("simulated"),
}


def post_table(frame: pd.DataFrame, columns: list[str], key: str | None = None) -> None:
    """Posts as a sortable table (text wide, links clickable, probabilities as bars)."""
    st.dataframe(
        frame[columns],
        hide_index=True,
        column_config={c: POST_COLUMNS[c] for c in columns if c in POST_COLUMNS},
        key=key,
    )
