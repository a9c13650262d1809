"""Bluesky: the atproto SDK's recorded thread view and records, plus feeds and searches."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ingest.model import ParseResult
from ingest.parsers import FORMATS

parse = FORMATS["bluesky"].parse

DID = "did:plc:kvwvcn5iqfooopmyzvb4qzba"
THREAD_POST = f"at://{DID}/app.bsky.feed.post/3kaheyt6vpc22"
ALICE = "did:plc:alice2222222222222222222"


def assert_round_trips(result: ParseResult) -> None:
    assert len(result.raw) == len(result.posts)
    for post, raw in zip(result.posts, result.raw, strict=True):
        assert raw.post_id == post.post_id and raw.format == "bluesky"
        again = parse(orjson.loads(orjson.dumps(raw.payload)))
        assert post in again.posts and not again.rejects


def post_view(rkey: str, text: str, **record_fields) -> dict:
    uri = f"at://{ALICE}/app.bsky.feed.post/{rkey}"
    return {
        "$type": "app.bsky.feed.defs#postView",
        "uri": uri,
        "cid": "bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5gpgszinhzfrdhq",
        "author": {"did": ALICE, "handle": "alice.bsky.social", "displayName": "Alice ✨"},
        "record": {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": "2025-03-25T18:04:11.221Z",
            "langs": ["ja", "en"],
            **record_fields,
        },
        "replyCount": 2,
        "repostCount": 5,
        "likeCount": 31,
        "quoteCount": 1,
        "indexedAt": "2025-03-25T18:04:12.000Z",
        "labels": [],
    }


def test_thread_view_with_quote_and_media(shared_api: Path) -> None:
    payload = json.loads(
        (shared_api / "bluesky-atproto/thread_view_post_with_embed_media.json").read_text()
    )
    result = parse(payload)
    assert not result.rejects
    (post,) = result.posts
    assert post.post_id == f"bluesky:{THREAD_POST}"
    assert post.created_at == datetime(2023, 9, 28, 12, 49, 36, 735000, tzinfo=UTC)
    assert post.text == "" and post.lang == "en"
    assert post.author_id == f"bluesky:{DID}"
    assert post.url == "https://bsky.app/profile/test.marshal.dev/post/3kaheyt6vpc22"
    assert post.quote_of_id == f"bluesky:at://{DID}/app.bsky.feed.post/3kahesw26il2z"
    assert post.conversation_id == post.post_id and post.reply_to_id is None
    assert (post.likes, post.reposts, post.replies, post.quotes) == (0, 0, 0, None)
    (author,) = result.authors
    assert (author.handle, author.display_name) == ("test.marshal.dev", "Python SDK")
    assert author.created_at == datetime(2023, 4, 26, 19, 5, 34, 249000, tzinfo=UTC)
    assert result.raw[0].payload is payload["thread"]["post"]
    assert_round_trips(result)


def test_repo_records(shared_api: Path) -> None:
    folder = shared_api / "bluesky-atproto"
    record = json.loads((folder / "post_record.json").read_text())
    extended = json.loads((folder / "extended_post_record.json").read_text())
    result = parse({"records": [record, extended]})
    assert not result.rejects
    first, second = result.posts
    assert first.native_id == f"at://{DID}/app.bsky.feed.post/3k2yihcrp6f2c"
    assert first.text == "new text114"
    assert first.created_at == datetime(2024, 2, 22, 19, 58, 13, 903293, tzinfo=UTC)
    assert first.author_id == f"bluesky:{DID}" and first.likes is None
    assert first.url == f"https://bsky.app/profile/{DID}/post/3k2yihcrp6f2c"
    assert (second.text, second.lang) == ("regress test", "en")
    assert_round_trips(result)
    like = json.loads((folder / "like_record.json").read_text())
    assert parse(like).rejects[0].reason == (
        "bluesky: record type 'app.bsky.feed.like' is not app.bsky.feed.post"
    )
    assert (
        "not a postView"
        in parse(json.loads((folder / "did_doc.json").read_text())).rejects[0].reason
    )


def test_search_reply_facets_and_japanese() -> None:
    root = f"at://{ALICE}/app.bsky.feed.post/3lroot"
    reply = post_view(
        "3lreply",
        "新しい画像生成、すごい！🎨 #GPT4o #AI",
        reply={"root": {"uri": root, "cid": "c1"}, "parent": {"uri": root, "cid": "c1"}},
        facets=[
            {
                "index": {"byteStart": 40, "byteEnd": 47},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "GPT4o"}],
            },
            {
                "index": {"byteStart": 48, "byteEnd": 51},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "AI"}],
            },
        ],
    )
    plain = post_view("3lplain", "no facets here but #launch and #launch again")
    result = parse({"posts": [reply, plain], "hitsTotal": 2})
    first, second = result.posts
    assert first.text == "新しい画像生成、すごい！🎨 #GPT4o #AI"
    assert first.hashtags == ["GPT4o", "AI"] and first.lang == "ja"
    assert first.reply_to_id == first.conversation_id == f"bluesky:{root}"
    assert first.url == "https://bsky.app/profile/alice.bsky.social/post/3lreply"
    assert (first.likes, first.reposts, first.replies, first.quotes) == (31, 5, 2, 1)
    assert second.hashtags == ["launch"]
    assert result.authors[0].display_name == "Alice ✨" and len(result.authors) == 1
    assert_round_trips(result)


def test_feed_with_reply_context_and_repost() -> None:
    parent = post_view("3lparent", "the parent")
    child = post_view(
        "3lchild",
        "the child",
        reply={"root": {"uri": parent["uri"]}, "parent": {"uri": parent["uri"]}},
        embed={"$type": "app.bsky.embed.record", "record": {"uri": parent["uri"], "cid": "c"}},
    )
    repost_uri = "at://did:plc:bob/app.bsky.feed.repost/3lrepost"
    feed = {
        "feed": [
            {"post": child, "reply": {"parent": parent, "root": parent}},
            {
                "post": parent,
                "reason": {
                    "$type": "app.bsky.feed.defs#reasonRepost",
                    "by": {"did": "did:plc:bob", "handle": "bob.test"},
                    "uri": repost_uri,
                    "indexedAt": "2025-03-26T08:00:00.000Z",
                },
            },
        ],
        "cursor": "abc",
    }
    result = parse(feed)
    assert not result.rejects
    ids = [p.native_id for p in result.posts]
    assert ids == [child["uri"], parent["uri"], repost_uri]
    assert result.posts[0].quote_of_id == f"bluesky:{parent['uri']}"
    repost = result.posts[2]
    assert repost.repost_of_id == f"bluesky:{parent['uri']}" and repost.text == ""
    assert repost.author_id == "bluesky:did:plc:bob"
    assert repost.created_at == datetime(2025, 3, 26, 8, 0, tzinfo=UTC)
    assert_round_trips(result)


def test_thread_walk_skips_placeholders_and_rejects_bad_posts() -> None:
    bad = post_view("3lbad", "x")
    del bad["record"]["createdAt"], bad["indexedAt"]
    thread = {
        "thread": {
            "$type": "app.bsky.feed.defs#threadViewPost",
            "post": post_view("3lmain", "main"),
            "parent": {
                "$type": "app.bsky.feed.defs#notFoundPost",
                "uri": "at://x",
                "notFound": True,
            },
            "replies": [
                {"post": post_view("3lr1", "r1"), "replies": [{"post": post_view("3lr2", "r2")}]},
                {"post": bad},
                {"$type": "app.bsky.feed.defs#blockedPost", "uri": "at://y", "blocked": True},
            ],
        }
    }
    result = parse(thread)
    assert [p.text for p in result.posts] == ["main", "r1", "r2"]
    assert [r.reason for r in result.rejects] == [
        f"bluesky: post at://{ALICE}/app.bsky.feed.post/3lbad has no createdAt"
    ]


def test_whole_payload_problems() -> None:
    assert parse(3).rejects[0].reason.startswith("bluesky: payload is a number")
    assert "not an at:// uri" in parse({"uri": "https://x", "record": {}}).rejects[0].reason
    assert "not a threadViewPost" in parse({"thread": None}).rejects[0].reason


def test_bare_thread_view_post() -> None:
    node = {
        "$type": "app.bsky.feed.defs#threadViewPost",
        "post": post_view("3lmain", "main"),
        "replies": [{"post": post_view("3lr1", "r1")}],
    }
    assert [p.text for p in parse(node).posts] == ["main", "r1"]
