"""Reddit: PRAW's recorded listings and comment trees, plus deleted authors and crossposts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ingest.model import ParseResult
from ingest.parsers import FORMATS

parse = FORMATS["reddit"].parse


def recorded(shared_api: Path, name: str) -> object:
    """The JSON body of the cassette's API call (not its token request)."""
    cassette = json.loads((shared_api / "reddit-praw-cassettes" / name).read_text())
    (body,) = [
        i["response"]["body"]["string"]
        for i in cassette["interactions"]
        if "access_token" not in i["request"]["uri"]
    ]
    return json.loads(body)


def assert_round_trips(result: ParseResult) -> None:
    assert len(result.raw) == len(result.posts)
    for post, raw in zip(result.posts, result.raw, strict=True):
        assert raw.post_id == post.post_id and raw.format == "reddit"
        again = parse(orjson.loads(orjson.dumps(raw.payload)))
        assert again.posts == [post] and not again.rejects


def thing(kind: str, **data) -> dict:
    return {"kind": kind, "data": {"created_utc": 1742929200.0, "score": 3, **data}}


def test_comment_tree(shared_api: Path) -> None:
    result = parse(recorded(shared_api, "TestSubmission.test_comments.json"))
    assert not result.rejects
    submission, comment, reply = result.posts
    assert submission.post_id == "reddit:t3_2gmzqe"
    assert submission.text.startswith(
        "[PRAW] HTTPS enabled PRAW testing needed\n\nPRAW client developers,"
    )
    assert submission.created_at == datetime(2014, 9, 17, 6, 34, 31, tzinfo=UTC)
    assert submission.author_id == "reddit:bboe"
    assert submission.url == (
        "https://www.reddit.com/r/redditdev/comments/2gmzqe/praw_https_enabled_praw_testing_needed/"
    )
    assert (submission.likes, submission.replies) == (11, 2)
    assert submission.conversation_id == submission.post_id and submission.lang is None
    assert comment.post_id == "reddit:t1_cklfmye" and comment.author_id == "reddit:paneer_burrito"
    assert comment.reply_to_id == "reddit:t3_2gmzqe" == comment.conversation_id
    assert reply.post_id == "reddit:t1_cklhv0f"
    assert reply.reply_to_id == "reddit:t1_cklfmye" and reply.conversation_id == "reddit:t3_2gmzqe"
    assert reply.url == "https://www.reddit.com/comments/2gmzqe/_/cklhv0f/"
    assert reply.created_at == datetime(2014, 9, 18, 3, 13, 54, tzinfo=UTC)
    assert [a.handle for a in result.authors] == ["bboe", "paneer_burrito"]
    # The parent comment's raw payload leaves its reply out: each is stored once.
    assert result.raw[1].payload["data"]["replies"] == ""
    assert_round_trips(result)


def test_new_submissions_listing(shared_api: Path) -> None:
    result = parse(recorded(shared_api, "TestSubredditListings.test_new.json"))
    assert not result.rejects and len(result.posts) == 100
    first = result.posts[0]
    assert first.post_id == "reddit:t3_48fbm9" and first.author_id == "reddit:RedHeadQc"
    assert first.text == (
        "[Serious] Parents of Reddit, what's the biggest lie about yourself you've told your kids?"
    )
    assert first.created_at == datetime.fromtimestamp(1456821458, tz=UTC)
    selfpost = next(p for p in result.posts if p.native_id == "t3_48fax4")
    assert selfpost.text.endswith("how did other employees feel about you?\n\n.")
    assert_round_trips(result)


def test_comments_listing_and_search(shared_api: Path) -> None:
    comments = parse(recorded(shared_api, "TestSubredditListings.test_comments.json"))
    assert not comments.rejects and len(comments.posts) == 100
    first = comments.posts[0]
    assert first.post_id == "reddit:t1_d4y8bdp" and first.author_id == "reddit:preppypuppy"
    assert first.text == "great, life is so much better when you can do what you enjoy for a living"
    assert first.conversation_id == "reddit:t3_4r4inc"
    search = parse(recorded(shared_api, "TestSubreddit.test_search.json"))
    assert not search.rejects and len(search.posts) == 6
    assert search.posts[0].post_id == "reddit:t3_3gpbiu" and search.posts[0].replies == 21


def test_more_deleted_crosspost_and_bad_kinds() -> None:
    listing = {
        "kind": "Listing",
        "data": {
            "children": [
                thing(
                    "t3",
                    id="1abcde",
                    title="GPT-4o の画像生成 🎨",
                    selftext="",
                    author="[deleted]",
                    permalink="/r/OpenAI/comments/1abcde/gpt4o/",
                    crosspost_parent="t3_1zzzzz",
                ),
                {"kind": "more", "data": {"count": 12, "children": ["c1", "c2"]}},
                {"kind": "t5", "data": {"display_name": "OpenAI"}},
                thing("t1", name="t1_x1", author="a"),  # no body
                thing("t1", name="t1_x2", body="ok", author="a", created_utc="bad"),
            ]
        },
    }
    result = parse(listing)
    (post,) = result.posts
    assert post.native_id == "t3_1abcde" and post.text == "GPT-4o の画像生成 🎨"
    assert post.author_id is None and not result.authors
    assert post.repost_of_id == "reddit:t3_1zzzzz"
    assert [r.reason for r in result.rejects] == [
        "reddit: child kind 't5' is not a submission or comment",
        "reddit: comment t1_x1 has no body",
        "reddit: t1_x2 has no created_utc",
    ]
    assert_round_trips(result)


def test_single_thing_and_whole_payload_problems() -> None:
    comment = thing("t1", id="abc", body="hi", author="u1", parent_id="t3_p", link_id="t3_p")
    (post,) = parse(comment).posts
    assert post.post_id == "reddit:t1_abc" and post.likes == 3
    assert post.url == "https://www.reddit.com/comments/p/_/abc/"
    assert parse({"data": {}}).rejects[0].reason == (
        "reddit: payload is an object without a kind, not a Listing or a t1/t3 thing"
    )
    assert parse({"kind": "Listing", "data": {}}).rejects[0].reason == (
        "reddit: listing has no children array"
    )
    assert parse("x").rejects[0].reason.startswith("reddit: payload is a string")
