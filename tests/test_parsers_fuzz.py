"""Property tests: no parser raises, and every post it returns is well formed.

Two kinds of input per format: arbitrary JSON values (with the keys parsers look for
mixed into the random ones), and real payloads with keys dropped and values replaced by
values of the wrong type. The registry turns any exception into an "internal parser
error" reject, so that reason must never appear either.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.model import PLATFORMS, ParseResult
from ingest.parsers import FORMATS

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Keys the parsers read, so random objects reach past the first type checks.
KEYS = [
    "data", "includes", "users", "tweets", "errors", "meta", "id", "text", "created_at",
    "author_id", "public_metrics", "referenced_tweets", "type", "entities", "hashtags", "tag",
    "username", "uri", "record", "author", "did", "handle", "createdAt", "langs", "reply",
    "parent", "root", "embed", "$type", "thread", "replies", "posts", "feed", "post", "reason",
    "value", "records", "facets", "features", "content", "account", "url", "reblog", "tags",
    "name", "statuses", "ancestors", "descendants", "quote", "quoted_status", "kind",
    "children", "body", "title", "selftext", "created_utc", "parent_id", "link_id",
    "permalink", "hits", "objectID", "created_at_i", "comment_text", "story_text", "_tags",
    "story_id", "points", "like_count", "platform", "likes", "views", "note_tweet",
]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "2025-03-25T18:00:00Z",
            "2025-03-25T18:00:00.000+09:00",
            "0001-01-01T00:00:00+14:00",
            "at://did:plc:a/app.bsky.feed.post/3k",
            "Listing",
            "t1",
            "t3",
            "more",
            "comment",
            "story",
            "app.bsky.embed.record",
            "app.bsky.feed.defs#reasonRepost",
            "retweeted",
            "12",
            "",
        ]
    )
)
KEY = st.sampled_from(KEYS) | st.text(max_size=6)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEY, children, max_size=6),
    max_leaves=40,
)

# Small values to put where a real payload had something else.
WRONG_VALUE = SCALARS | st.lists(SCALARS, max_size=2) | st.dictionaries(KEY, SCALARS, max_size=2)


def check(fmt: str, payload: Any) -> ParseResult:
    """Parse ``payload`` and assert the invariants every result must hold."""
    result = FORMATS[fmt].parse(payload)
    for post in result.posts:
        assert isinstance(post.post_id, str) and post.post_id
        assert post.post_id == f"{post.platform}:{post.native_id}" and post.native_id
        assert post.platform in PLATFORMS
        assert post.created_at.utcoffset() == timedelta(0)
        assert isinstance(post.text, str)
        assert all(isinstance(tag, str) for tag in post.hashtags)
        for count in (post.likes, post.reposts, post.replies, post.quotes, post.views):
            assert count is None or (type(count) is int and -(2**63) <= count < 2**63)
    assert [raw.post_id for raw in result.raw] == [post.post_id for post in result.posts]
    for author in result.authors:
        assert author.author_id == f"{author.platform}:{author.native_id}"
    for reject in result.rejects:
        assert reject.format == fmt and reject.reason.startswith(f"{fmt}: ")
        assert "internal parser error" not in reject.reason, reject.reason
    return result


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_random_json_never_breaks(fmt: str) -> None:
    @FUZZ
    @given(JSON)
    def run(payload: Any) -> None:
        check(fmt, payload)

    run()


def mutate(data: st.DataObject, payload: Any) -> Any:
    """A copy of ``payload`` with a few keys dropped and values swapped for random ones."""
    payload = orjson.loads(orjson.dumps(payload))
    slots: list[tuple[Any, Any]] = []
    stack = [payload]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            slots.append((node, key))
            if isinstance(value, dict | list):
                stack.append(value)
    if not slots:
        return payload
    for _ in range(data.draw(st.integers(1, 4))):
        node, key = slots[data.draw(st.integers(0, len(slots) - 1))]
        try:
            if isinstance(node, dict) and data.draw(st.booleans()):
                del node[key]
            else:
                node[key] = data.draw(WRONG_VALUE)
        except (KeyError, IndexError):
            pass  # already removed by an earlier mutation
    return payload


def shared_seeds(fmt: str, api: Path) -> list[Any]:
    """Real recorded payloads (kept small: long listings are cut to a few items)."""
    if fmt == "x-v2":
        lines = (api / "x-v2-pages").glob("*.jsonl")
        return [json.loads(p.read_text().splitlines()[0]) for p in sorted(lines)]
    if fmt == "bluesky":
        return [json.loads(p.read_text()) for p in sorted((api / "bluesky-atproto").glob("*.json"))]
    if fmt == "mastodon":
        yaml = pytest.importorskip("yaml")
        seeds = []
        for path in sorted((api / "mastodon-cassettes").glob("*.yaml")):
            for interaction in yaml.safe_load(path.read_text())["interactions"]:
                body = json.loads(interaction["response"]["body"]["string"])
                seeds.append(body[:3] if isinstance(body, list) else body)
        return seeds
    seeds = []
    for path in sorted((api / "reddit-praw-cassettes").glob("*.json")):
        for interaction in json.loads(path.read_text())["interactions"]:
            body = json.loads(interaction["response"]["body"]["string"])
            if isinstance(body, dict) and body.get("kind") == "Listing":
                body["data"]["children"] = body["data"]["children"][:3]
            seeds.append(body)
    return seeds


HN_SEED = {
    "hits": [
        {
            "_tags": ["story", "author_pg", "story_1"],
            "author": "pg",
            "created_at": "2025-03-25T18:02:25Z",
            "created_at_i": 1742925745,
            "num_comments": 2,
            "objectID": "1",
            "points": 10,
            "story_text": "<p>hello &amp; welcome",
            "title": "Show HN: a thing",
            "url": "https://example.com",
        },
        {
            "_tags": ["comment", "author_dang", "story_1"],
            "author": "dang",
            "comment_text": "nice<p>really",
            "created_at": "2025-03-25T18:05:00Z",
            "created_at_i": 1742926000,
            "objectID": "2",
            "parent_id": 1,
            "story_id": 1,
        },
    ],
    "nbHits": 2,
}
CSV_SEED = next(csv.DictReader(io.StringIO("id,text,created_at,likes\n1,héllo 🎨,1742925745,3\n")))
BUILTIN_SEEDS = {"hn": [HN_SEED], "csv": [CSV_SEED], "jsonl": [{**CSV_SEED, "likes": 3}]}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_mutated_payloads_never_break(fmt: str, request: pytest.FixtureRequest) -> None:
    if fmt in BUILTIN_SEEDS:
        seeds = BUILTIN_SEEDS[fmt]
    else:
        seeds = shared_seeds(fmt, request.getfixturevalue("shared_api"))
    seeds = [seed for seed in seeds if check(fmt, seed).posts]  # mutate payloads with posts
    assert seeds

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        check(fmt, mutate(data, data.draw(st.sampled_from(seeds))))

    run()
