"""Reddit collector: PRAW (read-only script app) served by ``responses`` (no network).

The fake Reddit hands out an OAuth token, then serves listings newest first with
``after`` paging (like ``/r/SUB/new`` and ``/r/SUB/search?sort=new``) and comment trees
``[submission listing, comments listing]`` for ``/comments/ID``, in the shape of the
recorded PRAW cassettes.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses

from ingest.collectors.base import decode_cursor
from ingest.collectors.driver import run_source
from ingest.collectors.reddit import RedditCollector
from tests.collectors.conftest import NOW, make_campaign, make_settings, rows, runs

CLIENT_ID = "fakeClientId123"
SECRET = "fake-reddit-client-SECRET-0123456789"
ACCESS = "fake-oauth-ACCESS-token-abcdef012345"
TOKEN_URL = "https://www.reddit.com/api/v1/access_token"
LISTING = re.compile(r"https://oauth\.reddit\.com/(r/\w+/(new|search)|search)")
COMMENTS = re.compile(r"https://oauth\.reddit\.com/comments/(\w+)")


def submission(n: int, when: datetime, comments: int = 0, title: str | None = None) -> dict:
    sid = f"s{n:05d}"
    return {
        "kind": "t3",
        "data": {
            "id": sid,
            "name": f"t3_{sid}",
            "title": title or f"Submission {n} about 4o image generation",
            "selftext": "",
            "author": "RedHeadQc",
            "subreddit": "ChatGPT",
            "created_utc": when.timestamp(),
            "score": n,
            "num_comments": comments,
            "permalink": f"/r/ChatGPT/comments/{sid}/x/",
            "url": f"https://www.reddit.com/r/ChatGPT/comments/{sid}/x/",
        },
    }


def comment(sub_id: str, n: int, when: datetime, body: str | None = None) -> dict:
    cid = f"c{sub_id}{n}"
    return {
        "kind": "t1",
        "data": {
            "id": cid,
            "name": f"t1_{cid}",
            "body": body or f"comment {n}",
            "author": "commenter",
            "created_utc": when.timestamp(),
            "score": 1,
            "parent_id": f"t3_{sub_id}",
            "link_id": f"t3_{sub_id}",
            "permalink": f"/r/ChatGPT/comments/{sub_id}/x/{cid}/",
            "replies": "",
        },
    }


class FakeReddit:
    def __init__(self) -> None:
        self.items: list[dict] = []
        self.page_size = 100
        self.calls: list[tuple[str, dict, str]] = []
        self.failures: list[tuple[int, dict, str] | Exception] = []
        self.token_calls = 0

    def add(self, n: int, start: datetime, first: int = 0, comments: int = 0) -> list[dict]:
        made = [submission(first + i, start + timedelta(minutes=i), comments) for i in range(n)]
        self.items.extend(made)
        return made

    def token(self, request):
        self.token_calls += 1
        body = {"access_token": ACCESS, "token_type": "bearer", "expires_in": 3600, "scope": "*"}
        return 200, {}, json.dumps(body)

    def _fail(self):
        failure = self.failures.pop(0)
        if isinstance(failure, Exception):
            raise failure
        return failure

    def listing(self, request):
        url = urlparse(request.url)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.calls.append((url.path, params, request.headers.get("Authorization", "")))
        if self.failures:
            return self._fail()
        ordered = sorted(self.items, key=lambda c: c["data"]["created_utc"], reverse=True)
        if "after" in params:
            names = [c["data"]["name"] for c in ordered]
            ordered = ordered[names.index(params["after"]) + 1 :]
        size = int(params.get("limit", 25))
        page = ordered[:size]
        after = page[-1]["data"]["name"] if len(ordered) > size else None
        body = {"kind": "Listing", "data": {"after": after, "dist": len(page), "children": page}}
        return (
            200,
            {"x-ratelimit-remaining": "99", "x-ratelimit-used": "1", "x-ratelimit-reset": "300"},
            json.dumps(body),
        )

    def comments(self, request):
        sid = COMMENTS.match(request.url).group(1)
        self.calls.append((urlparse(request.url).path, {}, ""))
        sub = next(c for c in self.items if c["data"]["id"] == sid)
        when = datetime.fromtimestamp(sub["data"]["created_utc"]) + timedelta(minutes=1)
        tree = [comment(sid, i, when) for i in range(sub["data"]["num_comments"])]
        body = [
            {"kind": "Listing", "data": {"after": None, "children": [sub]}},
            {"kind": "Listing", "data": {"after": None, "children": tree}},
        ]
        return 200, {}, json.dumps(body)


@pytest.fixture
def reddit():
    fake = FakeReddit()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, TOKEN_URL, callback=fake.token)
        mock.add_callback(responses.GET, LISTING, callback=fake.listing)
        mock.add_callback(responses.GET, COMMENTS, callback=fake.comments)
        yield fake


def collector(clock, **overrides) -> RedditCollector:
    values = {"reddit_client_id": CLIENT_ID, "reddit_client_secret": SECRET}
    settings = make_settings(**{"reddit_comments": False, **values, **overrides})
    return RedditCollector(settings, sleep=clock.sleep, clock=clock)


CAMPAIGN = make_campaign(reddit_subreddits=["ChatGPT"])
T0 = NOW - timedelta(days=1)


def test_new_listing_pages_back_with_after_and_keeps_native_json(reddit, con, clock):
    reddit.add(250, T0)
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 250 and report.requests == 3
    paths = [c[0] for c in reddit.calls]
    assert paths == ["/r/ChatGPT/new"] * 3
    assert reddit.calls[0][1]["limit"] == "100" and reddit.calls[0][2] == f"bearer {ACCESS}"
    assert [c[1].get("after") for c in reddit.calls] == [None, "t3_s00150", "t3_s00050"]
    newest = reddit.items[-1]["data"]
    assert decode_cursor(report.queries[0].cursor) == {
        "mark": [newest["created_utc"], newest["name"]]
    }
    (payload,) = rows(con, "SELECT payload FROM raw_payloads WHERE post_id = 'reddit:t3_s00007'")[0]
    assert json.loads(payload)["data"]["permalink"] == "/r/ChatGPT/comments/s00007/x/"


def test_search_requests_per_subreddit_and_query(reddit, con, clock):
    reddit.add(3, T0)
    campaign = make_campaign(reddit_subreddits=["ChatGPT", "aiArt"], reddit=["ghibli"])
    report = run_source(con, collector(clock), campaign)
    assert [q.query for q in report.queries] == [
        "r/ChatGPT search ghibli", "r/ChatGPT new", "r/aiArt search ghibli", "r/aiArt new",
    ]  # fmt: skip
    search = reddit.calls[0]
    assert search[0] == "/r/ChatGPT/search"
    assert search[1] | {"limit": "x"} == {
        "q": "ghibli", "restrict_sr": "1", "sort": "new", "t": "all", "limit": "x", "raw_json": "1",
    }  # fmt: skip
    assert rows(con, "SELECT count(*) FROM posts") == [(3,)]


def test_second_run_stops_at_the_mark_and_stores_nothing_twice(reddit, con, clock):
    reddit.add(150, T0)
    run_source(con, collector(clock), CAMPAIGN)
    reddit.add(5, NOW, first=1000)
    reddit.calls.clear()
    report = run_source(con, collector(clock), CAMPAIGN)
    assert len(reddit.calls) == 1 and report.new == 5
    assert rows(con, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(155, 155)]


def test_killed_mid_pass_resumes_after_token(reddit, con, clock):
    reddit.add(250, T0)
    first = run_source(con, collector(clock, collect_max_pages=1), CAMPAIGN)
    state = decode_cursor(first.queries[0].cursor)
    assert first.status == "partial" and state["after"] == "t3_s00150" and "mark" not in state
    reddit.calls.clear()
    second = run_source(con, collector(clock), CAMPAIGN)
    assert reddit.calls[0][1]["after"] == "t3_s00150"
    assert second.status == "ok" and second.new == 150
    assert decode_cursor(second.queries[0].cursor)["mark"][1] == "t3_s00249"


def test_comment_tree_of_each_new_submission_is_stored(reddit, con, clock):
    reddit.add(3, T0, comments=2)
    report = run_source(con, collector(clock, reddit_comments=True), CAMPAIGN)
    assert report.status == "ok"
    assert [c[0] for c in reddit.calls] == [
        "/r/ChatGPT/new", "/comments/s00002", "/comments/s00001", "/comments/s00000",
    ]  # fmt: skip
    kinds = rows(
        con, "SELECT split_part(native_id, '_', 1) k, count(*) FROM posts GROUP BY k ORDER BY k"
    )
    assert kinds == [("t1", 6), ("t3", 3)]


def test_429_waits_for_the_reset(reddit, con, clock):
    reddit.add(5, T0)
    reddit.failures.append((429, {"retry-after": "30"}, "Too Many Requests"))
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 5
    assert clock.sleeps == [pytest.approx(31)]


def test_5xx_and_timeout_then_success_without_prawcore_retries(reddit, con, clock):
    reddit.add(5, T0)
    reddit.failures += [(503, {}, "busy"), requests.exceptions.ReadTimeout("slow")]
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 5
    assert len(clock.sleeps) == 2 and len(reddit.calls) == 3  # prawcore retried nothing itself


def test_5xx_exhausted_partial_next_request_continues(reddit, con, clock):
    reddit.add(5, T0)
    reddit.failures += [(500, {}, "oops")] * 3
    report = run_source(
        con, collector(clock), make_campaign(reddit_subreddits=["ChatGPT", "OpenAI"])
    )
    assert [q.status for q in report.queries] == ["partial", "ok"]
    assert "gave up after 3 attempts" in runs(con, "reddit")[0][6]


def test_malformed_listing_rejected_cursor_kept(reddit, con, clock):
    reddit.add(5, T0)
    reddit.failures.append((200, {"content-type": "application/json"}, '{"kind": "Listing", "da'))
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "partial" and report.rejected == 1 and report.new == 0
    assert runs(con, "reddit")[0][5] is None
    assert run_source(con, collector(clock), CAMPAIGN).new == 5


def test_bad_credentials_stop_the_source(con, clock):
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST, TOKEN_URL, status=401, json={"message": "Unauthorized", "error": 401}
        )
        report = run_source(con, collector(clock), make_campaign(reddit_subreddits=["a", "b"]))
    assert report.status == "failed" and "HYPEWATCH_REDDIT_CLIENT_ID" in report.error
    assert len(report.queries) == 1 and clock.sleeps == []


def test_empty_listing(reddit, con, clock):
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.fetched == 0 and report.requests == 1


def test_non_ascii_titles(reddit, con, clock):
    titles = ["ジブリ風の画像 🎨", "Miyazaki: « une insulte à la vie » 😤"]
    reddit.items += [
        submission(i, T0 + timedelta(minutes=i), title=t) for i, t in enumerate(titles)
    ]
    run_source(con, collector(clock), CAMPAIGN)
    assert sorted(r[0] for r in rows(con, "SELECT text FROM posts")) == sorted(titles)


def test_missing_credentials_are_named():
    missing = RedditCollector.missing_credentials(make_settings())
    assert missing == ["HYPEWATCH_REDDIT_CLIENT_ID", "HYPEWATCH_REDDIT_CLIENT_SECRET"]
