# ruff: noqa: E501  (HTML and CSS text, kept readable as written)
"""The HTML report's jinja2 template and print stylesheet (kept in Python so the package
data needs no extra file patterns)."""

CSS = """
:root { --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --warn-bg: #fff7ed;
        --warn-line: #f59e0b; --accent: #4c78a8; }
* { box-sizing: border-box; }
html { background: #fff; }
body { color: var(--ink); font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto,
       "Helvetica Neue", Arial, "Noto Sans", "Noto Sans CJK JP", sans-serif;
       max-width: 700px; margin: 0 auto; padding: 24px 0; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 22px 0 6px; padding-bottom: 3px; border-bottom: 2px solid var(--line);
     break-after: avoid; }
h3 { font-size: 13px; margin: 12px 0 4px; break-after: avoid; }
p { margin: 4px 0 8px; }
.sub { color: var(--muted); margin: 0 0 10px; }
.banner { border-left: 4px solid var(--warn-line); background: var(--warn-bg); padding: 6px 10px;
          margin: 10px 0; }
.summary { font-size: 14px; background: #f8fafc; border: 1px solid var(--line); border-radius: 6px;
           padding: 8px 12px; margin: 10px 0; }
.summary p { margin: 3px 0; }
.note { color: var(--muted); font-size: 11px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 12px; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; border-bottom: 1px solid #cbd5e1; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.c-text { overflow-wrap: anywhere; width: 46%; }
.c-author { overflow-wrap: anywhere; width: 19%; }
.c-when-utc, .c-engagement, .c-sentiment { width: 10%; }
.chart { width: 700px; break-inside: avoid; margin: 4px 0 6px; }
section { break-inside: auto; }
.keep { break-inside: avoid; }
a { color: var(--accent); text-decoration: none; }
footer { margin-top: 24px; color: var(--muted); font-size: 11px; border-top: 1px solid var(--line);
         padding-top: 6px; }
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  body { padding: 0; }
  h2 { break-before: auto; }
  section.page { break-before: page; }
  a { color: var(--ink); }
}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hypewatch report">
<title>{{ c.title }} — {{ period_name }} report, {{ c.window.label() }}</title>
<style>{{ css }}</style>
</head>
<body data-ready="{{ 'yes' if not figures else 'no' }}">
<header>
<h1>{{ c.title }}</h1>
<p class="sub">{{ period_name|capitalize }} report · {{ c.window.label() }} (UTC) · compared with
{{ c.window.previous.label() }} · campaign <code>{{ c.campaign }}</code></p>
{% if c.simulated %}
<div class="banner"><strong>Simulated data.</strong> These posts come from hypewatch's
launch-week simulator (table <code>simulated_truth</code>), not from real accounts.</div>
{% endif %}
{% if c.stale_aggregates %}
<p class="note">Figures use the dashboard's pre-aggregated facts, refreshed before the latest
writes; newer posts appear after the next refresh.</p>
{% endif %}
</header>

<div class="summary" id="summary">
{% for s in summary %}<p>{{ s }}</p>{% endfor %}
</div>

{% if c.empty %}
<section id="empty">
<h2>No posts in this period</h2>
<p>The warehouse holds no posts of <code>{{ c.campaign }}</code> between
{{ c.window.start }} and {{ c.window.end }} (UTC). Nothing else to report.</p>
{% if c.after_last_post %}<p>{{ hint }}</p>{% endif %}
</section>
{% else %}
<section id="headline" class="keep">
<h2>Headline figures</h2>
{{ table(t.headline) }}
</section>

<section id="volume">
<div class="keep">
<h2>Volume, spikes and events</h2>
<div class="chart" id="fig-volume"></div>
<p class="note">Posts per UTC hour by platform. Circles mark the peak of each volume spike, shading its hours
({% if c.spikes_stored %}stored by <code>hypewatch trends</code>, robust score; a spike may start the day before{% else %}the same fallback rule as the dashboard's Overview, as <code>hypewatch trends</code> has not run for this campaign: {{ c.spike_rule }}{% endif %}); triangles mark the campaign's events.</p>
</div>
{% if t.spikes %}<h3>Spikes</h3>{{ table(t.spikes) }}{% else %}<p>No volume spike in this period.</p>{% endif %}
{% if t.events %}<h3>Events</h3>{{ table(t.events) }}{% endif %}
</section>

<section id="sentiment">
{% if t.sentiment %}
<div class="keep">
<h2>Sentiment</h2>
<div class="chart" id="fig-sentiment"></div>
{{ table(t.sentiment) }}
</div>
{% else %}<h2>Sentiment</h2><p>No post of this period is labelled yet (run <code>hypewatch analyze</code>).</p>{% endif %}
{% if t.indices %}
<div class="keep">
<h3>Hype and debate indices</h3>
<div class="chart" id="fig-indices"></div>
{{ table(t.indices) }}
</div>
{% endif %}
</section>

<section id="topics">
<div class="keep">
<h2>New and growing topics</h2>
{% if not c.topics_available %}<p>No topics yet (run <code>hypewatch topics</code>).</p>
{% elif not t.topics %}<p>No topic has posts in this period.</p>
{% elif c.topics_over_time is not none and not c.topics_over_time.empty %}<div class="chart" id="fig-topics"></div>
{% endif %}
</div>
{% if c.topics_available and t.topics %}
{{ table(t.topics) }}
<p class="note">Topics of the campaign's current topic run, most posts gained first; "new": no
post before this period; near-duplicate and bot-like posts left out.</p>
{% endif %}
</section>

<section id="copyright">
<div class="keep">
<h2>Copyright debate</h2>
{% set concern = c.figure('Concern share') %}
<p>Concern share: <strong>{{ concern.text() }}</strong> of copyright-labelled posts
({{ change(concern) }} vs the {{ before }}).</p>
{% if c.concern is not none and not c.concern.empty %}<div class="chart" id="fig-concern"></div>{% endif %}
</div>
{% if t.debate %}<h3>Most engaged posts raising a concern</h3>{{ table(t.debate) }}{% endif %}
</section>

<section id="voice">
{% if t.voice %}
<div class="keep">
<h2>Share of voice</h2>
<div class="chart" id="fig-voice"></div>
</div>
{{ table(t.voice) }}
{% else %}<h2>Share of voice</h2><p>No tracked entity is mentioned in this period.</p>{% endif %}
</section>

<section id="notable">
<h2>Notable posts</h2>
{% if t.notable %}{{ table(t.notable) }}
<p class="note">The period's most engaged posts; near-duplicate and bot-like posts left out.</p>
{% else %}<p>No posts.</p>{% endif %}
</section>

{% if t.alerts %}
<section id="alerts">
<h2>Alerts</h2>
{{ table(t.alerts) }}
</section>
{% endif %}
{% endif %}

<footer>
<p>Generated by hypewatch on {{ c.generated_at.strftime('%Y-%m-%d %H:%M') }} UTC from the
warehouse, read-only. Period: {{ c.window.start }} to {{ c.window.end }} inclusive (UTC days);
the last day is {{ c.end_rule }}. Changes compare with the {{ c.window.period }} before
({{ c.window.previous.start }} to {{ c.window.previous.end }}). Headline figures count every
post; spikes, topics, indices and notable posts leave near-duplicate and bot-like posts out.
Every number is defined in docs/metrics.md and docs/reports.md of hypewatch.</p>
</footer>

{% if figures %}
<script>{{ plotlyjs }}</script>
<script type="application/json" id="figures">{{ figures }}</script>
<script>
(function () {
  var figs = JSON.parse(document.getElementById("figures").textContent);
  var drawn = Object.keys(figs).filter(function (name) {
    return document.getElementById("fig-" + name);
  }).map(function (name) {
    var f = figs[name];
    return Plotly.newPlot("fig-" + name, f.data, f.layout,
                          {displayModeBar: false, responsive: false});
  });
  Promise.all(drawn).then(function () { document.body.dataset.ready = "yes"; },
                          function (e) { document.body.dataset.ready = "error"; throw e; });
})();
</script>
{% endif %}
</body>
</html>
"""

TABLE = """<table>
<thead><tr>{% for col in t.columns %}<th class="{{ classes[loop.index0] }}">{{ col }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in t.rows %}<tr>{% for cell in row %}{% set col = t.columns[loop.index0] %}
{% if col == 'Link' %}<td class="c-link">{% if cell %}<a href="{{ cell }}">open</a>{% endif %}</td>
{% else %}<td class="{{ classes[loop.index0] }}">{{ cell }}</td>{% endif %}
{% endfor %}</tr>
{% endfor %}</tbody>
</table>"""
