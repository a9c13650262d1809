"""X collector: tweepy recent/full-archive search served by ``responses`` (no network).

The fake API pages newest first like X: ``since_id`` excludes older tweets, ``next_token``
continues a pass, and each page has the shape of a recorded X API v2 page (data, includes
users, meta with newest_id/oldest_id/result_count/next_token).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

import orjson
import pytest
import requests
import responses

from ingest.collectors.base import decode_cursor
from ingest.collectors.driver import run_request, run_source
from ingest.collectors.x import XCollector, snowflake_time
from tests.collectors.conftest import NOW, make_campaign, make_settings, post_ids, rows, runs

RECENT = "https://api.twitter.com/2/tweets/search/recent"
ALL = "https://api.twitter.com/2/tweets/search/all"
TOKEN = "AAAAAAAAAAAAAAAAAAAAAFAKEbearerTOKENforTESTS0123456789"
_EPOCH_MS = 1288834974657


def snowflake(when: datetime, seq: int = 0) -> str:
    return str(((int(when.timestamp() * 1000) - _EPOCH_MS) << 22) | seq)


def tweet(when: datetime, seq: int = 0, text: str | None = None) -> dict:
    tid = snowflake(when, seq)
    return {
        "id": tid,
        "edit_history_tweet_ids": [tid],
        "text": text or f"tweet {tid} about 4o image generation",
        "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "author_id": "1379899464345923590",
        "conversation_id": tid,
        "lang": "en",
        "public_metrics": {
            "retweet_count": 1,
            "reply_count": 0,
            "like_count": seq,
            "quote_count": 0,
        },
        "entities": {"hashtags": [{"start": 0, "end": 6, "tag": "ghibli"}]},
    }


USER = {
    "id": "1379899464345923590",
    "username": "LachiVeronica",
    "name": "Veronica Lachi",
    "verified": False,
    "created_at": "2021-04-07T20:50:54.000Z",
    "public_metrics": {"followers_count": 0, "following_count": 4, "tweet_count": 2},
}


class FakeX:
    """A recent/full-archive search endpoint over a list of tweets (newest first)."""

    def __init__(self, tweets: list[dict], page_size: int = 10) -> None:
        self.tweets = tweets
        self.page_size = page_size
        self.calls: list[dict[str, str]] = []
        self.failures: list[tuple[int, dict, str]] = []  # served before normal pages

    def add(self, *tweets: dict) -> None:
        self.tweets.extend(tweets)

    def fail(self, status: int, body: dict | str = "", headers: dict | None = None) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.failures.append((status, headers or {}, text))

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict, str]:
        params = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
        params["_auth"] = request.headers.get("Authorization", "")
        self.calls.append(params)
        if self.failures:
            return self.failures.pop(0)
        ordered = sorted(self.tweets, key=lambda t: int(t["id"]), reverse=True)
        if "since_id" in params:
            ordered = [t for t in ordered if int(t["id"]) > int(params["since_id"])]
        if "next_token" in params:
            below = int(params["next_token"].removeprefix("below-"))
            ordered = [t for t in ordered if int(t["id"]) < below]
        page, rest = ordered[: self.page_size], ordered[self.page_size :]
        if not page:
            return 200, {}, json.dumps({"meta": {"result_count": 0}})
        meta = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], "result_count": len(page)}
        if rest:
            meta["next_token"] = f"below-{page[-1]['id']}"
        body = {"data": page, "includes": {"users": [USER]}, "meta": meta}
        return 200, {"content-type": "application/json"}, json.dumps(body)


def tweets(n: int, start: datetime = NOW - timedelta(hours=30)) -> list[dict]:
    return [tweet(start + timedelta(minutes=7 * i), i % 4096) for i in range(n)]


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def serve(api: responses.RequestsMock, fake: FakeX, url: str = RECENT) -> FakeX:
    api.add_callback(responses.GET, url, callback=fake)
    return fake


def collector(clock, **overrides) -> XCollector:
    settings = make_settings(x_bearer_token=TOKEN, **overrides)
    return XCollector(settings, sleep=clock.sleep, clock=clock)


CAMPAIGN = make_campaign(x=['("4o image" OR #ChatGPTImage) -is:retweet'])


def test_pagination_fields_and_final_cursor(api, con, clock):
    fake = serve(api, FakeX(tweets(25)))
    report = run_source(con, collector(clock), CAMPAIGN)

    assert report.status == "ok" and report.requests == 3
    assert report.fetched == 25 + 0 and report.new == 25
    first = fake.calls[0]
    assert first["_auth"] == f"Bearer {TOKEN}"
    assert first["max_results"] == "100"
    assert first["expansions"] == "author_id,referenced_tweets.id"
    assert set(first["tweet.fields"].split(",")) >= {
        "created_at", "lang", "public_metrics", "conversation_id", "entities", "referenced_tweets",
    }  # fmt: skip
    assert first["user.fields"] == "username,name,public_metrics,verified,created_at"
    assert first["query"] == CAMPAIGN.queries.x[0]
    assert first["start_time"] == "2025-03-24T12:00:00Z"  # campaign start (within 7 days)
    assert first["end_time"] == "2025-03-27T11:59:30Z"  # now - 30 s
    newest_first = sorted((t["id"] for t in fake.tweets), key=int, reverse=True)
    assert [c.get("next_token") for c in fake.calls] == [
        None,
        f"below-{newest_first[9]}",
        f"below-{newest_first[19]}",
    ]
    newest = max((t["id"] for t in fake.tweets), key=int)
    assert decode_cursor(report.queries[0].cursor) == {"since_id": newest}
    assert sorted(post_ids(con, "x")) == sorted(t["id"] for t in fake.tweets)
    assert rows(con, "SELECT handle FROM authors") == [("LachiVeronica",)]


def test_second_run_asks_since_id_and_stores_nothing_twice(api, con, clock):
    fake = serve(api, FakeX(tweets(12)))
    run_source(con, collector(clock), CAMPAIGN)
    newest = max((t["id"] for t in fake.tweets), key=int)
    clock.advance(3600)
    fake.add(*tweets(3, start=NOW + timedelta(minutes=10)))
    fake.calls.clear()

    report = run_source(con, collector(clock), CAMPAIGN)

    assert fake.calls[0]["since_id"] == newest and "start_time" not in fake.calls[0]
    assert report.new == 3 and report.fetched == 3 and report.status == "ok"
    assert rows(con, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(15, 15)]
    assert [r[3] for r in runs(con, "x")] == [12, 3]


def test_killed_mid_pass_resumes_with_next_token_then_advances_since_id(api, con, clock):
    fake = serve(api, FakeX(tweets(25)))
    first = run_source(con, collector(clock, collect_max_pages=1), CAMPAIGN)
    assert first.status == "partial" and "HYPEWATCH_COLLECT_MAX_PAGES" in first.error
    state = decode_cursor(first.queries[0].cursor)
    assert state["next_token"].startswith("below-") and "since_id" not in state
    assert state["newest_id"] == max((t["id"] for t in fake.tweets), key=int)

    # Tweets posted while the pass was interrupted come with the NEXT pass.
    fake.add(*tweets(2, start=NOW + timedelta(minutes=1)))
    fake.calls.clear()
    second = run_source(con, collector(clock), CAMPAIGN)
    assert fake.calls[0]["next_token"] == state["next_token"]
    assert fake.calls[0]["start_time"] == state["start_time"]
    assert second.status == "ok" and second.new == 15
    assert decode_cursor(second.queries[0].cursor) == {"since_id": state["newest_id"]}

    fake.calls.clear()
    third = run_source(con, collector(clock), CAMPAIGN)
    assert fake.calls[0]["since_id"] == state["newest_id"]
    assert third.new == 2
    assert rows(con, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(27, 27)]


def test_429_waits_until_the_reset_header_then_continues(api, con, clock):
    fake = serve(api, FakeX(tweets(15)))
    reset = int(clock.now) + 40
    fake.fail(
        429,
        {"title": "Too Many Requests", "detail": "Too Many Requests"},
        {"x-rate-limit-reset": str(reset)},
    )
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 15
    assert clock.sleeps == [pytest.approx(41)]


def test_429_with_a_reset_beyond_max_wait_ends_the_run_partial(api, con, clock):
    fake = serve(api, FakeX(tweets(5)))
    fake.fail(
        429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": str(int(clock.now) + 900)}
    )
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "partial" and clock.sleeps == []
    assert "HYPEWATCH_COLLECT_MAX_WAIT_S" in report.error and "resets at" in report.error
    assert len(fake.calls) == 1


def test_5xx_then_success(api, con, clock):
    fake = serve(api, FakeX(tweets(5)))
    fake.fail(503, {"title": "Service Unavailable"})
    fake.fail(500, "upstream connect error")
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 5
    assert len(clock.sleeps) == 2 and all(0 <= s <= 4 for s in clock.sleeps)


def test_5xx_exhausted_ends_partial_and_the_next_query_continues(api, con, clock):
    fake = serve(api, FakeX(tweets(5)))
    for _ in range(3):
        fake.fail(502, "bad gateway")
    campaign = make_campaign(x=["first query", "second query"])
    report = run_source(con, collector(clock), campaign)
    assert [q.status for q in report.queries] == ["partial", "ok"]
    assert report.status == "partial" and "gave up after 3 attempts" in report.error
    assert [r[1] for r in runs(con, "x")] == ["partial", "ok"]
    assert "502" in runs(con, "x")[0][6]
    assert report.new == 5


def test_timeout_is_retried(api, con, clock):
    fake = FakeX(tweets(3))
    api.add(responses.GET, RECENT, body=requests.exceptions.ReadTimeout("read timed out"))
    serve(api, fake)
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 3 and len(clock.sleeps) == 1


class SecondPageBroken(FakeX):
    """Serves a truncated JSON body as the second page of the first query."""

    def __call__(self, request):
        if len(self.calls) == 1:
            self.calls.append({})
            return 200, {"content-type": "application/json"}, '{"data": [{"id": "1", "text": "cut'
        return super().__call__(request)


def test_malformed_page_is_rejected_and_the_cursor_stays(api, con, clock):
    fake = serve(api, SecondPageBroken(tweets(15)))
    report = run_source(con, collector(clock), make_campaign(x=["q1", "q2"]))
    first, second = report.queries
    assert first.status == "partial" and "malformed" in first.error
    assert first.new == 10 and first.rejected == 1
    assert decode_cursor(first.cursor)["next_token"].startswith("below-")
    ((reason, payload),) = rows(con, "SELECT reason, payload FROM rejects")
    assert reason.startswith("x-v2: malformed page") and payload.startswith('{"data"')
    assert second.status == "ok" and second.new == 5  # the second query's pages
    assert len(fake.calls) == 4


def test_empty_results(api, con, clock):
    serve(api, FakeX([]))
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.requests == 1 and report.fetched == 0
    assert rows(con, "SELECT count(*) FROM rejects") == [(0,)]


def test_non_ascii_text_round_trips(api, con, clock):
    texts = [
        "ジブリ風の画像がすごい 🎨✨",
        "宮崎駿は「生命への侮辱」と言った 😤",
        "GPT-4o 🔥🔥 #ChatGPTImage",
    ]
    serve(api, FakeX([tweet(NOW - timedelta(hours=i + 1), i, t) for i, t in enumerate(texts)]))
    run_source(con, collector(clock), CAMPAIGN)
    assert sorted(r[0] for r in rows(con, "SELECT text FROM posts")) == sorted(texts)
    payloads = [orjson.loads(r[0]) for r in rows(con, "SELECT payload FROM raw_payloads")]
    assert sorted(p["data"][0]["text"] for p in payloads) == sorted(texts)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            403,
            {
                "title": "Client Forbidden",
                "reason": "client-not-enrolled",
                "required_enrollment": "Appropriate Level of API Access",
                "type": "https://api.twitter.com/2/problems/client-forbidden",
                "detail": "When authenticating requests to the Twitter API v2 endpoints, you must "
                "use keys and tokens from a Twitter developer App that is attached to a Project.",
            },
            "client-not-enrolled",
        ),
        (
            403,
            {
                "errors": [
                    {
                        "message": "You currently have access to a subset of X API V2 endpoints "
                        "and limited v1.1 endpoints (e.g. media post, oauth) only.",
                        "code": 453,
                    }
                ]
            },
            "error 453",
        ),
        (
            429,
            {
                "account_id": 1234,
                "product_name": "standard-basic",
                "title": "UsageCapExceeded",
                "period": "Monthly",
                "scope": "Product",
                "detail": "Usage cap exceeded: Monthly product cap",
                "type": "https://api.twitter.com/2/problems/usage-capped",
            },
            "UsageCapExceeded",
        ),
        (
            401,
            {"title": "Unauthorized", "status": 401, "detail": "Unauthorized"},
            "HYPEWATCH_X_BEARER_TOKEN",
        ),
    ],
)
def test_tier_and_auth_errors_stop_the_source_without_retrying(
    api, con, clock, status, body, expected
):
    fake = serve(api, FakeX(tweets(5)))
    fake.fail(status, body, {"x-rate-limit-reset": str(int(clock.now) + 5)})
    report = run_source(con, collector(clock), make_campaign(x=["a", "b", "c"]))
    assert report.status == "failed" and expected in report.error
    assert len(fake.calls) == 1 and clock.sleeps == []
    assert len(report.queries) == 1 and "2 remaining request(s) not attempted" in report.notes
    assert runs(con, "x")[0][1] == "failed"


def test_full_archive_uses_search_all_one_request_per_second(api, con, clock):
    fake = serve(api, FakeX(tweets(25)), url=ALL)
    report = run_source(con, collector(clock, x_full_archive=True), CAMPAIGN)
    assert report.status == "ok" and report.new == 25 and len(fake.calls) == 3
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]


def test_stored_since_id_older_than_recent_search_falls_back_to_start_time(api, con, clock):
    fake = serve(api, FakeX(tweets(2)))
    old_id = snowflake(NOW - timedelta(days=9))
    request = XCollector.requests(collector(clock), CAMPAIGN)[0]
    con.execute(
        "INSERT INTO collection_runs (source, query, cursor_after, started_at, status) "
        "VALUES ('x', ?, ?, now()::TIMESTAMP, 'ok')",
        [request.query, json.dumps({"since_id": old_id})],
    )
    run_request(
        con, collector(clock), request, campaign="c", since=NOW - timedelta(days=30), until=NOW
    )
    assert "since_id" not in fake.calls[0]
    assert fake.calls[0]["start_time"] == "2025-03-20T12:01:00Z"  # 7 days back, plus a minute
    assert snowflake_time(old_id) < NOW - timedelta(days=7)


def test_a_custom_api_url_is_used(con, clock):
    with responses.RequestsMock() as mock:
        fake = FakeX(tweets(1))
        mock.add_callback(responses.GET, "http://127.0.0.1:9/2/tweets/search/recent", callback=fake)
        report = run_source(con, collector(clock, x_api_url="http://127.0.0.1:9"), CAMPAIGN)
    assert report.new == 1


def test_plan_names_requests_without_the_token(clock):
    lines = collector(clock).plan(CAMPAIGN, NOW - timedelta(days=1), NOW)
    assert len(lines) == 1 and "search/recent" in lines[0] and TOKEN not in lines[0]
