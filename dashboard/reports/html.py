"""The HTML report: one self-contained file (plotly.js inlined once, no external reference),
light theme, A4 print stylesheet."""

from __future__ import annotations

import re

import plotly.graph_objects as go
from jinja2 import Environment
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from dashboard.reports import tables
from dashboard.reports.content import ReportContent, after_last_post
from dashboard.reports.figures import build_figures
from dashboard.reports.narrative import facts_from, sentences
from dashboard.reports.template import CSS, TABLE, TEMPLATE

PERIOD_NAMES = {"day": "daily", "week": "weekly"}

_env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
_page = _env.from_string(TEMPLATE)
_table = _env.from_string(TABLE)


def _render_table(t: tables.Table) -> Markup:
    safe = tables.Table(
        t.columns,
        [
            [
                cell if col != "Link" or cell.startswith(("https://", "http://")) else ""
                for col, cell in zip(t.columns, row, strict=True)
            ]
            for row in t.rows
        ],
        t.numeric,
    )
    classes = [
        "c-"
        + re.sub(r"[^a-z0-9]+", "-", col.lower()).strip("-")
        + (" num" if i in t.numeric else "")
        for i, col in enumerate(t.columns)
    ]
    return Markup(_table.render(t=safe, classes=classes))


def figures_json(figures: dict[str, go.Figure]) -> Markup:
    """``{"name": figure}`` as JSON safe inside a ``<script>`` element."""
    body = ",".join(f'"{name}":{fig.to_json()}' for name, fig in figures.items())
    return Markup(("{" + body + "}").replace("</", "<\\/"))


def report_tables(c: ReportContent) -> dict[str, tables.Table]:
    if c.empty:
        return {}
    return {
        "headline": tables.headline(c),
        "spikes": tables.spikes(c),
        "events": tables.events(c),
        "sentiment": tables.sentiment(c),
        "indices": tables.indices_summary(c),
        "topics": tables.topics(c),
        "debate": tables.posts(c.debate_posts),
        "voice": tables.voice(c),
        "notable": tables.posts(c.notable),
        "alerts": tables.alerts(c),
    }


def render_html(c: ReportContent) -> str:
    """The whole report as one HTML document."""
    figures = build_figures(c)
    return _page.render(
        c=c,
        css=Markup(CSS),
        period_name=PERIOD_NAMES[c.window.period],
        before=f"{c.window.period} before",
        summary=sentences(facts_from(c)),
        hint=after_last_post(c),
        t=report_tables(c),
        table=_render_table,
        change=tables.change,
        figures=figures_json(figures) if figures else None,
        plotlyjs=Markup(get_plotlyjs()) if figures else None,
    )
