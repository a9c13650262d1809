"""The summary sentences, from hand-made numbers: rises, falls, zeros, new topics, gaps."""

from __future__ import annotations

from datetime import datetime

from dashboard.metrics import Figure, points
from dashboard.reports.narrative import Facts, TopicMove, change, sentences

NAN = float("nan")


def test_rise_led_by_a_topic() -> None:
    f = Facts("day", posts=440, prev_posts=100, lead_topic=TopicMove("Ghibli portraits", 300, 20))
    assert sentences(f)[0] == (
        "Posts rose 340% day over day to 440, led by the topic 'Ghibli portraits' (20 → 300 posts)."
    )


def test_fall_with_a_growing_topic_does_not_say_led() -> None:
    f = Facts("week", posts=80, prev_posts=100, lead_topic=TopicMove("copyright", 50, 10))
    first = sentences(f)[0]
    assert first.startswith("Posts fell 20% week over week to 80, while the topic 'copyright' grew")


def test_new_topic_leads_and_is_not_repeated() -> None:
    f = Facts(
        "day", posts=50, prev_posts=49,
        lead_topic=TopicMove("V7 alpha", 12, 0, is_new=True), new_topics=["V7 alpha", "memes"],
    )  # fmt: skip
    out = sentences(f)
    assert (
        out[0]
        == "Posts held steady day over day (50, +2%), led by the new topic 'V7 alpha' (12 posts)."
    )
    assert "New topic this day: 'memes'." in out
    assert not any("'V7 alpha'" in s for s in out[1:])


def test_zero_cases() -> None:
    assert sentences(Facts("day", 0, 0)) == [
        "There were no posts in this period, nor the day before."
    ]
    assert sentences(Facts("week", 0, 12)) == [
        "There were no posts in this period, after 12 the week before."
    ]
    assert sentences(Facts("day", 7, 0))[0] == "7 posts, up from none the day before."
    assert change(0, 0) == ("held steady", 0.0)
    assert change(5, 0) == ("appeared", None)


def test_negative_tone_and_shares() -> None:
    f = Facts(
        "day", 100, 100, net_sentiment=-0.35, prev_net_sentiment=-0.05,
        concern_share=0.42, prev_concern_share=0.20,
        top_entity="Midjourney", top_entity_share=0.31, top_entity_prev_share=0.30,
    )  # fmt: skip
    out = sentences(f)
    assert "The tone was negative (net sentiment -0.35, down 30 pts)." in out
    assert "42% of copyright-labelled posts raised a copyright concern (up from 20%)." in out
    assert "Midjourney led the share of voice with 31% of entity mentions." in out


def test_unknown_numbers_are_left_out() -> None:
    f = Facts("day", 10, 10, net_sentiment=NAN, concern_share=None, top_entity=None)
    assert sentences(f) == ["Posts held steady day over day (10, +0%)."]


def test_spike_or_peak_hour() -> None:
    spike = Facts(
        "day", 100, 50, spike_at=datetime(2025, 3, 26, 14), spike_posts=40,
        spike_topic="Ghibli portraits",
    )  # fmt: skip
    assert (
        "Volume spiked at 26 Mar 14:00 UTC (40 posts in the hour, mostly about "
        "'Ghibli portraits')." in sentences(spike)
    )
    peak = Facts("day", 100, 50, peak_at=datetime(2025, 3, 26, 9), peak_posts=12)
    assert "The busiest hour was 26 Mar 09:00 UTC with 12 posts." in sentences(peak)


def test_a_change_that_rounds_to_zero_has_no_sign() -> None:
    assert points(-0.00001) == "0.0 pts" and points(0.00001) == "0.0 pts"
    assert points(-0.021) == "-2.1 pts" and points(0.021) == "+2.1 pts"
    flat = Figure("Concern share", 0.30001, 0.30002, "share")
    assert flat.delta() == "0.0 pts vs previous period"
