"""Overview: headline figures vs the previous period, the volume timeline, indices."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, filters, metrics, widgets

f = filters.current()
st.title("Overview")
st.caption(
    f"{f.start:%Y-%m-%d} → {f.end:%Y-%m-%d} (UTC), compared with the "
    f"{(f.end - f.start).days + 1} days before."
)

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
if figures[3].value is None:
    st.info("No sentiment or copyright labels yet: run `hypewatch analyze`.", icon="ℹ️")

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
campaigns = data.load("campaigns")
threshold = widgets.spike_threshold(campaigns, f.campaign)
spikes = metrics.detect_spikes(totals, threshold, grain)
events = data.load("events", f)
st.plotly_chart(charts.volume_timeline(volume, totals, events, spikes, grain, by), key="ov_volume")
st.caption(
    f"Spikes: buckets at least {threshold:g} standard deviations above the trailing "
    f"{metrics.SPIKE_WINDOW[grain]} {grain}s (volume rule; the trends stage adds "
    "model-based spikes). Triangles mark the campaign's events:"
)
if not events.empty:
    st.dataframe(
        events.assign(n=range(1, len(events) + 1))[["n", "event_at", "title", "kind"]],
        hide_index=True,
        column_config={"event_at": st.column_config.DatetimeColumn("when (UTC)")},
    )

st.subheader("Hype and debate indices")
widgets.later_stage_notice(
    "trends",
    "The hype and debate indices (and model-based spikes) come from the trends stage",
)
