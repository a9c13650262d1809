"""The hypewatch dashboard: ``streamlit run dashboard/app.py`` (see ``dashboard.server``).

Every run: sign-in check, the sidebar filters (kept in the URL), the simulated-data banner,
then the chosen page. Pages live in ``views/`` (not ``pages/``, which Streamlit would treat
as a legacy page directory).
"""

from __future__ import annotations

import streamlit as st

from dashboard import auth, filters
from warehouse.db import WarehouseError
from warehouse.read import WarehouseBusy

st.set_page_config(page_title="hypewatch", page_icon="📈", layout="wide")

PAGES = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/sentiment.py", title="Sentiment", icon=":material/mood:"),
    st.Page("views/topics.py", title="Topics", icon=":material/category:"),
    st.Page("views/copyright.py", title="Copyright debate", icon=":material/copyright:"),
    st.Page("views/share_of_voice.py", title="Share of voice", icon=":material/campaign:"),
    st.Page("views/posts.py", title="Posts", icon=":material/list:"),
    st.Page("views/sql.py", title="SQL", icon=":material/terminal:"),
]


def _banners() -> None:
    facets = filters.facets()
    if facets["simulated"]:
        st.warning(
            "**Simulated data.** Posts here come from hypewatch's launch-week simulator "
            "(table `simulated_truth`), not from real accounts.",
            icon=":material/science:",
        )
    if facets["stale"]:
        st.caption(
            f"Pre-aggregated figures as of {facets['refreshed_at']:%Y-%m-%d %H:%M} UTC; "
            "newer writes appear after the next aggregate refresh."
        )


def main() -> None:
    auth.gate()
    page = st.navigation(PAGES)
    try:
        filters.sidebar()
        _banners()
        page.run()
    except WarehouseBusy as exc:
        st.warning(f"The warehouse is busy with a writer; try again in a moment. ({exc})")
    except WarehouseError as exc:
        st.error(str(exc))


main()
