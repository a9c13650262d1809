"""Overview: alerts, headline figures vs the previous period, the volume timeline with the
spikes (the same as the reports': ``trend_queries.period_spikes``), the hype and debate
indices."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data, filters, metrics, widgets

f = filters.current()
st.title("Overview")
st.caption(
    f"{f.start:%Y-%m-%d} → {f.end:%Y-%m-%d} (UTC), compared with the "
    f"{(f.end - f.start).days + 1} days before."
)

widgets.alerts_box(data.load("alerts", f, limit=widgets.ALERTS_LISTED), data.load("alert_count", f))

figures = metrics.headline_figures(data.load("headline", f))
peak, peak_posts, prev_peak = metrics.peak_hour(data.load("peak_hours", f))
columns = st.columns(len(figures) + 1)
for column, fig in zip(columns, figures, strict=False):
    column.metric(fig.label, fig.text(), fig.delta(), help=fig.help or None, border=True)
columns[-1].metric(
    "Peak hour (UTC)",
    f"{peak:%H:00}" if peak is not None else "—",
    (
        f"{peak:%b %d} · {peak_posts:,} posts"
        + (f" ({peak_posts - prev_peak:+,} vs prev.)" if prev_peak else "")
    )
    if peak is not None
    else None,
    delta_color="off",
    delta_arrow="off",
    help="The busiest UTC hour of the period, its day and posts"
    + (f"; the previous period's peak had {prev_peak:,} posts." if prev_peak else "."),
    border=True,
)
if next(fig for fig in figures if fig.label == "Net sentiment").value is None:
    st.info("No sentiment or copyright labels yet: run `hypewatch analyze`.", icon="ℹ️")

trends_ran = data.load("has_trends", f)

st.subheader("Volume")
left, right = st.columns([1, 1])
with left:
    grain = widgets.grain_picker("ov_grain", default="hour")
by = (
    right.segmented_control("Split by", ["platform", "language"], default="platform", key="ov_by")
    or "platform"
)
volume = data.load("volume", f, grain, by)
totals = metrics.complete_series(volume, f.start_at, f.end_at, grain)
events = data.load("events", f)
spikes = data.load("period_spikes", f)
st.plotly_chart(charts.volume_timeline(volume, totals, events, spikes, grain, by), key="ov_volume")
shown = f"**Spikes** ({len(spikes)} in this period, shaded, circle on the peak; hover for details)"
if trends_ran:
    first = spikes.iloc[0] if len(spikes) else None  # the rule as stored with the spikes
    threshold = f"{first['threshold']:g}" if first is not None else "the campaign's threshold"
    window = f"{int(first['window_hours'])} hours" if first is not None else "hours"
    at_least = (
        f" and have at least {int(first['min_posts'])} posts"
        if first is not None and pd.notna(first["min_posts"])
        else ""
    )
    st.caption(
        f"{shown}: runs of hours whose posts score at least {threshold} on the robust score "
        f"(posts − median) / max(1.4826 × MAD, √median, 1) over the {window} before"
        f"{at_least}; all platforms and languages of the campaign, flagged posts left out; "
        "the top topics of each spike in its hover (docs/metrics.md). Triangles mark the "
        "campaign's events:"
    )
else:
    rule_text = metrics.fallback_rule(data.load("spike_threshold", f.campaign))
    st.caption(f"{shown}: {rule_text}. Triangles mark the campaign's events:")
    widgets.stage_notice(
        "trends", "These spikes use a simple volume rule; robust spikes with their top topics"
    )
if not events.empty:
    st.dataframe(
        events.assign(n=range(1, len(events) + 1))[["n", "event_at", "title", "kind"]],
        hide_index=True,
        column_config={"event_at": st.column_config.DatetimeColumn("when (UTC)")},
    )

st.subheader("Hype and debate indices")
if trends_ran:
    igrain = widgets.grain_picker("ov_index_grain", default="day")
    st.plotly_chart(
        charts.indices_over_time(data.load("indices", f, igrain), igrain), key="ov_indices"
    )
    st.markdown(
        "- **Hype index** = 100 × positive share × momentum, where momentum = (posts + 1) / "
        "(posts + mean posts per hour of the 24 h before + 2): high when a positive "
        "conversation surges.\n"
        "- **Debate index** = 100 × (copyright-concern share + negative share) / 2: high "
        "when posts are negative and raise copyright concerns."
    )
    st.caption(
        "Per UTC hour over the whole campaign (the platform and language filters do not "
        "apply), flagged posts left out, empty when an hour has fewer than 5 labelled posts; "
        "a day is the mean of its hours weighted by labelled posts."
    )
else:
    widgets.stage_notice("trends", "The hype and debate indices come from the trends stage")
