"""Small UI pieces several pages share."""

from __future__ import annotations

import re
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard.trend_queries import STAGE_TABLES

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: str, limit: int | None = None) -> str:
    """Post text made safe for ``st.markdown``: one line, every markdown character escaped
    (a post cannot render links, images or HTML)."""
    text = " ".join(str(text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MARKDOWN.sub(r"\\\1", text)


def link(url: str | None, text: str = "open") -> str:
    """`` · [open](url)`` for an http(s) link (characters that would end it escaped)."""
    if not url or not str(url).startswith(("https://", "http://")):
        return ""
    safe = quote(str(url), safe=":/?#=&%@+,;~.-_!*'$")
    return f" · [{text}]({safe})"


def stage_notice(stage: str, what: str) -> None:
    """Say that a later stage has not run here and how to run it."""
    names = ", ".join(f"`{t}`" for t in STAGE_TABLES[stage])
    st.info(
        f"{what}: run `hypewatch {stage}` to compute them ({names} hold nothing for this "
        "campaign yet).",
        icon=":material/pending:",
    )


RULE_NAMES = {
    "spike_score": "volume spike",
    "negative_share": "negative share",
    "concern_share": "concern share",
}


ALERTS_LISTED = 50
"""The newest alerts the Overview lists (the box counts them all)."""


def alerts_box(alerts: pd.DataFrame, total: int, shown: int = 5) -> None:
    """The period's ``total`` alerts in a compact box: the newest ``shown`` of ``alerts``
    (newest first: when, rule, message), the rest of them in an expander; nothing when
    there are none."""
    if not total:
        return
    with st.container(border=True, key="hw_alerts"):
        st.markdown(
            f":material/notifications_active: **{total:,} alert"
            f"{'s' if total != 1 else ''} in this period** (newest first)"
        )
        rows = alerts.to_dict("records")

        def line(r: dict) -> str:
            rule = RULE_NAMES.get(r["rule"], r["rule"])
            return (
                f"- **{r['bucket_start']:%b %d %H:%M} UTC** · :orange-badge[{plain(rule)}] · "
                f"{plain(r['message'], 220)}"
            )

        st.markdown("\n".join(line(r) for r in rows[:shown]))
        if len(rows) > shown:
            with st.expander(f"{total - shown:,} older alerts"):
                st.markdown("\n".join(line(r) for r in rows[shown:]))
                if total > len(rows):
                    st.caption(
                        f"The newest {len(rows):,} are listed; the table `alerts` holds all "
                        f"{total:,} (SQL page)."
                    )


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
