"""The sidebar on every page (campaign, UTC dates, platforms, languages) and its URL.

The state lives in the URL's query parameters, so a view can be shared as a link:
``?campaign=NAME&from=2025-03-20&to=2025-04-04&platform=x&platform=bluesky&lang=en``.
A new session starts from the URL; every run writes the current state back (Streamlit
clears the query string when switching pages, the widgets' session state carries it over).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.queries import Filters

ALL = "All campaigns"
K_CAMPAIGN, K_DATES, K_PLATFORMS, K_LANGS = "hw_campaign", "hw_dates", "hw_platforms", "hw_langs"
_STARTED = "hw_started_from_url"
_FILTERS = "hw_filters"
_FACETS = "hw_facets"


def _day(value: Any) -> date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _window(row: dict | None, facets: dict) -> tuple[date, date, date, date]:
    """(default start, default end, earliest allowed, latest allowed) in UTC days."""
    first, last = _day(facets["first"]), _day(facets["last"])
    start = _day(row["start_at"]) if row else None
    end_at = row["end_at"] if row else None
    end = (
        _day(end_at - timedelta(microseconds=1))
        if end_at is not None and not pd.isna(end_at)
        else None
    )
    start, end = start or first or date.today(), end or last or date.today()
    low = min(d for d in (start, first) if d)
    high = max(d for d in (end, last) if d)
    return start, end, low, high


def _from_url(options: list[str]) -> None:
    """Seed the widgets from the URL once per session."""
    if st.session_state.get(_STARTED):
        return
    st.session_state[_STARTED] = True
    params = st.query_params
    if (campaign := params.get("campaign")) in options:
        st.session_state[K_CAMPAIGN] = campaign
    start, end = _day(params.get("from")), _day(params.get("to"))
    if start and end and start <= end:
        st.session_state[K_DATES] = (start, end)
    if platforms := params.get_all("platform"):
        st.session_state[K_PLATFORMS] = platforms
    if langs := params.get_all("lang"):
        st.session_state[K_LANGS] = langs


def _to_url(f: Filters) -> None:
    state: dict[str, Any] = {"from": f.start.isoformat(), "to": f.end.isoformat()}
    if f.campaign:
        state["campaign"] = f.campaign
    if f.platforms:
        state["platform"] = list(f.platforms)
    if f.langs:
        state["lang"] = list(f.langs)
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    wanted = {k: v if isinstance(v, list) else [v] for k, v in state.items()}
    if current != wanted:
        st.query_params.from_dict(state)


def _reset_dates() -> None:
    st.session_state.pop(K_DATES, None)


def sidebar() -> Filters:
    """Draw the sidebar, sync the URL, and return (and remember) the current filters."""
    campaigns = data.load("campaigns")
    rows = {r["campaign"]: r for r in campaigns.to_dict("records")}
    options = list(rows) if len(rows) == 1 else [ALL, *rows]
    if not rows:
        options = [ALL]
    _from_url(options)
    if st.session_state.get(K_CAMPAIGN) not in options:
        st.session_state[K_CAMPAIGN] = options[0]

    with st.sidebar:
        st.header("Filters")
        choice = st.selectbox(
            "Campaign",
            options,
            key=K_CAMPAIGN,
            format_func=lambda c: rows[c]["title"] if c in rows else c,
            on_change=_reset_dates,
        )
        campaign = None if choice == ALL else choice
        facets = data.load("facets", campaign)
        start, end, low, high = _window(rows.get(campaign), facets)
        dates = st.session_state.get(K_DATES)
        if not (isinstance(dates, tuple | list) and len(dates) in (1, 2)):
            st.session_state[K_DATES] = (start, end)
        else:  # keep the chosen range inside what exists
            st.session_state[K_DATES] = tuple(min(max(d, low), high) for d in dates)
        picked = st.date_input(
            "Dates (UTC)",
            key=K_DATES,
            min_value=low,
            max_value=high,
            format="YYYY-MM-DD",
            help="Inclusive UTC days. Every time on this dashboard is UTC.",
        )
        picked = tuple(picked) if isinstance(picked, tuple | list) else (picked,)
        first = picked[0] if picked else start
        last = picked[1] if len(picked) > 1 else first

        for key, choices in ((K_PLATFORMS, facets["platforms"]), (K_LANGS, facets["langs"])):
            kept = [v for v in st.session_state.get(key, []) if v in choices]
            st.session_state[key] = kept
        platforms = st.multiselect(
            "Platforms",
            facets["platforms"],
            key=K_PLATFORMS,
            format_func=charts.platform_name,
            placeholder="All platforms",
        )
        langs = st.multiselect(
            "Languages",
            facets["langs"],
            key=K_LANGS,
            format_func=charts.language_name,
            placeholder="All languages",
        )
        st.caption("Share this view: copy the page's address, it holds these filters.")

    f = Filters(campaign, first, last, tuple(platforms), tuple(langs))
    _to_url(f)
    st.session_state[_FILTERS] = f
    st.session_state[_FACETS] = facets
    return f


def current() -> Filters:
    """The filters the sidebar set in this run (pages call this)."""
    return st.session_state[_FILTERS]


def facets() -> dict:
    """What the warehouse holds for the chosen campaign (span, platforms, simulated, ...)."""
    return st.session_state[_FACETS]
