"""SQL: read-only queries on the warehouse, with the documented schema beside the editor."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from warehouse.sandbox import QueryRefused
from warehouse.schema_docs import schema_docs

EXAMPLE = """SELECT platform, date_trunc('day', created_at) AS day_utc, count(*) AS posts
FROM post_facts
GROUP BY ALL
ORDER BY day_utc, platform"""

st.title("SQL")
st.caption(
    "Read-only DuckDB SQL on the warehouse: one SELECT (WITH, SHOW, DESCRIBE, SUMMARIZE, "
    "EXPLAIN) at a time, in a sandbox with a row, size, time and memory limit. Writes, COPY, "
    "ATTACH, INSTALL/LOAD, reading files and settings changes are refused. Timestamps are UTC."
)

editor, schema_panel = st.columns([3, 2], gap="large")
with editor:
    sql = st.text_area("Query", EXAMPLE, height=200, key="sql_text")
    a, b, c = st.columns([1, 1, 1], vertical_alignment="bottom")
    max_rows = a.number_input("Row limit", 1, 100_000, 1_000, step=1_000, key="sql_rows")
    timeout = b.number_input("Time limit (s)", 1, 120, 10, key="sql_timeout")
    run = c.button("Run", type="primary", key="sql_run", width="stretch")
    if run or "sql_outcome" not in st.session_state:  # the example runs on the first visit
        try:
            outcome = data.run_sql(sql, int(max_rows), float(timeout))
        except QueryRefused as exc:
            outcome = str(exc)
        st.session_state["sql_outcome"] = outcome
    outcome = st.session_state["sql_outcome"]
    if isinstance(outcome, str):
        st.error(outcome, icon=":material/block:")
    else:
        frame = outcome.frame
        cut = {"rows": "row limit", "bytes": "result size limit"}.get(outcome.limit or "", "")
        note = f" — only the first {len(frame):,} rows ({cut})" if outcome.truncated else ""
        st.caption(f"{len(frame):,} rows in {outcome.seconds * 1000:,.0f} ms{note}")
        st.dataframe(frame, hide_index=True, height=min(38 + 35 * len(frame), 560))
        st.download_button(
            "Download CSV",
            frame.to_csv(index=False).encode("utf-8"),
            file_name="hypewatch-query.csv",
            mime="text/csv",
            key="sql_csv",
        )

with schema_panel:
    st.markdown("**Schema** — tables and views, their columns and what they mean")
    live = data.schema()
    docs = schema_docs()
    needle = st.text_input(
        "Find a table or column", key="sql_find", placeholder="e.g. concern"
    ).strip()
    names = [n for n in docs if n in live] + sorted(n for n in live if n not in docs)
    with st.container(height=620, border=False):
        for name in names:
            doc, relation = docs.get(name), live[name]
            described = {
                c: doc.columns.get(c, ("", ""))[1] if doc else "" for c, _ in relation.columns
            }
            haystack = " ".join(
                [name, doc.description if doc else "", *described, *described.values()]
            )
            if needle and needle.lower() not in haystack.lower():
                continue
            opened = bool(needle) or name == "posts_enriched"  # the usual starting point
            with st.expander(f"`{name}` · {relation.kind}", expanded=opened):
                st.caption(doc.description if doc else "Not documented in docs/schema.md.")
                st.dataframe(
                    [
                        {"column": c, "type": t, "description": described[c]}
                        for c, t in relation.columns
                    ],
                    hide_index=True,
                    column_config={"description": st.column_config.TextColumn(width="large")},
                )
