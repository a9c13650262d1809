"""``reparse``: the latest raw payload of each post through the current parser, in place."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from hypewatch.reparse import reparse
from ingest.model import ParseResult, Reject
from ingest.parsers import FORMATS, get_format
from warehouse.db import connect
from warehouse.writes import store_batch


@pytest.fixture
def con():
    con = connect(":memory:")
    yield con
    con.close()


def hit(object_id: str, text: str, points: int = 1) -> dict:
    return {
        "objectID": object_id,
        "created_at_i": 1742990000,
        "author": "pg",
        "title": text,
        "points": points,
        "_tags": ["story"],
    }


def store(con, fmt: str, payload, at: datetime, campaign: str | None = "c1") -> None:
    store_batch(con, get_format(fmt).parse(payload), campaign=campaign, collected_at=at)


def fixed_parser(monkeypatch, fmt: str, fix) -> None:
    """Replace the parser of ``fmt`` by one whose posts go through ``fix``."""
    original = FORMATS[fmt]

    def parse(payload, mapping=None):
        result = original.parse(payload, mapping)
        for post in result.posts:
            fix(post)
        return result

    monkeypatch.setitem(FORMATS, fmt, dataclasses.replace(original, parse=parse))


def texts(con) -> list[tuple[str, str]]:
    return con.execute("SELECT native_id, text FROM posts ORDER BY native_id").fetchall()


def test_a_parser_fix_updates_posts_in_place_without_duplicates(con, monkeypatch):
    store(
        con,
        "hn",
        {"hits": [hit(str(i), f"story {i} ジブリ 🎨") for i in range(5)]},
        datetime(2025, 3, 26),
    )
    raw_before = con.execute("SELECT count(*) FROM raw_payloads").fetchone()[0]
    fixed_parser(monkeypatch, "hn", lambda post: setattr(post, "text", post.text.upper()))

    counts = reparse(con, batch=2)

    assert (counts.fetched, counts.new, counts.updated, counts.rejected) == (5, 0, 5, 0)
    assert texts(con)[0] == ("0", "STORY 0 ジブリ 🎨")
    assert con.execute("SELECT count(*), count(DISTINCT post_id) FROM posts").fetchone() == (5, 5)
    assert con.execute("SELECT count(*) FROM raw_payloads").fetchone()[0] == raw_before
    assert con.execute("SELECT DISTINCT campaign FROM posts").fetchall() == [("c1",)]
    assert reparse(con).updated == 0  # idempotent
    runs = con.execute("SELECT source, status, fetched, updated FROM collection_runs").fetchall()
    assert runs == [("reparse:hn", "ok", 5, 5), ("reparse:hn", "ok", 5, 0)]


def test_the_latest_raw_payload_of_a_post_wins(con):
    store(con, "hn", hit("1", "first version"), datetime(2025, 3, 26))
    store(con, "hn", hit("1", "second version"), datetime(2025, 3, 27))
    con.execute("UPDATE posts SET text = 'stale'")
    counts = reparse(con, ["hn"])
    assert counts.updated == 1 and texts(con) == [("1", "second version")]


def test_only_the_post_itself_is_reparsed_from_its_payload(con):
    """A boost carries an old copy of the boosted status; that copy must not win."""
    boosted = {
        "id": "2", "uri": "https://m.example/statuses/2", "url": "https://m.example/@a/2",
        "created_at": "2025-03-26T10:00:00.000Z", "content": "<p>original</p>",
        "favourites_count": 1, "reblogs_count": 0, "replies_count": 0, "reblog": None,
        "account": {"id": "1", "url": "https://m.example/@a", "acct": "a", "username": "a"},
    }  # fmt: skip
    boost = {
        **boosted, "id": "3", "uri": "https://m.example/statuses/3", "content": "",
        "url": "https://m.example/@b/3", "reblog": boosted,
        "account": {"id": "9", "url": "https://m.example/@b", "acct": "b", "username": "b"},
    }  # fmt: skip
    store(con, "mastodon", [boost], datetime(2025, 3, 26))
    store(con, "mastodon", [{**boosted, "favourites_count": 50}], datetime(2025, 3, 27))
    reparse(con)
    likes = con.execute(
        "SELECT likes FROM latest_metrics WHERE post_id = 'mastodon:https://m.example/statuses/2'"
    ).fetchone()
    assert likes == (50,)


def test_formats_filter_and_unknown_format(con, monkeypatch):
    store(con, "hn", hit("1", "hn story"), datetime(2025, 3, 26))
    fixed_parser(monkeypatch, "hn", lambda post: setattr(post, "text", "fixed"))
    assert reparse(con, ["mastodon"]).fetched == 0
    assert texts(con) == [("1", "hn story")]
    with pytest.raises(ValueError, match="unknown payload format 'tiktok'"):
        reparse(con, ["tiktok"])


def test_a_payload_the_parser_now_rejects_is_recorded_and_the_post_kept(con, monkeypatch):
    store(con, "hn", hit("1", "kept"), datetime(2025, 3, 26))

    def stricter(payload, mapping=None):
        return ParseResult(rejects=[Reject("hn", "hn: stricter parser", payload)])

    monkeypatch.setitem(FORMATS, "hn", dataclasses.replace(FORMATS["hn"], parse=stricter))
    counts = reparse(con)
    assert counts.rejected == 1 and texts(con) == [("1", "kept")]
    assert con.execute("SELECT count(*) FROM rejects WHERE run_id IS NOT NULL").fetchone() == (1,)
