"""The report's figures: the dashboard's charts (:mod:`dashboard.charts`, the one place
figures are built) in the light report theme and the printable width."""

from __future__ import annotations

from datetime import timedelta

import plotly.graph_objects as go

from dashboard import charts
from dashboard.reports.content import ReportContent

WIDTH = 700
"""Figure width in CSS pixels: the printable width of an A4 page with the report's margins."""


def _print_ready(fig: go.Figure) -> go.Figure:
    fig.update_layout(template=charts.REPORT_TEMPLATE, width=WIDTH, font={"size": 11})
    return fig


def build_figures(c: ReportContent) -> dict[str, go.Figure]:
    """``{section: figure}`` for every chart of the report (none for an empty period)."""
    if c.empty:
        return {}
    figs = {
        "volume": charts.volume_timeline(c.volume, c.totals, c.events, c.spikes, "hour"),
        "sentiment": charts.sentiment_over_time(c.sentiment, c.grain),
        "indices": charts.indices_over_time(c.indices, c.grain),
        "topics": charts.topics_over_time(c.topics_over_time, c.grain),
        "concern": charts.concern_over_time(c.concern, c.grain),
        "voice": charts.share_of_voice(c.voice),
    }
    half = timedelta(minutes=30)  # hourly bars are centred on their hour
    figs["volume"].update_xaxes(range=[c.window.start_at - half, c.window.end_at - half])
    return {name: _print_ready(fig) for name, fig in figs.items()}
