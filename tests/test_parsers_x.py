"""X API v2 pages: real twarc2 pages and tweepy responses, error lines, edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ingest.model import ParseResult
from ingest.parsers import FORMATS, get_format

parse = FORMATS["x-v2"].parse


def pages(path: Path) -> list[dict]:
    """The JSON lines of a twarc2 file; the truncated line at the end is skipped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def assert_round_trips(result: ParseResult) -> None:
    """Every raw payload is JSON that re-parses alone into the very same post."""
    assert len(result.raw) == len(result.posts)
    for post, raw in zip(result.posts, result.raw, strict=True):
        assert raw.post_id == post.post_id and raw.format == "x-v2"
        again = parse(orjson.loads(orjson.dumps(raw.payload)))
        assert again.posts == [post] and not again.rejects


def tweet(**fields) -> dict:
    base = {"id": "1600000000000000000", "text": "hi", "created_at": "2022-12-06T00:00:00.000Z"}
    return {**base, **fields}


def test_registry() -> None:
    fmt = get_format("x-v2")
    assert (fmt.name, fmt.platform) == ("x-v2", "x") and fmt.description
    assert set(FORMATS) == {"x-v2", "bluesky", "mastodon", "reddit", "hn", "jsonl", "csv"}
    with pytest.raises(ValueError, match=r"'twitter'.*x-v2, bluesky"):
        get_format("twitter")


def test_retweet_page(shared_api: Path) -> None:
    (page,) = pages(shared_api / "x-v2-pages" / "two_tweets.jsonl")
    result = parse(page)
    assert not result.rejects
    retweet, original = result.posts
    assert retweet.post_id == "x:1394735776701816833"
    assert retweet.created_at == datetime(2021, 5, 18, 19, 24, 56, tzinfo=UTC)
    assert retweet.text == "RT @bibaigna96: #POIUYTREWQ"
    assert retweet.author_id == "x:1379899464345923590"
    assert retweet.url == "https://x.com/LachiVeronica/status/1394735776701816833"
    assert retweet.repost_of_id == "x:1391677057810288641" == original.post_id
    assert retweet.conversation_id == "x:1394735776701816833"
    assert retweet.hashtags == ["POIUYTREWQ"]
    assert retweet.lang is None  # "und"
    assert (retweet.likes, retweet.reposts, retweet.replies, retweet.quotes) == (0, 1, 0, 0)
    assert retweet.views is None
    assert original.url == "https://x.com/bibaigna96/status/1391677057810288641"
    authors = {a.handle: a for a in result.authors}
    veronica = authors["LachiVeronica"]
    assert veronica.author_id == "x:1379899464345923590"
    assert veronica.display_name == "Veronica Lachi"
    assert (veronica.followers, veronica.following, veronica.post_count) == (0, 4, 2)
    assert veronica.verified is False
    assert veronica.created_at == datetime(2021, 4, 7, 20, 50, 54, tzinfo=UTC)
    assert_round_trips(result)


def test_reply_that_quotes(shared_api: Path) -> None:
    (page,) = pages(shared_api / "x-v2-pages" / "quoted_edit.jsonl")
    result = parse(page)
    reply = result.posts[0]
    assert reply.native_id == "1576995594388000768"
    assert reply.reply_to_id == "x:1576994789110992896"
    assert reply.quote_of_id == "x:1576994746135764992"
    assert reply.conversation_id == "x:1576994789110992896"
    assert reply.text == "@wongmjane Test \nhttps://t.co/rBFwqjVr6B"
    assert reply.url == "https://x.com/dappdavid99/status/1576995594388000768"
    # data[0] is repeated in includes.tweets: kept once.
    assert [p.native_id for p in result.posts] == [
        "1576995594388000768",
        "1576994746135764992",
        "1576994789110992896",
    ]
    jane = next(a for a in result.authors if a.handle == "wongmjane")
    assert (jane.followers, jane.verified) == (138098, True)
    assert_round_trips(result)


def test_impressions_and_emoji(shared_api: Path) -> None:
    (page,) = pages(shared_api / "x-v2-pages" / "verified_type.jsonl")
    result = parse(page)
    (post,) = result.posts
    assert post.views == 139075 and post.likes == 745 and post.quotes == 24
    assert post.text.startswith("Testing… Testing… Twitter Dev is back online! 📡\n\n")
    assert result.authors[0].handle == "TwitterDev" and result.authors[0].followers == 556601
    assert_round_trips(result)


def test_every_recorded_page_parses(shared_api: Path) -> None:
    posts = 0
    for path in sorted((shared_api / "x-v2-pages").glob("*.jsonl")):
        for page in pages(path):
            result = parse(page)
            if path.name == "counts.jsonl":
                assert [r.reason for r in result.rejects] == [
                    "x-v2: page is a tweet-counts response, not tweets"
                ]
                continue
            assert not result.rejects, path.name
            assert_round_trips(result)
            posts += len(result.posts)
    assert posts == 23


def test_stream_lines_with_single_tweet_data(shared_api: Path) -> None:
    lines = pages(shared_api / "x-v2-pages" / "streaming_output_with_error.jsonl")
    assert len(lines) == 7  # the 8th line is cut off: the file reader rejects it
    result = ParseResult()
    for line in lines:
        result.extend(parse(line))
    assert not result.rejects
    by_id = {p.native_id: p for p in result.posts}
    dogs = by_id["1377650387579248643"]
    assert dogs.hashtags == ["DogsofTwitter", "dogs"]
    assert dogs.url == "https://x.com/OpenMindMH/status/1377650387579248643"
    assert by_id["1377650093109743620"].reply_to_id == "x:1377266697850257410"
    assert by_id["1377650090978992134"].quote_of_id == "x:1377640162566496258"


def test_tweepy_default_fields_take_time_from_snowflake(shared_api: Path) -> None:
    recorded = json.loads(
        (shared_api / "x-tweepy-cassettes/decoded/test_client_get_tweet.json").read_text()
    )
    result = parse(recorded[0]["body"])  # "data" is one object, not a list
    (post,) = result.posts
    assert post.post_id == "x:1293593516040269825"
    assert post.created_at == datetime(2020, 8, 12, 17, 1, 42, 686000, tzinfo=UTC)
    assert post.text.startswith("It’s finally here! 🥁 Say hello to the new #TwitterAPI.")
    assert post.author_id is None and post.url == "https://x.com/i/status/1293593516040269825"
    assert_round_trips(result)


def test_tweepy_recordings(shared_api: Path) -> None:
    counts = {}
    for path in sorted((shared_api / "x-tweepy-cassettes" / "decoded").glob("*.json")):
        for interaction in json.loads(path.read_text()):
            result = parse(interaction["body"])
            counts[path.stem] = len(result.posts)
            if "count" in path.stem:
                assert "tweet-counts" in result.rejects[0].reason
            else:
                assert not result.rejects
    assert counts["test_client_get_tweets"] == 2
    assert counts["test_client_get_users_tweets"] == 2
    assert counts["test_client_search_recent_tweets"] == 10


def test_error_only_lines_are_one_reject_each() -> None:
    disconnect = {
        "errors": [
            {
                "title": "operational-disconnect",
                "disconnect_type": "UpstreamOperationalDisconnect",
                "detail": "This stream has been disconnected upstream for operational reasons.",
                "type": "https://api.twitter.com/2/problems/operational-disconnect",
            }
        ]
    }
    result = parse(disconnect)
    assert not result.posts
    (reject,) = result.rejects
    assert reject.reason == (
        "x-v2: API error: operational-disconnect: "
        "This stream has been disconnected upstream for operational reasons."
    )
    assert reject.payload is disconnect
    problem = {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}
    assert parse(problem).rejects[0].reason == "x-v2: API error: Too Many Requests"


def test_valid_empty_pages_give_nothing() -> None:
    for page in ({"meta": {"result_count": 0}}, {"data": [], "meta": {"result_count": 0}}):
        result = parse(page)
        assert not result.posts and not result.rejects


def test_partial_errors_next_to_data_are_not_rejects() -> None:
    page = {
        "data": [tweet(referenced_tweets=[{"type": "replied_to", "id": "1"}])],
        "errors": [{"title": "Not Found Error", "resource_id": "1", "detail": "gone"}],
    }
    result = parse(page)
    assert len(result.posts) == 1 and not result.rejects
    assert result.posts[0].reply_to_id == "x:1"


def test_bad_tweet_in_page_is_rejected_alone() -> None:
    no_time = {"id": "123", "text": "old"}
    page = {"data": [tweet(), no_time, "junk", tweet(id="1600000000000000001", text=None)]}
    result = parse(page)
    assert [p.native_id for p in result.posts] == ["1600000000000000000"]
    assert [r.reason for r in result.rejects] == [
        "x-v2: tweet 123 has no created_at",
        "x-v2: tweet is a string, not an object",
        "x-v2: tweet 1600000000000000001 has no text",
    ]
    assert result.rejects[0].payload is no_time


def test_bare_tweet_long_text_and_non_ascii() -> None:
    text = "新しいモデル、すごい！🎉 #AI"
    bare = tweet(
        text="truncated…",
        note_tweet={"text": text},
        lang="ja",
        entities={"hashtags": [{"tag": "AI"}, {"tag": "AI"}]},
        author_id="42",
    )
    result = parse(bare)
    (post,) = result.posts
    assert post.text == text and post.lang == "ja" and post.hashtags == ["AI"]
    assert post.author_id == "x:42" and post.url == "https://x.com/i/status/1600000000000000000"
    assert_round_trips(result)


def test_whole_payload_problems() -> None:
    assert parse("nope").rejects[0].reason == "x-v2: payload is a string, not a page or tweet"
    assert "not an X API v2 page" in parse({"foo": 1}).rejects[0].reason
    assert "data is a number, not a tweet" in parse({"data": 5}).rejects[0].reason
    result = parse([{"data": [tweet()]}, 7])
    assert len(result.posts) == 1 and len(result.rejects) == 1
