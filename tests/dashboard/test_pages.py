"""Every page renders (AppTest), the filters change the numbers, the URL holds the view."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import data, queries, trend_queries, widgets
from dashboard.auth import AUTH_ENV, UnsafeBinding, auth_mode, is_loopback, password_matches
from dashboard.queries import Filters
from dashboard.reports.build import gather_report
from dashboard.server import DB_ENV
from hypewatch.settings import Settings, get_settings
from tests.dashboard import CAMPAIGN, copy_of, warehouse
from tests.dashboard.analysed import CONCERN_ALERT_DAY, analysed_warehouse
from tests.reports.test_reports import busy_copy
from warehouse.read import connect_writer, reading
from warehouse.writes import mark_write

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = [
    "views/overview.py",
    "views/sentiment.py",
    "views/topics.py",
    "views/copyright.py",
    "views/share_of_voice.py",
    "views/posts.py",
    "views/sql.py",
]


@pytest.fixture
def labelled(monkeypatch: pytest.MonkeyPatch) -> Path:
    path = warehouse()
    monkeypatch.setenv(DB_ENV, str(path))
    monkeypatch.setenv(AUTH_ENV, "none")
    return path


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo as `hypewatch demo` leaves it: no labels, no embeddings, never refreshed."""
    path = warehouse(labels=False, embeddings=False, refresh=False)
    monkeypatch.setenv(DB_ENV, str(path))
    monkeypatch.setenv(AUTH_ENV, "none")
    return path


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Labelled, then the real topics and trends stages, plus alert rows."""
    path = analysed_warehouse()
    monkeypatch.setenv(DB_ENV, str(path))
    monkeypatch.setenv(AUTH_ENV, "none")
    return path


def app(query: dict[str, str | list[str]] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if query:
        at.query_params.update(query)
    return at


def assert_clean(at: AppTest, page: str) -> None:
    assert not at.exception, f"{page}: {[e.value for e in at.exception]}"
    assert not at.error, f"{page}: {[e.value for e in at.error]}"


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r} in {[m.label for m in at.metric]}")


def count(path: Path, sql: str, params: list | None = None) -> int:
    with reading(path) as con:
        return con.execute(sql, params or []).fetchall()[0][0]


def figure(at: AppTest, index: int) -> dict:
    """The Plotly figure (JSON) of the page's ``index``-th chart."""
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def traces(at: AppTest, index: int) -> dict[str, dict]:
    return {t.get("name"): t for t in figure(at, index)["data"]}


@pytest.mark.parametrize("source", ["labelled", "bare", "analysed"])
def test_every_page_renders(source: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue(source)
    at = app().run()
    for page in PAGES:
        if page != PAGES[0]:
            at.switch_page(page).run()
        assert_clean(at, f"{source} {page}")
        assert at.title, f"{page} has no title"
    assert any("Simulated data" in w.value for w in at.warning)


def test_overview_numbers_follow_the_platform_filter(labelled: Path) -> None:
    at = app().run()
    total = count(labelled, "SELECT count(*) FROM posts")
    assert metric(at, "Posts") == f"{total:,}"
    at.multiselect(key="hw_platforms").set_value(["x"]).run()
    on_x = count(labelled, "SELECT count(*) FROM posts WHERE platform = 'x'")
    assert metric(at, "Posts") == f"{on_x:,}"
    assert at.query_params["platform"] == "x"
    authors = count(labelled, "SELECT count(DISTINCT author_id) FROM posts WHERE platform = 'x'")
    assert metric(at, "Authors") == f"{authors:,}"


def test_dates_and_languages_change_sentiment_and_copyright(labelled: Path) -> None:
    at = app().run()
    at.switch_page("views/sentiment.py").run()
    everything = metric(at, "Labelled posts")
    at.multiselect(key="hw_langs").set_value(["ja"]).run()
    japanese = count(
        labelled,
        "SELECT count(*) FROM post_facts WHERE lang = 'ja' AND sentiment IS NOT NULL",
    )
    assert metric(at, "Labelled posts") == f"{japanese:,}" != everything
    at.switch_page("views/copyright.py").run()
    at.date_input(key="hw_dates").set_value((date(2025, 3, 26), date(2025, 3, 27))).run()
    labelled_days = count(
        labelled,
        "SELECT count(*) FROM post_facts WHERE lang = 'ja' AND copyright IS NOT NULL "
        "AND created_at >= '2025-03-26' AND created_at < '2025-03-28'",
    )
    assert metric(at, "Labelled posts") == f"{labelled_days:,}"
    assert (at.query_params["from"], at.query_params["to"]) == ("2025-03-26", "2025-03-27")


def test_share_of_voice_follows_the_dates(labelled: Path) -> None:
    at = app().run()
    at.switch_page("views/share_of_voice.py").run()
    before = at.dataframe[0].value.set_index("entity")["posts"].to_dict()
    at.date_input(key="hw_dates").set_value((date(2025, 3, 20), date(2025, 3, 24))).run()
    after = at.dataframe[0].value.set_index("entity")["posts"].to_dict()
    assert sum(after.values()) < sum(before.values())
    expected = count(
        labelled,
        "SELECT count(*) FROM post_entities WHERE entity = 'Studio Ghibli' "
        "AND created_at < '2025-03-25'",
    )
    assert after["Studio Ghibli"] == expected


def test_posts_search_filters_and_similar_posts(labelled: Path) -> None:
    at = app().run()
    at.switch_page("views/posts.py").run()
    everything = len(at.dataframe[0].value)
    at.text_input(key="po_search").input("ghibli").run()
    rows = at.dataframe[0].value
    assert 0 < len(rows) <= everything
    assert rows["text"].str.lower().str.contains("ghibli").all()
    at.selectbox(key="po_sentiment").set_value("negative").run()
    assert set(at.dataframe[0].value["sentiment"]) == {"negative"}
    similar = at.dataframe[1].value
    assert len(similar) == 10 and similar["similarity"].is_monotonic_decreasing
    assert_clean(at, "posts")


def test_a_link_with_filters_opens_that_view(labelled: Path) -> None:
    at = app(
        {"campaign": CAMPAIGN, "from": "2025-03-25", "to": "2025-03-26", "platform": "bluesky"}
    ).run()
    assert at.multiselect(key="hw_platforms").value == ["bluesky"]
    assert at.date_input(key="hw_dates").value == (date(2025, 3, 25), date(2025, 3, 26))
    expected = count(
        labelled,
        "SELECT count(*) FROM posts WHERE platform = 'bluesky' "
        "AND created_at >= '2025-03-25' AND created_at < '2025-03-27'",
    )
    assert metric(at, "Posts") == f"{expected:,}"


def test_labels_missing_shows_how_to_get_them(bare: Path) -> None:
    at = app().run()
    assert metric(at, "Net sentiment") == "—"
    for page in ("views/sentiment.py", "views/copyright.py"):
        at.switch_page(page).run()
        assert any("hypewatch analyze" in i.value for i in at.info), page
    at.switch_page("views/topics.py").run()
    assert any("hypewatch topics" in i.value for i in at.info)


def test_new_data_shows_up_without_restart_and_unchanged_data_is_not_requeried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_of(warehouse(), tmp_path)
    monkeypatch.setenv(DB_ENV, str(path))
    calls = []
    original = queries.headline
    monkeypatch.setattr(queries, "headline", lambda *a: calls.append(1) or original(*a))
    f = Filters(CAMPAIGN, date(2025, 3, 20), date(2025, 4, 4))
    first = data.load("headline", f)
    data.load("headline", f)
    data._marker.clear()
    data.load("headline", f)
    assert len(calls) == 1  # unchanged marker: served from the cache
    con = connect_writer(path)  # closes the dashboard's lingering read-only instance
    con.execute("DELETE FROM post_facts WHERE platform = 'hn'")
    mark_write(con, "aggregates", 0)
    con.close()
    data._marker.clear()
    second = data.load("headline", f)
    assert len(calls) == 2
    assert second["posts"].sum() < first["posts"].sum()


def test_password_gate(labelled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUTH_ENV, "password")
    monkeypatch.setenv("HYPEWATCH_DASHBOARD_PASSWORD", "correct horse")
    get_settings.cache_clear()
    try:
        at = app().run()
        assert not at.metric and at.text_input
        at.text_input[0].input("wrong")
        at.button[0].click().run()
        assert any("Wrong password" in e.value for e in at.error) and not at.metric
        at.text_input[0].input("correct horse")
        at.button[0].click().run()
        assert metric(at, "Posts")
    finally:
        monkeypatch.delenv("HYPEWATCH_DASHBOARD_PASSWORD")
        get_settings.cache_clear()


def test_non_loopback_needs_a_password_or_login(monkeypatch: pytest.MonkeyPatch) -> None:
    bare = Settings(_env_file=None)
    assert auth_mode("127.0.0.1", bare) == "none"
    assert auth_mode("localhost", bare) == "none"
    for host in ("0.0.0.0", "192.168.1.20", "", "::"):
        assert not is_loopback(host)
        with pytest.raises(UnsafeBinding):
            auth_mode(host, bare)
    assert auth_mode("0.0.0.0", Settings(_env_file=None, dashboard_password="s3cret")) == "password"
    assert password_matches("s3cret", "s3cret") and not password_matches("s3cre", "s3cret")


def test_serve_refuses_before_starting_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import server

    started = []
    monkeypatch.setattr(server, "_run", lambda command, env: started.append((command, env)))
    monkeypatch.setattr(server, "_check_listen", lambda host, port: None)  # 8501 may be taken
    monkeypatch.delenv("HYPEWATCH_DASHBOARD_PASSWORD", raising=False)
    get_settings.cache_clear()
    with pytest.raises(UnsafeBinding):
        server.serve(Path("x.duckdb"), host="0.0.0.0")
    assert not started
    server.serve(Path("x.duckdb"))
    command, env = started[0]
    assert env["HYPEWATCH_DASHBOARD_DB"] == str(Path("x.duckdb").resolve())
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--browser.gatherUsageStats") + 1] == "false"


def test_cli_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from dashboard import server
    from hypewatch.cli_dashboard import dashboard_command

    cli = typer.Typer()
    cli.command("dashboard")(dashboard_command)
    cli.command("other")(lambda: None)
    served = []
    monkeypatch.setattr(server, "_run", lambda command, env: served.append(command))
    monkeypatch.setattr(server, "_check_listen", lambda host, port: None)
    monkeypatch.delenv("HYPEWATCH_DASHBOARD_PASSWORD", raising=False)
    get_settings.cache_clear()
    db = str(warehouse())
    result = CliRunner().invoke(cli, ["dashboard", "--db", db, "--port", "8599"])
    assert result.exit_code == 0, result.output
    assert served[0][served[0].index("--server.port") + 1] == "8599"
    result = CliRunner().invoke(cli, ["dashboard", "--db", db, "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "refusing to serve" in result.output
    result = CliRunner().invoke(cli, ["dashboard", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 1 and "no warehouse" in result.output
    assert len(served) == 1


# --- topics, spikes, indices, alerts (the topics and trends stages) -----------------------

TOPIC_POSTS = """
    SELECT count(*) FROM post_topics pt JOIN post_facts f USING (post_id)
    ANTI JOIN post_flags fl USING (post_id)
    WHERE pt.topic_id <> -1 {extra}
"""


def test_topics_page_shows_cards_and_follows_the_filters(analysed: Path) -> None:
    at = app().run()
    at.switch_page("views/topics.py").run()
    assert_clean(at, "topics")
    assert metric(at, "Posts with a topic") == f"{count(analysed, TOPIC_POSTS.format(extra='')):,}"
    topics = count(analysed, "SELECT count(*) FROM topics WHERE topic_id <> -1")
    assert metric(at, "Topics in this period") == str(topics)
    largest, size = reading_one(
        analysed,
        "SELECT name, posts FROM topic_overview WHERE topic_id <> -1 ORDER BY posts DESC LIMIT 1",
    )
    assert next(m for m in at.metric if m.label == "Largest topic").delta == largest
    period_posts = count(analysed, TOPIC_POSTS.format(extra="OR pt.topic_id = -1"))
    share = size / period_posts  # of all the period's posts (outliers too), as on its card
    assert metric(at, "Largest topic") == f"{share:.0%}"
    assert any(m.delta == f"{share:.1%} of all posts" for m in at.metric if m.label == "Posts")
    assert at.markdown[0].value.startswith("#### ")  # first card: the largest topic
    assert metric(at, "Posts") == f"{size:,}"  # its card's size
    assert any(m.value.startswith("> ") for m in at.markdown), "no representative post"
    chart = traces(at, 0)
    assert largest in chart and all(t["stackgroup"] == "topics" for t in chart.values())

    at.multiselect(key="hw_platforms").set_value(["reddit"]).run()
    on_reddit = count(analysed, TOPIC_POSTS.format(extra="AND f.platform = 'reddit'"))
    assert metric(at, "Posts with a topic") == f"{on_reddit:,}"
    at.date_input(key="hw_dates").set_value((date(2025, 3, 26), date(2025, 3, 27))).run()
    days = count(
        analysed,
        TOPIC_POSTS.format(
            extra="AND f.platform = 'reddit' AND f.created_at >= '2025-03-26' "
            "AND f.created_at < '2025-03-28'"
        ),
    )
    assert metric(at, "Posts with a topic") == f"{days:,}" != f"{on_reddit:,}"
    topics_then = count(
        analysed,
        TOPIC_POSTS.replace("count(*)", "count(DISTINCT pt.topic_id)").format(
            extra="AND f.platform = 'reddit' AND f.created_at >= '2025-03-26' "
            "AND f.created_at < '2025-03-28'"
        ),
    )
    assert metric(at, "Topics in this period") == f"{topics_then:,}"
    growth = [m.value for m in at.metric if m.label == "Growth"]
    assert growth and any(g.endswith("%") for g in growth)  # the days before had posts


def reading_one(path: Path, sql: str) -> tuple:
    with reading(path) as con:
        return con.execute(sql).fetchone()


def test_topic_overview_matches_the_documented_view(analysed: Path) -> None:
    f = Filters(CAMPAIGN, date(2025, 3, 20), date(2025, 4, 4))
    with reading(analysed) as con:
        mine = trend_queries.topic_overview(con, f, include_outliers=True)
        view = con.execute(
            "SELECT topic_id, posts, concern_share FROM topic_overview WHERE posts > 0"
        ).df()
        hourly = trend_queries.indices(con, f, "hour")
        stored = con.execute(
            "SELECT hour_utc AS bucket, hype_index, debate_index FROM trend_indices "
            "WHERE hour_utc < '2025-04-05' ORDER BY 1"
        ).df()
    merged = mine.merge(view, on="topic_id", suffixes=("", "_view"))
    assert len(merged) == len(view) == len(mine)
    assert (merged["posts"] == merged["posts_view"]).all()
    assert (merged["concern_share"] - merged["concern_share_view"]).abs().max() < 1e-9
    assert abs(mine["share"].sum() - 1) < 1e-9
    assert hourly["bucket"].tolist() == stored["bucket"].tolist()
    assert hourly["hype"].fillna(-1).round(9).tolist() == (
        stored["hype_index"].fillna(-1).round(9).tolist()
    )
    with pytest.raises(ValueError, match="grain must be one of"):
        trend_queries.indices(None, f, "week")  # type: ignore[arg-type]


def test_overview_shows_stored_spikes_indices_and_alerts(analysed: Path) -> None:
    at = app().run()
    assert_clean(at, "overview")
    assert not any("hypewatch trends" in i.value for i in at.info)
    alerts = count(analysed, "SELECT count(*) FROM alerts")
    box = [m.value for m in at.markdown if "alerts in this period" in m.value]
    assert box and f"**{alerts} alerts in this period**" in box[0]
    caption = next(c.value for c in at.caption if c.value.startswith("**Spikes**"))
    window, threshold = reading_one(
        analysed, "SELECT any_value(window_hours), any_value(threshold) FROM spikes"
    )
    assert f"at least {threshold:g} on the robust score" in caption
    assert f"over the {window} hours before and have at least 10 posts" in caption
    listed = next(m.value for m in at.markdown if "UTC** ·" in m.value)
    assert listed.index("Apr 03") < listed.index("Mar 27")  # newest first
    assert "concern share" in listed and "volume spike" in listed

    volume = traces(at, 0)
    spikes = count(analysed, "SELECT count(*) FROM spikes WHERE series = 'all'")
    assert len(volume["Spike (peak)"]["x"]) == spikes
    top_topic = reading_one(
        analysed, "SELECT top_topics[1] FROM spikes WHERE series = 'all' ORDER BY spike_id"
    )[0]
    assert top_topic in volume["Spike (peak)"]["text"][0]
    indices = traces(at, 1)
    assert set(indices) == {"Hype index", "Debate index"}
    days = count(analysed, "SELECT count(DISTINCT hour_utc::DATE) FROM trend_indices")
    assert len(indices["Hype index"]["x"]) == days
    at.segmented_control(key="ov_index_grain").set_value("hour").run()
    hours = count(analysed, "SELECT count(*) FROM trend_indices")
    assert len(traces(at, 1)["Hype index"]["x"]) == hours

    at.date_input(key="hw_dates").set_value((date(2025, 3, 20), date(2025, 3, 24))).run()
    assert not any("alerts in this period" in m.value for m in at.markdown)
    assert "Spike (peak)" not in traces(at, 0)
    at.date_input(key="hw_dates").set_value(
        (date.fromisoformat(CONCERN_ALERT_DAY), date.fromisoformat(CONCERN_ALERT_DAY))
    ).run()
    box = [m.value for m in at.markdown if "alert" in m.value and "period" in m.value]
    assert box == [":material/notifications_active: **1 alert in this period** (newest first)"]


def test_without_trends_and_topics_the_pages_say_how_to_get_them(labelled: Path) -> None:
    at = app().run()
    assert_clean(at, "overview")
    notices = [i.value for i in at.info if "hypewatch trends" in i.value]
    assert len(notices) == 2  # spikes (a simple volume rule until then), indices
    assert "simple volume rule" in notices[0]
    day = date(2025, 4, 3)
    at.date_input(key="hw_dates").set_value((day, day)).run()
    at.multiselect(key="hw_platforms").set_value(["reddit"]).run()
    report = gather_report(labelled, CAMPAIGN, "day", day)  # the report shows the same spikes
    peaks = traces(at, 0)["Spike (peak)"]["x"]
    assert [p.replace("T", " ") for p in peaks] == [f"{t}" for t in report.spikes["peak_hour"]]
    assert peaks and peaks[0].endswith("04:00:00")  # an early hour: the series starts a day early
    caption = next(c.value for c in at.caption if c.value.startswith("**Spikes**"))
    assert "4 standard deviations above the mean of the 24 hours before" in caption
    assert not any("alerts in this period" in m.value for m in at.markdown)
    at.switch_page("views/topics.py").run()
    assert any("hypewatch topics" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_the_alerts_box_counts_every_alert(analysed: Path, tmp_path: Path, monkeypatch) -> None:
    busy = busy_copy(analysed, tmp_path)
    monkeypatch.setenv(DB_ENV, str(busy))
    total = count(busy, "SELECT count(*) FROM alerts")
    assert total > widgets.ALERTS_LISTED
    at = app().run()
    assert_clean(at, "overview")
    box = next(m.value for m in at.markdown if "alerts in this period" in m.value)
    assert f"**{total} alerts in this period**" in box
    assert any(f"The newest {widgets.ALERTS_LISTED} are listed" in c.value for c in at.caption)


def test_load_finds_queries_in_both_modules() -> None:
    assert data.query("headline") is queries.headline
    assert data.query("topic_overview") is trend_queries.topic_overview
    with pytest.raises(ValueError, match="no query named 'nope'"):
        data.load("nope")
