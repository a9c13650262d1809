"""Alerts: thresholds from the campaign file fire on the stored trends, once per bucket."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner, Result

from analysis.alerts import alert_id, candidates, evaluate_alerts, stored_thresholds
from analysis.trends import run_trends
from hypewatch.campaigns import Alerts, Campaign, find_campaign
from hypewatch.pipeline import build_demo
from hypewatch.settings import PROJECT_ROOT
from warehouse.db import connect
from warehouse.writes import store_campaign

CAMPAIGN = "gpt4o-image-launch"
NOW = datetime(2025, 4, 10)


def launch() -> Campaign:
    return find_campaign(CAMPAIGN, PROJECT_ROOT / "campaigns")


def label_with_truth(con: duckdb.DuckDBPyConnection) -> None:
    """Label every simulated post with the sentiment and stance it was generated with."""
    for task, column in (("sentiment", "sentiment"), ("copyright", "copyright")):
        con.execute(
            f"INSERT INTO labels SELECT post_id, '{task}', {column}, 0.9, NULL, 'truth', "
            "TIMESTAMP '2025-04-05' FROM simulated_truth"
        )


@pytest.fixture(scope="module")
def demo() -> duckdb.DuckDBPyConnection:
    """3,000 simulated posts (launch spike on 03-25 17:00 UTC), labelled, with trends."""
    con = connect(":memory:")
    build_demo(con, launch(), size=3000, seed=42)
    label_with_truth(con)
    run_trends(con, CAMPAIGN)
    return con


def fresh(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor on the demo with its alerts removed (each test starts with none)."""
    con.execute("DELETE FROM alerts")
    return con


def test_launch_spike_and_late_debate_fire_on_the_demo(demo: duckdb.DuckDBPyConnection) -> None:
    con = fresh(demo)
    rules = Alerts(spike_score=6.0, negative_share=0.45, concern_share=0.35, min_posts=20)
    fired = evaluate_alerts(con, CAMPAIGN, rules, NOW)
    by_rule = {r: [a for a in fired if a.rule == r] for r in ("spike_score", "negative_share")}
    spikes = by_rule["spike_score"]
    assert spikes[0].bucket_start == datetime(2025, 3, 25, 17) and spikes[0].grain == "hour"
    assert spikes[0].value >= 6.0 and spikes[0].posts >= 20
    assert "volume spike in the hour from 2025-03-25 17:00 UTC" in spikes[0].message
    # the debate grows after the launch: every share alert is late in the window
    shares = [a for a in fired if a.grain == "day"]
    assert shares and all(a.bucket_start >= datetime(2025, 3, 28) for a in shares)
    assert 3 <= len(fired) <= 15  # a handful, not one per hour
    rows = con.execute(
        "SELECT alert_id, rule, grain, value, threshold, posts, message, fired_at, "
        "delivery_status FROM alerts ORDER BY alert_id"
    ).fetchall()
    assert len(rows) == len(fired)
    stored = {r[0]: r for r in rows}
    a = spikes[0]
    assert stored[a.alert_id][1:] == (
        "spike_score", "hour", a.value, 6.0, a.posts, a.message, NOW, "not_sent",
    )  # fmt: skip
    assert a.alert_id == f"{CAMPAIGN}|spike_score|2025-03-25T17:00:00"


def test_re_evaluating_never_fires_twice(demo: duckdb.DuckDBPyConnection) -> None:
    con = fresh(demo)
    rules = Alerts(spike_score=6.0, negative_share=0.45, concern_share=0.35, min_posts=20)
    first = evaluate_alerts(con, CAMPAIGN, rules, NOW)
    assert first
    assert evaluate_alerts(con, CAMPAIGN, rules, NOW + timedelta(hours=1)) == []
    assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] == len(first)
    lower = Alerts(spike_score=6.0, negative_share=0.30, concern_share=0.35, min_posts=20)
    more = evaluate_alerts(con, CAMPAIGN, lower, NOW)  # a lower threshold adds new buckets only
    assert more and {a.rule for a in more} == {"negative_share"}
    assert not {a.alert_id for a in more} & {a.alert_id for a in first}


def dashboard_shares(con: duckdb.DuckDBPyConnection, day: datetime) -> dict[str, tuple]:
    """``rule -> (labelled posts, share)`` of one UTC day as the Sentiment and Copyright
    pages compute them (``dashboard.queries``, day grain)."""
    from dashboard.queries import Filters, concern_over_time, sentiment_over_time

    f = Filters(CAMPAIGN, day.date(), day.date())
    shares = {}
    sentiment = sentiment_over_time(con, f, "day")
    if len(sentiment):
        labelled = int(sentiment["posts"].sum())
        negative = int(sentiment.loc[sentiment["sentiment"] == "negative", "posts"].sum())
        shares["negative_share"] = (labelled, negative / labelled)
    concern = concern_over_time(con, f, "day")
    if len(concern):
        assert len(concern) == 1
        shares["concern_share"] = (int(concern["labelled"][0]), float(concern["share"][0]))
    return shares


def demo_days(con: duckdb.DuckDBPyConnection) -> list[datetime]:
    rows = con.execute(
        "SELECT DISTINCT date_trunc('day', created_at) FROM posts WHERE campaign = ? ORDER BY 1",
        [CAMPAIGN],
    ).fetchall()
    return [r[0] for r in rows]


def check_against_dashboard(con: duckdb.DuckDBPyConnection, fired: list) -> None:
    """Each fired share equals the dashboard's share of that day, and each day whose
    dashboard share crosses the threshold fired."""
    by_bucket = {(a.rule, a.bucket_start): a for a in fired if a.grain == "day"}
    crossing = set()
    for day in demo_days(con):
        for rule, (labelled, share) in dashboard_shares(con, day).items():
            if labelled >= 20 and share >= 0.3:
                crossing.add((rule, day))
            if (rule, day) in by_bucket:
                alert = by_bucket[(rule, day)]
                assert (alert.posts, alert.value) == (labelled, pytest.approx(share)), (rule, day)
    assert crossing == set(by_bucket)


def test_shares_are_the_dashboards_on_the_same_day(demo: duckdb.DuckDBPyConnection) -> None:
    """Flagged posts count, as on the Sentiment and Copyright pages (before, the alert left
    them out: 03-31 fired 37% concern where the Copyright page showed 32%)."""
    con = fresh(demo)
    flagged = con.execute("SELECT count(*) FROM post_flags WHERE campaign = ?", [CAMPAIGN])
    assert flagged.fetchone()[0] > 0  # the demo has flagged posts: leaving them out differs
    rules = Alerts(negative_share=0.3, concern_share=0.3, min_posts=20)
    fired = evaluate_alerts(con, CAMPAIGN, rules, NOW)
    assert {a.rule for a in fired} == {"negative_share", "concern_share"}
    check_against_dashboard(con, fired)


def test_shares_read_the_live_view_when_the_dashboard_does(
    demo: duckdb.DuckDBPyConnection,
) -> None:
    """Aggregates never refreshed: the dashboard reads ``post_facts_live`` and so do the
    alerts (the stale ``post_facts`` table, emptied of labels here, is not read)."""
    con = fresh(demo)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM write_marks WHERE stage = 'aggregates'")
        con.execute("UPDATE post_facts SET sentiment = NULL, copyright = NULL")
        rules = Alerts(negative_share=0.3, concern_share=0.3, min_posts=20)
        fired = candidates(con, CAMPAIGN, rules, NOW)
        assert {a.rule for a in fired} == {"negative_share", "concern_share"}
        check_against_dashboard(con, fired)
    finally:
        con.execute("ROLLBACK")


def test_min_posts_guard_and_rules_left_out(demo: duckdb.DuckDBPyConnection) -> None:
    con = fresh(demo)
    assert evaluate_alerts(con, CAMPAIGN, Alerts(min_posts=1), NOW) == []  # no rule on
    huge = Alerts(spike_score=0.5, negative_share=0.01, concern_share=0.01, min_posts=100_000)
    assert evaluate_alerts(con, CAMPAIGN, huge, NOW) == []
    # nothing after `now` fires (the demo starts 2025-03-20)
    assert evaluate_alerts(con, CAMPAIGN, Alerts(negative_share=0.01), datetime(2025, 3, 1)) == []


def spike_rows(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, int, float | None]]) -> None:
    con.execute("DELETE FROM spike_scores")
    for hour, posts, score in rows:
        con.execute(
            "INSERT INTO spike_scores VALUES ('c', 'all', ?, ?, 10, 2, ?, false, ?)",
            [datetime(2025, 3, 20) + timedelta(hours=hour), posts, score, NOW],
        )


def test_spike_threshold_edges_one_alert_per_run_of_hours() -> None:
    con = connect(":memory:")
    spike_rows(
        con,
        [
            (0, 50, None),  # no history: never fires
            (1, 50, 3.99),  # just under
            (2, 50, 4.0),  # at the threshold: fires, starts a run
            (3, 90, 9.0),  # same run: no second alert
            (4, 60, 5.0),  # same run
            (5, 10, 1.0),
            (6, 9, 30.0),  # too few posts
            (7, 12, 4.5),  # a new run: fires
        ],
    )
    fired = evaluate_alerts(con, "c", Alerts(spike_score=4.0, min_posts=10), NOW)
    assert [(a.bucket_start.hour, a.value, a.posts) for a in fired] == [(2, 4.0, 50), (7, 4.5, 12)]
    assert [a.alert_id for a in fired] == [
        alert_id("c", "spike_score", datetime(2025, 3, 20, 2)),
        alert_id("c", "spike_score", datetime(2025, 3, 20, 7)),
    ]
    # the other series do not fire
    con.execute("UPDATE spike_scores SET series = 'entity:Reve'")
    assert evaluate_alerts(con, "c", Alerts(spike_score=1.0, min_posts=1), NOW) == []


def test_thresholds_are_read_from_the_loaded_campaign() -> None:
    con = connect(":memory:")
    assert stored_thresholds(con, CAMPAIGN) is None
    store_campaign(con, launch())
    stored = Alerts.model_validate(stored_thresholds(con, CAMPAIGN))
    assert stored == launch().alerts and stored.rules()


def trends_cli(db: Path) -> Result:
    """`hypewatch trends` for the shipped campaign on ``db``, with the settings read anew
    from the (monkeypatched) environment, and forgotten again after."""
    from hypewatch.cli import app
    from hypewatch.settings import get_settings

    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["trends", "--campaign", CAMPAIGN, "--db", str(db)])
    finally:
        get_settings.cache_clear()


def test_trends_command_fires_and_prints_the_alerts(labelled_demo_copy: Path) -> None:
    db = labelled_demo_copy
    result = trends_cli(db)
    assert result.exit_code == 0, result.output
    n = duckdb.connect(str(db), read_only=True).execute("SELECT count(*) FROM alerts").fetchone()
    assert n[0] > 0
    assert f"alerts for {CAMPAIGN}: {n[0]} fired" in result.stdout
    again = trends_cli(db)
    assert f"alerts for {CAMPAIGN}: 0 fired" in again.stdout


def test_an_edited_alerts_table_counts_from_the_next_trends_run(
    tmp_path: Path, labelled_demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = labelled_demo_copy  # the demo stored the shipped campaign
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    text = (PROJECT_ROOT / "campaigns" / f"{CAMPAIGN}.toml").read_text()
    head, _, _ = text.partition("[alerts]")
    (campaigns / f"{CAMPAIGN}.toml").write_text(head + "[alerts]\nnegative_share = 0.9\n")
    monkeypatch.setenv("HYPEWATCH_CAMPAIGNS_DIR", str(campaigns))
    result = trends_cli(db)
    assert result.exit_code == 0, result.output
    assert "file changed since it was loaded; reloaded" in result.stdout
    assert f"alerts for {CAMPAIGN}: 0 fired (negative_share >= 0.9;" in result.stdout
    con = duckdb.connect(str(db), read_only=True)
    stored = stored_thresholds(con, CAMPAIGN)
    con.close()
    assert stored == {
        "spike_score": None,
        "negative_share": 0.9,
        "concern_share": None,
        "min_posts": 50,
    }
