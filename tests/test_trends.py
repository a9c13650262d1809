"""Trends: duplicate and bot flags, spikes, volumes, share of voice, hype and debate."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pytest

from analysis.duplicates import DuplicateSettings, find_duplicates, shingle_hashes, tokens
from analysis.trends import (
    TrendSettings,
    detect_spikes,
    flag_duplicates,
    run_trends,
    spike_threshold,
)
from hypewatch.campaigns import Campaign
from ingest.model import ParseResult, Post
from warehouse.db import connect
from warehouse.writes import store_batch, store_campaign

CAMPAIGN = "launch"
T0 = datetime(2025, 3, 20, tzinfo=UTC)


def campaign(alerts: dict[str, float] | None = None) -> Campaign:
    return Campaign.model_validate(
        {
            "name": CAMPAIGN,
            "title": "Launch",
            "start": T0,
            "end": T0 + timedelta(days=5),
            "entities": [
                {"name": "Reve", "aliases": ["Reve"]},
                {"name": "Gemini", "aliases": ["Gemini", "Imagen"]},
            ],
            "events": [{"at": T0 + timedelta(hours=30, minutes=10), "title": "Launch"}],
            "alerts": alerts or {},
        }
    )


def post(i: int, hour: float, text: str, author: str | None = None, **kw: object) -> Post:
    return Post(
        post_id=f"x:{i}",
        platform=kw.pop("platform", "x"),  # type: ignore[arg-type]
        native_id=str(i),
        created_at=T0 + timedelta(hours=hour),
        text=text,
        author_id=author or f"x:u{i}",
        **kw,  # type: ignore[arg-type]
    )


def materialize(con: duckdb.DuckDBPyConnection) -> None:
    """Fill post_facts / post_entities from their live views (what refresh_aggregates does)."""
    con.execute("DELETE FROM post_facts")
    con.execute("INSERT INTO post_facts SELECT * FROM post_facts_live")
    con.execute("DELETE FROM post_entities")
    con.execute("INSERT INTO post_entities SELECT * FROM post_entities_live")


def label(con: duckdb.DuckDBPyConnection, post_id: str, sentiment: str, copyright: str) -> None:
    for task, value in (("sentiment", sentiment), ("copyright", copyright)):
        con.execute(
            "INSERT INTO labels VALUES (?, ?, ?, 0.9, NULL, 'test', now()::TIMESTAMP)",
            [post_id, task, value],
        )


def build(posts: list[Post], alerts: dict[str, float] | None = None) -> duckdb.DuckDBPyConnection:
    con = connect(":memory:")
    store_campaign(con, campaign(alerts))
    store_batch(con, ParseResult(posts=posts), campaign=CAMPAIGN)
    materialize(con)
    return con


def steady_with_burst(burst_hour: int = 40, burst: int = 60) -> list[Post]:
    """3 posts an hour for 60 hours, plus ``burst`` distinct posts in one hour."""
    words = [f"word{k}" for k in range(12)]
    posts, i = [], 0
    for hour in range(60):
        for k in range(3):
            posts.append(post(i, hour + k / 4, f"{words[i % 12]} {words[(i * 7) % 12]} note {i}"))
            i += 1
    for k in range(burst):
        posts.append(post(i, burst_hour + k / (burst + 1), f"launch reaction number {k} {i}"))
        i += 1
    return posts


# ---------------------------------------------------------------------------- duplicates


def test_tokens_drop_links_mentions_hashtags_and_split_cjk() -> None:
    assert tokens("Try it FREE 👉 https://x.y/a @bob #AIart now!") == ["try", "it", "free", "now"]
    assert tokens("ジブリ風に変換") == ["ジ", "ブ", "リ", "風", "に", "変", "換"]


def test_shingles_short_and_empty_texts() -> None:
    hashes, offsets = shingle_hashes(["one two", "", "a b c d"], 3)
    assert list(np.diff(offsets)) == [1, 0, 2]
    assert len(hashes) == 3


SPAM = "🔥 Free unlimited GPT-4o Ghibli generator, turn your photos into art 👉 https://spam.example/{}"


def test_bot_clusters_are_flagged_whole_and_copies_after_the_first() -> None:
    texts = [SPAM.format(k) + (" #AIart" if k % 2 else "") for k in range(6)]
    texts += ["Breaking: OpenAI ships native image generation in ChatGPT today"] * 3
    texts += [f"my own unique opinion number {k} about the new model" for k in range(5)]
    ids = [f"p{k}" for k in range(len(texts))]
    hours = np.arange(len(texts), dtype=float) / 10
    authors = [f"a{k}" for k in range(len(texts))]
    clusters, flags = find_duplicates(ids, texts, hours, authors, DuplicateSettings())
    flag = dict(zip(flags["post_id"].to_pylist(), flags["flag"].to_pylist(), strict=True))
    assert {f"p{k}" for k in range(6)} <= {p for p, f in flag.items() if f == "bot_like"}
    # The shared headline: every copy but the first is a near-duplicate.
    assert flag.get("p6") is None and flag["p7"] == flag["p8"] == "near_duplicate"
    assert not any(f"p{k}" in flag for k in range(9, 14))
    assert sorted(clusters["kind"].to_pylist()) == ["bot_like", "near_duplicate"]


def test_repeat_accounts_make_a_cluster_bot_like_without_links() -> None:
    texts = ["Grok is so much better than 4o, everyone switch today"] * 4
    _, flags = find_duplicates(
        ["a", "b", "c", "d"], texts, np.array([0.0, 0.1, 0.2, 0.3]), ["u1", "u1", "u2", "u2"]
    )
    assert set(flags["flag"].to_pylist()) == {"bot_like"} and flags.num_rows == 4


def test_duplicates_far_apart_in_time_are_not_a_cluster() -> None:
    texts = ["Breaking: OpenAI ships native image generation in ChatGPT today"] * 3
    hours = np.array([0.0, 100.0, 200.0])
    clusters, flags = find_duplicates(["a", "b", "c"], texts, hours, ["u1", "u2", "u3"])
    assert clusters.num_rows == 0 and flags.num_rows == 0


def test_flag_duplicates_stores_clusters_and_leaves_reposts_out() -> None:
    spam = [post(k, k / 10, SPAM.format(k)) for k in range(5)]
    repost = [post(100 + k, 1 + k / 10, "RT great launch", repost_of_id="x:1") for k in range(4)]
    con = build(spam + repost)
    report = flag_duplicates(con, CAMPAIGN, DuplicateSettings())
    assert (report.clusters, report.bot_clusters, report.flagged) == (1, 1, 5)
    assert con.execute("SELECT count(*) FROM post_flags WHERE flag = 'bot_like'").fetchall() == [
        (5,)
    ]
    # Idempotent: a rerun replaces the campaign's rows.
    flag_duplicates(con, CAMPAIGN, DuplicateSettings())
    assert con.execute("SELECT count(*) FROM duplicate_clusters").fetchall() == [(1,)]


# ------------------------------------------------------------------------------ spikes


def test_a_burst_is_one_spike_with_its_top_posts() -> None:
    con = build(steady_with_burst())
    n = detect_spikes(con, CAMPAIGN, TrendSettings())
    rows = con.execute(
        "SELECT series, start_hour, end_hour, posts, peak_score, len(top_post_ids) FROM spikes"
    ).fetchall()
    assert n == 1 and len(rows) == 1
    series, start, end, posts, score, top = rows[0]
    assert series == "all" and start == end == datetime(2025, 3, 21, 16)
    assert posts == 63 and score >= 4 and top == 3
    scores = con.execute(
        "SELECT count(*) FILTER (is_spike), count(*) FROM spike_scores WHERE series = 'all'"
    ).fetchall()
    assert scores == [(1, 60)]


def test_flagged_bursts_make_no_spike_unless_included() -> None:
    posts = steady_with_burst(burst=0)
    posts += [post(1000 + k, 40 + k / 100, SPAM.format(k), author="x:bot") for k in range(60)]
    con = build(posts)
    flag_duplicates(con, CAMPAIGN, DuplicateSettings())
    assert detect_spikes(con, CAMPAIGN, TrendSettings()) == 0
    assert detect_spikes(con, CAMPAIGN, TrendSettings(exclude_flagged=False)) == 1


def test_the_campaign_alert_sets_the_spike_threshold() -> None:
    con = build(steady_with_burst(), alerts={"spike_score": 1000.0})
    assert spike_threshold(con, CAMPAIGN, 4.0) == 1000.0
    assert detect_spikes(con, CAMPAIGN, TrendSettings()) == 0


def test_entity_series_are_scored_too() -> None:
    posts = steady_with_burst(burst=0)
    posts += [post(2000 + k, 45 + k / 40, f"Reve image model take {k}") for k in range(30)]
    con = build(posts)
    detect_spikes(con, CAMPAIGN, TrendSettings())
    series = [r[0] for r in con.execute("SELECT series FROM spikes ORDER BY 1").fetchall()]
    assert series == ["all", "entity:Reve"]


def test_run_trends_refreshes_facts_then_flags_and_scores() -> None:
    con = connect(":memory:")
    store_campaign(con, campaign())
    store_batch(con, ParseResult(posts=steady_with_burst()), campaign=CAMPAIGN)
    (report,) = run_trends(con, CAMPAIGN)
    assert report.spikes == 1 and report.flags.posts == 240


# ------------------------------------------------------------------------------- views


def test_volume_and_share_of_voice_leave_flagged_posts_out() -> None:
    posts = [
        post(1, 1.1, "Reve beats Gemini today"),
        post(2, 1.2, "Imagen is great", likes=100),
        post(3, 1.3, "revealed nothing new"),  # not a mention of Reve
        post(4, 1.4, "Reve's new model"),
    ]
    con = build(posts)
    con.execute(
        "INSERT INTO post_flags VALUES ('x:4', ?, 'bot_like', 0, now()::TIMESTAMP)", [CAMPAIGN]
    )
    volume = con.execute(
        "SELECT posts, flagged_posts, engagement, weighted_posts FROM volume_hourly"
    ).fetchall()
    assert volume[0][:3] == (3, 1, 100)
    assert volume[0][3] == pytest.approx(3 + math.log(101))
    voice = dict(
        con.execute("SELECT entity, share_of_voice FROM entity_hourly ORDER BY entity").fetchall()
    )
    assert voice == {"Gemini": pytest.approx(2 / 3), "Reve": pytest.approx(1 / 3)}


def _indices_by_hand(
    posts: list[int], positive: list[int], negative: list[int], concern: list[int]
):
    """hype and debate per hour, as docs/metrics.md defines them (every post labelled)."""
    out = []
    for h, n in enumerate(posts):
        before = posts[max(0, h - 24) : h]
        baseline = sum(before) / len(before) if before else 0.0
        momentum = (n + 1) / (n + baseline + 2)
        if n >= 5:
            hype = 100 * positive[h] / n * momentum
            debate = 100 * (concern[h] / n + negative[h] / n) / 2
        else:
            hype = debate = None
        out.append((n, baseline, hype, debate))
    return out


def test_hype_and_debate_indices_follow_their_definition() -> None:
    counts = [6, 0, 8, 12, 5]
    positive = [3, 0, 2, 10, 1]
    negative = [1, 0, 4, 1, 3]
    concern = [0, 0, 6, 2, 5]
    posts, labels, i = [], [], 0
    for h, n in enumerate(counts):
        for k in range(n):
            posts.append(post(i, h + k / (n + 1), f"post {i} about the launch"))
            sentiment = (
                "positive"
                if k < positive[h]
                else "negative"
                if k < positive[h] + negative[h]
                else "neutral"
            )
            labels.append((f"x:{i}", sentiment, "concern" if k < concern[h] else "none"))
            i += 1
    con = connect(":memory:")
    store_campaign(con, campaign())
    store_batch(con, ParseResult(posts=posts), campaign=CAMPAIGN)
    for row in labels:
        label(con, *row)
    materialize(con)
    rows = con.execute(
        "SELECT posts, baseline_posts, hype_index, debate_index FROM trend_indices "
        "ORDER BY hour_utc"
    ).fetchall()
    expected = _indices_by_hand(counts, positive, negative, concern)
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        assert got[0] == want[0] and got[1] == pytest.approx(want[1])
        for g, w in zip(got[2:], want[2:], strict=True):
            assert (g is None and w is None) or g == pytest.approx(w)


def test_events_are_on_the_timeline() -> None:
    con = build(steady_with_burst())
    rows = con.execute("SELECT hour_utc, title, posts FROM timeline_events").fetchall()
    assert rows == [(datetime(2025, 3, 21, 6), "Launch", 3)]


def test_top_authors_mark_bots() -> None:
    posts = [post(k, k / 10, SPAM.format(k), author="x:bot", likes=5) for k in range(4)]
    posts.append(post(10, 1, "a thoughtful take", author="x:human", likes=50))
    con = build(posts)
    flag_duplicates(con, CAMPAIGN, DuplicateSettings())
    materialize(con)
    rows = con.execute(
        "SELECT rank, author_id, posts, flagged_posts, bot_like FROM top_authors ORDER BY rank"
    ).fetchall()
    assert rows == [(1, "x:human", 1, 0, False), (2, "x:bot", 4, 4, True)]


def test_the_sql_in_docs_metrics_recomputes_the_indices() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "metrics.md").read_text()
    sql = doc.split("Both indices, recomputed in SQL", 1)[1].split("```sql", 1)[1]
    sql = sql.split("```", 1)[0].strip().rstrip(";")
    posts = steady_with_burst(burst=20)
    con = build(posts)
    for i, p in enumerate(posts):
        label(
            con, p.post_id, ("positive", "negative", "neutral")[i % 3], ("concern", "none")[i % 2]
        )
    materialize(con)
    columns = "campaign, hour_utc, posts, baseline_posts, hype_index, debate_index"
    view = con.execute(f"SELECT {columns} FROM trend_indices ORDER BY hour_utc").fetchall()
    by_hand = con.execute(f"SELECT {columns} FROM ({sql}) ORDER BY hour_utc").fetchall()
    assert view == by_hand and len(view) == 60
    assert any(row[4] is not None for row in view)


def test_trends_command_prints_flags_spikes_and_share_of_voice(tmp_path) -> None:
    import typer
    from typer.testing import CliRunner

    from hypewatch.cli_topics import trends_command

    db = tmp_path / "w.duckdb"
    con = connect(db)
    con.execute("SELECT 1").fetchall()
    store_campaign(con, campaign())
    posts = steady_with_burst()
    posts += [post(5000 + k, 10 + k / 10, SPAM.format(k)) for k in range(5)]
    posts += [post(6000 + k, 20 + k, "Reve or Gemini?") for k in range(3)]
    store_batch(con, ParseResult(posts=posts), campaign=CAMPAIGN)
    con.close()
    app = typer.Typer()
    app.command("trends")(trends_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["trends", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "1 bot-like" in result.output and "1 spikes" in result.output
    assert "Gemini" in result.output and "no labels yet" in result.output
