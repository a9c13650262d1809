"""Campaign files: the shipped campaign loads, bad files fail with a clear message."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hypewatch.campaigns import Alerts, CampaignError, find_campaign, load_campaign
from hypewatch.settings import PROJECT_ROOT
from warehouse.db import connect
from warehouse.writes import store_campaign

CAMPAIGNS = PROJECT_ROOT / "campaigns"


def test_launch_campaign_has_queries_entities_and_events() -> None:
    c = find_campaign("gpt4o-image-launch", CAMPAIGNS)
    assert c.start == datetime(2025, 3, 20, tzinfo=UTC)
    names = {e.name for e in c.entities}
    for expected in ("GPT-4o image", "Gemini 2.0 Flash", "Midjourney", "Grok", "Reve", "Ideogram"):
        assert expected in names
    for expected in ("DALL-E 3", "Stable Diffusion", "Sora"):
        assert expected in names
    titles = {(e.at.date().isoformat(), e.title) for e in c.events}

    def on(day: str, words: str) -> bool:
        return any(d == day and words in t for d, t in titles)

    assert on("2025-03-25", "Launch")
    assert on("2025-03-27", "GPUs are melting")
    assert on("2025-03-31", "million")
    assert on("2025-04-03", "Midjourney V7")
    assert c.queries.x and c.queries.reddit_subreddits and c.queries.hn
    assert all(e.name in e.aliases for e in c.entities)


def test_every_shipped_campaign_is_valid() -> None:
    for path in CAMPAIGNS.glob("*.toml"):
        assert load_campaign(path).name == path.stem


def test_campaign_is_loaded_into_the_warehouse_idempotently() -> None:
    c = find_campaign("gpt4o-image-launch", CAMPAIGNS)
    con = connect(":memory:")
    store_campaign(con, c)
    store_campaign(con, c)
    assert con.execute("SELECT count(*) FROM entities").fetchone()[0] == len(c.entities)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == len(c.events)
    row = con.execute("SELECT start_at, end_at FROM campaigns").fetchone()
    assert row == (datetime(2025, 3, 20), datetime(2025, 4, 5))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name = 'x'\n", r"title: Field required"),
        ("name='Bad Name'\ntitle='t'\nstart=2025-01-02\nend=2025-01-03\n", "name"),
        ("name='a'\ntitle='t'\nstart=2025-01-03T00:00:00Z\nend=2025-01-02T00:00:00Z\n", "end"),
        (
            "name='a'\ntitle='t'\nstart=2025-01-01T00:00:00Z\nend=2025-01-02T00:00:00Z\nfoo=1\n",
            "foo",
        ),
        ("name = [", "not valid TOML"),
    ],
)
def test_bad_campaign_files_name_the_problem(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "a.toml"
    path.write_text(body)
    with pytest.raises(CampaignError, match=message):
        load_campaign(path)


def test_unknown_campaign_lists_the_known_ones() -> None:
    with pytest.raises(CampaignError, match="gpt4o-image-launch"):
        find_campaign("nope", CAMPAIGNS)


def test_alerts_are_typed_with_a_min_posts_guard() -> None:
    alerts = find_campaign("gpt4o-image-launch", CAMPAIGNS).alerts
    assert set(alerts.rules()) == {"spike_score", "negative_share", "concern_share"}
    assert alerts.min_posts >= 20
    assert Alerts().rules() == {} and Alerts().min_posts == 50  # every rule off by default


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        (
            "negative_share = 1.5",
            r"alerts\.negative_share: Input should be less than or equal to 1",
        ),
        ("concern_share = 0", r"alerts\.concern_share: Input should be greater than 0"),
        ("spike_score = 'high'", r"alerts\.spike_score: Input should be a valid number"),
        ("min_posts = 0", r"alerts\.min_posts: Input should be greater than or equal to 1"),
        ("webhook = 'https://hooks.example/x'", r"alerts\.webhook: Extra inputs are not permitted"),
    ],
)
def test_bad_alerts_name_the_field(tmp_path: Path, alerts: str, message: str) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        "name='a'\ntitle='t'\nstart=2025-01-01T00:00:00Z\nend=2025-01-02T00:00:00Z\n"
        f"[alerts]\n{alerts}\n"
    )
    with pytest.raises(CampaignError, match=message):
        load_campaign(path)
