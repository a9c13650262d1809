"""Mastodon: Mastodon.py's recorded timelines and statuses, plus boosts, quotes, contexts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ingest.model import ParseResult
from ingest.parsers import FORMATS

parse = FORMATS["mastodon"].parse


def recorded(shared_api: Path, name: str, uri_suffix: str, method: str = "GET") -> object:
    yaml = pytest.importorskip("yaml")
    cassette = yaml.safe_load((shared_api / "mastodon-cassettes" / name).read_text())
    for interaction in cassette["interactions"]:
        request = interaction["request"]
        if request["method"] == method and request["uri"].endswith(uri_suffix):
            return json.loads(interaction["response"]["body"]["string"])
    raise LookupError(uri_suffix)


def assert_round_trips(result: ParseResult) -> None:
    assert len(result.raw) == len(result.posts)
    for post, raw in zip(result.posts, result.raw, strict=True):
        assert raw.post_id == post.post_id and raw.format == "mastodon"
        again = parse(orjson.loads(orjson.dumps(raw.payload)))
        assert post in again.posts and not again.rejects


def status(local_id: str, content: str, **fields) -> dict:
    account = {
        "id": "109",
        "username": "yuki",
        "acct": "yuki@mastodon.example",
        "display_name": "ゆき",
        "url": "https://mastodon.example/@yuki",
        "bot": False,
        "created_at": "2022-11-07T00:00:00.000Z",
        "followers_count": 120,
        "following_count": 80,
        "statuses_count": 3400,
    }
    return {
        "id": local_id,
        "uri": f"https://mastodon.example/users/yuki/statuses/{local_id}",
        "url": f"https://mastodon.example/@yuki/{local_id}",
        "created_at": "2025-03-25T19:00:00.000Z",
        "content": content,
        "spoiler_text": "",
        "language": "ja",
        "in_reply_to_id": None,
        "account": account,
        "reblog": None,
        "tags": [],
        "favourites_count": 4,
        "reblogs_count": 2,
        "replies_count": 1,
        **fields,
    }


def test_public_timeline(shared_api: Path) -> None:
    timeline = recorded(shared_api, "test_public_tl.yaml", "/api/v1/timelines/public")
    result = parse(timeline)
    assert not result.rejects and len(result.posts) == 8
    first = result.posts[0]
    assert first.native_id == (
        "http://localhost:3000/ap/users/117020566092212359/statuses/117020593378945190"
    )
    assert first.text == "Toot, finally!" and first.lang == "ja"
    assert first.created_at == datetime(2026, 8, 1, 13, 55, 50, 338000, tzinfo=UTC)
    assert first.url == "http://localhost:3000/@mastodonpy_test_2/117020593378945190"
    assert first.author_id == "mastodon:http://localhost:3000/@mastodonpy_test_2"
    assert (first.likes, first.reposts, first.replies, first.quotes) == (0, 0, 0, 0)
    assert first.reply_to_id is None and first.conversation_id == first.post_id
    texts = [p.text for p in result.posts]
    assert "you can't say that on television" in texts  # &#39; unescaped
    assert "@mastodonpy_test beep beep I'm a jeep" in texts  # mention markup stripped
    authors = {a.handle: a for a in result.authors}
    assert set(authors) == {"mastodonpy_test_2", "admin"}
    assert authors["admin"].post_count == 6 and authors["admin"].followers == 1
    assert_round_trips(result)


def test_hashtag_timeline_and_single_status(shared_api: Path) -> None:
    timeline = recorded(shared_api, "test_hashtag_tl.yaml", "/api/v1/timelines/tag/hoot")
    (post,) = parse(timeline).posts
    assert post.text == "#hoot (hashtag toot)" and post.hashtags == ["hoot"]
    created = recorded(shared_api, "test_status.yaml", "/api/v1/statuses", method="POST")
    result = parse(created)
    assert result.posts[0].text == "Toot!"
    author = result.authors[0]
    assert (author.handle, author.display_name) == ("mastodonpy_test", "John Lennon")
    assert_round_trips(result)


def test_empty_context_and_search(shared_api: Path) -> None:
    context = recorded(shared_api, "test_status_context.yaml", "/context")
    search = recorded(shared_api, "test_search.yaml", "type=statuses")
    for payload in (context, search):
        result = parse(payload)
        assert not result.posts and not result.rejects


def test_deleted_status_has_source_text(shared_api: Path) -> None:
    deleted = recorded(shared_api, "test_status.yaml", "/117020583223442465", method="DELETE")
    assert parse(deleted).posts[0].text == "Toot!"


def test_boost_yields_both_posts() -> None:
    original = status("2", "<p>新機能、最高！🎉<br>試してみて</p><p>second &amp; last</p>")
    boost = status("3", "", reblog=original, language=None)
    boost["uri"] += "/activity"
    result = parse([boost])
    boost_post, original_post = result.posts
    assert boost_post.repost_of_id == original_post.post_id
    assert boost_post.text == ""
    assert original_post.text == "新機能、最高！🎉\n試してみて\n\nsecond & last"
    assert len(result.authors) == 1
    assert result.raw[1].payload is original
    assert_round_trips(result)


def test_context_quote_tags_spoiler_and_reply() -> None:
    quoted = status("10", "<p>quoted</p>")
    quoting = status(
        "11",
        '<p>look <a href="https://mastodon.example/tags/GPT4o" rel="tag">'
        "#<span>GPT4o</span></a></p>",
        tags=[{"name": "gpt4o", "url": "https://mastodon.example/tags/gpt4o"}],
        quote={"state": "accepted", "quoted_status": quoted},
        quotes_count=3,
    )
    reply = status("12", "<p>me too</p>", in_reply_to_id="11", spoiler_text="spoilers")
    result = parse({"ancestors": [quoted, quoting], "descendants": [reply]})
    assert not result.rejects
    _, quoting_post, reply_post = result.posts
    assert quoting_post.quote_of_id == f"mastodon:{quoted['uri']}"
    assert quoting_post.hashtags == ["gpt4o"] and quoting_post.text == "look #GPT4o"
    assert quoting_post.quotes == 3
    # in_reply_to_id is instance-local: not a warehouse id.
    assert reply_post.reply_to_id is None and reply_post.conversation_id is None
    assert reply_post.text == "spoilers\n\nme too"
    assert len(parse({"statuses": [quoted, reply]}).posts) == 2


def test_bad_statuses() -> None:
    no_uri = status("20", "<p>x</p>", uri=None)
    no_time = status("21", "<p>x</p>", created_at="yesterday")
    result = parse([no_uri, no_time, 5, status("22", "<p>ok</p>")])
    assert [p.text for p in result.posts] == ["ok"]
    assert [r.reason for r in result.rejects] == [
        "mastodon: status 20 has no uri",
        "mastodon: status https://mastodon.example/users/yuki/statuses/21 has no created_at",
        "mastodon: status is a number, not an object",
    ]
    assert "not a status" in parse({"domain": "mastodon.example"}).rejects[0].reason
    assert parse(None).rejects[0].reason.startswith("mastodon: payload is null")


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("plain text, no markup", "plain text, no markup"),
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ("<P CLASS='x'>one</P>\n <p>two<BR/>three<br>four</p>", "one\n\ntwo\nthree\nfour"),
        ('<p>a <a href="u">#<span>Tag</span></a> &amp; b&#39;s</p>', "a #Tag & b's"),
        ("<pre>kept</pre> &lt;p&gt;", "kept <p>"),  # <pre> is not a paragraph
        ("<p>x</p>" + "<br>" * 5 + "<p>y</p>", "x\n\ny"),  # blank lines collapse to one
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    from ingest.parsers._common import html_to_text

    assert html_to_text(html) == text
