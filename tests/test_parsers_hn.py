"""Hacker News Algolia ``search_by_date`` responses (hand-written in the API's shape)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from ingest.model import ParseResult
from ingest.parsers import FORMATS

parse = FORMATS["hn"].parse

STORY = {
    "_highlightResult": {
        "title": {"value": "<em>GPT-4o</em> image generation", "matchLevel": "full"}
    },
    "_tags": ["story", "author_minimaxir", "story_43474112"],
    "author": "minimaxir",
    "children": [43474230, 43474391],
    "created_at": "2025-03-25T18:02:25Z",
    "created_at_i": 1742925745,
    "num_comments": 412,
    "objectID": "43474112",
    "points": 873,
    "story_id": 43474112,
    "title": "Introducing 4o Image Generation",
    "updated_at": "2025-03-27T09:12:44Z",
    "url": "https://openai.com/index/introducing-4o-image-generation/",
}
ASK = {
    "_tags": ["story", "author_throwaway42", "story_43475000", "ask_hn"],
    "author": "throwaway42",
    "created_at": "2025-03-25T19:30:00Z",
    "created_at_i": 1742931000,
    "num_comments": 3,
    "objectID": "43475000",
    "points": 5,
    "story_id": 43475000,
    "story_text": "Has anyone tried it for diagrams?<p>Mine came out &quot;fine&quot;.",
    "title": "Ask HN: Is 4o image generation good for diagrams?",
    "url": None,
}
COMMENT = {
    "_tags": ["comment", "author_tptacek", "story_43474112"],
    "author": "tptacek",
    "comment_text": (
        "The text rendering is the real story here &#x2F; it&#x27;s legible.<p>"
        'See <a href="https:&#x2F;&#x2F;example.com">this</a> — 日本語も綺麗 🎌'
    ),
    "created_at": "2025-03-25T18:20:03Z",
    "created_at_i": 1742926803,
    "objectID": "43474391",
    "parent_id": 43474112,
    "points": None,
    "story_id": 43474112,
    "story_title": "Introducing 4o Image Generation",
    "story_url": "https://openai.com/index/introducing-4o-image-generation/",
    "updated_at": "2025-03-25T18:25:00Z",
}
RESPONSE = {
    "exhaustive": {"nbHits": True, "typo": True},
    "hits": [STORY, ASK, COMMENT],
    "hitsPerPage": 20,
    "nbHits": 3,
    "nbPages": 1,
    "page": 0,
    "params": "query=4o&tags=%28story%2Ccomment%29&numericFilters=created_at_i%3E1742860800",
    "processingTimeMS": 2,
    "query": "4o",
}


def assert_round_trips(result: ParseResult) -> None:
    assert len(result.raw) == len(result.posts)
    for post, raw in zip(result.posts, result.raw, strict=True):
        assert raw.post_id == post.post_id and raw.format == "hn"
        again = parse(orjson.loads(orjson.dumps(raw.payload)))
        assert again.posts == [post] and not again.rejects


def test_search_response() -> None:
    result = parse(RESPONSE)
    assert not result.rejects
    story, ask, comment = result.posts
    assert story.post_id == "hn:43474112" and story.platform == "hn"
    assert story.text == "Introducing 4o Image Generation"
    assert story.url == "https://news.ycombinator.com/item?id=43474112"
    assert story.created_at == datetime(2025, 3, 25, 18, 2, 25, tzinfo=UTC)
    assert (story.likes, story.replies) == (873, 412)
    assert story.author_id == "hn:minimaxir" and story.conversation_id == "hn:43474112"
    assert story.lang is None and story.reply_to_id is None
    assert ask.text == (
        "Ask HN: Is 4o image generation good for diagrams?\n\n"
        'Has anyone tried it for diagrams?\n\nMine came out "fine".'
    )
    assert comment.text == (
        "The text rendering is the real story here / it's legible.\n\nSee this — 日本語も綺麗 🎌"
    )
    assert comment.reply_to_id == "hn:43474112" and comment.conversation_id == "hn:43474112"
    assert comment.likes is None and comment.replies is None
    assert [a.handle for a in result.authors] == ["minimaxir", "throwaway42", "tptacek"]
    assert_round_trips(result)


def test_single_hit_and_iso_time_fallback() -> None:
    hit = {k: v for k, v in COMMENT.items() if k != "created_at_i"}
    (post,) = parse(hit).posts
    assert post.created_at == datetime(2025, 3, 25, 18, 20, 3, tzinfo=UTC)


def test_bad_hits_are_rejected_alone() -> None:
    no_title = {**STORY, "objectID": "1", "title": None}
    no_time = {**COMMENT, "objectID": "2", "created_at": None, "created_at_i": None}
    result = parse({"hits": [no_title, STORY, no_time, {"title": "x"}, []]})
    assert [p.native_id for p in result.posts] == ["43474112"]
    assert [r.reason for r in result.rejects] == [
        "hn: story 1 has no title",
        "hn: item 2 has no created_at",
        "hn: hit has no objectID",
        "hn: hit is an array, not an object",
    ]


def test_whole_payload_problems() -> None:
    assert parse({"hits": None}).rejects[0].reason == "hn: hits is null, not an array"
    assert parse([]).rejects[0].reason == "hn: payload is an array without hits or objectID"
    empty = parse({"hits": [], "nbHits": 0})
    assert not empty.posts and not empty.rejects
