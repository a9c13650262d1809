"""Generic JSONL and CSV rows with a column mapping."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import orjson
import pytest

from ingest.model import ParseResult
from ingest.parsers import FORMATS
from ingest.parsers.tabular import FIELDS, mapping_problem

CSV_TEXT = """\
tweet_id,body,posted,user,likes,rts,lang,in_reply_to
1001,新しいモデル、すごい！🎉,2025-03-25T18:00:00Z,yuki,12,,ja,
1002,"multi
line, with comma",1742925600,bob,0,3,en,1001
"""
MAPPING = {
    "id": "tweet_id",
    "text": "body",
    "created_at": "posted",
    "author": "user",
    "reposts": "rts",
    "reply_to": "in_reply_to",
    "platform": "=x",
}


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def assert_round_trips(fmt: str, result: ParseResult) -> None:
    """Raw payloads are keyed by field name: they re-parse with no mapping."""
    for post, raw in zip(result.posts, result.raw, strict=True):
        assert raw.post_id == post.post_id and raw.format == fmt
        again = FORMATS[fmt].parse(orjson.loads(orjson.dumps(raw.payload)))
        assert again.posts == [post] and not again.rejects


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_default_columns_need_no_mapping(fmt: str) -> None:
    row = {"id": "a1", "text": "hello", "created_at": "2025-03-25T18:00:00+02:00"}
    result = FORMATS[fmt].parse(row)
    (post,) = result.posts
    assert post.post_id == "file:a1" and post.platform == "file"
    assert post.created_at == datetime(2025, 3, 25, 16, 0, tzinfo=UTC)
    assert post.author_id is None and post.likes is None and post.hashtags == []
    assert FORMATS[fmt].platform == "file"
    assert_round_trips(fmt, result)


def test_csv_with_mapping_constant_platform_and_numeric_strings() -> None:
    first, second = (FORMATS["csv"].parse(row, MAPPING) for row in rows(CSV_TEXT))
    (a,) = first.posts
    assert a.post_id == "x:1001" and a.platform == "x" and a.text == "新しいモデル、すごい！🎉"
    assert a.author_id == "x:yuki" and a.lang == "ja"
    assert (a.likes, a.reposts, a.reply_to_id) == (12, None, None)
    assert first.authors[0].author_id == "x:yuki"
    (b,) = second.posts
    assert b.text == "multi\nline, with comma"
    assert b.created_at == datetime(2025, 3, 25, 18, 0, tzinfo=UTC)  # epoch as a string
    assert (b.likes, b.reposts, b.reply_to_id) == (0, 3, "x:1001")
    assert first.raw[0].payload["platform"] == "x"
    assert_round_trips("csv", first)
    assert_round_trips("csv", second)


def test_jsonl_rows_with_native_types() -> None:
    row = {
        "uid": 77,
        "message": "launch day 🚀",
        "ts": 1742925600,
        "net": "bluesky",
        "likes": 5,
        "views": "1200",
        "conversation": "77",
    }
    mapping = {"id": "uid", "text": "message", "created_at": "ts", "platform": "net"}
    result = FORMATS["jsonl"].parse(row, mapping)
    (post,) = result.posts
    assert post.post_id == "bluesky:77" and post.conversation_id == "bluesky:77"
    assert (post.likes, post.views) == (5, 1200)
    assert_round_trips("jsonl", result)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"text": "t", "created_at": "2025-01-01"}, "csv: row has no id"),
        ({"id": "1", "text": "", "created_at": "2025-01-01"}, "csv: row 1 has no text"),
        ({"id": "1", "text": "t"}, "csv: row 1 has no readable created_at"),
        ({"id": "1", "text": "t", "created_at": "soon"}, "csv: row 1 has no readable created_at"),
        (
            {"id": "1", "text": "t", "created_at": "2025-01-01", "platform": "twitter"},
            "csv: row 1 has unknown platform 'twitter'",
        ),
        (["1", "t"], "csv: row is an array, not an object"),
    ],
)
def test_rejects_name_the_problem(row: object, reason: str) -> None:
    result = FORMATS["csv"].parse(row)
    assert not result.posts and [r.reason for r in result.rejects] == [reason]
    assert result.rejects[0].payload is row


def test_jsonl_text_of_the_wrong_type() -> None:
    result = FORMATS["jsonl"].parse({"id": 1, "text": 5, "created_at": 0})
    assert result.rejects[0].reason == "jsonl: row 1 has text that is a number, not a string"


def test_bad_mappings() -> None:
    assert mapping_problem(None) is None and mapping_problem(MAPPING) is None
    assert "unknown field(s) txt" in mapping_problem({"txt": "body"})
    assert "is not a column name" in mapping_problem({"text": 3})
    result = FORMATS["csv"].parse({"id": "1"}, {"txt": "body"})
    assert result.rejects[0].reason.startswith("csv: mapping names unknown field(s) txt")
    assert "views" in FIELDS and "platform" in FIELDS
