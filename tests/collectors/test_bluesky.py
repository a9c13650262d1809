"""Bluesky collector: Jetstream from a local ``websockets`` server on 127.0.0.1, and
``searchPosts`` through the atproto SDK served by ``respx`` (no network)."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import orjson
import pytest
import respx
from websockets.sync.server import ServerConnection, serve

from ingest.collectors.base import (
    Request,
    decode_cursor,
)
from ingest.collectors.bluesky import BlueskyCollector, jetstream_post
from ingest.collectors.driver import run_request, run_source
from tests.collectors.conftest import NOW, make_campaign, make_settings, rows, runs

HANDLE = "hypewatch-test.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
XRPC = "https://bsky.social/xrpc"
T0_US = int((NOW - timedelta(hours=2)).timestamp() * 1_000_000)


# --------------------------------------------------------------------------- Jetstream


def post_event(n: int, text: str, time_us: int, did: str = "did:plc:abc123") -> dict:
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": f"3l3qo2vutsw{n:02d}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": f"3l3qo2vuowo{n:02d}",
            "record": {
                "$type": "app.bsky.feed.post",
                "createdAt": datetime.fromtimestamp(time_us / 1e6, tz=UTC).isoformat(),
                "langs": ["en"],
                "text": text,
            },
            "cid": f"bafyreidc6sydkkbchcyg62v77wbhzvb2mvytlmsychqgwf2xojjtirmz{n:02d}",
        },
    }


def other_event(n: int, time_us: int) -> dict:
    kinds = [
        {"kind": "identity", "identity": {"did": "did:plc:x", "handle": "x.bsky.social", "seq": 1}},
        {
            "kind": "commit",
            "commit": {"operation": "create", "collection": "app.bsky.feed.like", "rkey": "k",
                       "record": {"$type": "app.bsky.feed.like", "subject": {}}, "cid": "c"},
        },
        {
            "kind": "commit",
            "commit": {"operation": "delete", "collection": "app.bsky.feed.post", "rkey": "k"},
        },
    ]  # fmt: skip
    return {"did": "did:plc:other", "time_us": time_us, **kinds[n % len(kinds)]}


class FakeJetstream:
    """A Jetstream on 127.0.0.1: replays ``events`` from the ``cursor`` query parameter."""

    def __init__(self) -> None:
        self.events: list[dict | str] = []
        self.paths: list[str] = []
        self.close_after: int | None = None
        self.server = serve(self.handler, "127.0.0.1", 0, compression=None)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/subscribe"

    def handler(self, ws: ServerConnection) -> None:
        self.paths.append(ws.request.path)
        query = parse_qs(urlparse(ws.request.path).query)
        cursor = int(query["cursor"][0]) if "cursor" in query else 0
        sent = 0
        for event in self.events:
            if isinstance(event, dict) and event["time_us"] < cursor:
                continue
            ws.send(event if isinstance(event, str) else json.dumps(event))
            sent += 1
            if self.close_after is not None and sent >= self.close_after:
                ws.close(code=1011, reason="restarting")
                return
        try:
            ws.recv(timeout=10)  # wait for the client to hang up
        except Exception:
            return

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def jetstream():
    fake = FakeJetstream()
    yield fake
    fake.stop()


def collector(clock, **overrides) -> BlueskyCollector:
    return BlueskyCollector(make_settings(**overrides), sleep=clock.sleep, clock=clock)


CAMPAIGN = make_campaign(keywords=["Ghibli", "4o image", "ジブリ"], bluesky=["ghibli ai"])


def jet(fake: FakeJetstream, clock, **overrides) -> BlueskyCollector:
    """A collector reading ``fake``; runs end after 0.5 s without events (real time)."""
    return collector(
        clock, **{"jetstream_url": fake.url, "jetstream_max_seconds": 0.5, **overrides}
    )


def test_jetstream_post_conversion():
    view = jetstream_post(post_event(1, "hello", T0_US))
    assert view["uri"] == "at://did:plc:abc123/app.bsky.feed.post/3l3qo2vuowo01"
    assert view["author"] == {"did": "did:plc:abc123"} and view["record"]["text"] == "hello"
    assert view["indexedAt"].endswith("Z") and view["cid"].startswith("bafyrei")
    assert jetstream_post(other_event(1, T0_US)) is None
    assert jetstream_post(other_event(2, T0_US)) is None


def test_keyword_filter_cursor_and_until(jetstream, con, clock):
    texts = ["Ghibli style everything", "unrelated cat picture", "my 4O IMAGE test", "dogs"]
    jetstream.events = [post_event(i, t, T0_US + i * 1000) for i, t in enumerate(texts)]
    jetstream.events += [other_event(i, T0_US + 10_000 + i) for i in range(3)]
    until = datetime.fromtimestamp((T0_US + 20_000) / 1e6, tz=UTC)
    jetstream.events.append(post_event(9, "Ghibli after the window", T0_US + 20_000))

    since = datetime.fromtimestamp(T0_US / 1e6, tz=UTC)
    report = run_source(con, jet(jetstream, clock), CAMPAIGN, since=since, until=until)

    assert report.status == "ok" and report.new == 2
    assert sorted(r[0] for r in rows(con, "SELECT text FROM posts")) == [
        "Ghibli style everything", "my 4O IMAGE test",
    ]  # fmt: skip
    assert decode_cursor(report.queries[0].cursor) == {"time_us": T0_US + 10_002}
    assert "wantedCollections=app.bsky.feed.post" in jetstream.paths[0]
    assert f"cursor={T0_US}" in jetstream.paths[0]
    assert report.queries[0].query == "jetstream test-launch"


def test_second_run_replays_from_the_stored_cursor_without_duplicates(jetstream, con, clock):
    jetstream.events = [post_event(i, f"ghibli {i}", T0_US + i * 1000) for i in range(5)]
    campaign = make_campaign(keywords=["ghibli"])
    since = datetime.fromtimestamp(T0_US / 1e6, tz=UTC)
    run_source(con, jet(jetstream, clock), campaign, since=since)
    jetstream.events += [
        post_event(10 + i, f"ghibli new {i}", T0_US + 90_000 + i) for i in range(2)
    ]
    report = run_source(con, jet(jetstream, clock), campaign, since=since)
    assert f"cursor={T0_US + 4000}" in jetstream.paths[1]
    assert report.new == 2 and report.fetched == 3  # the event at the cursor comes again
    assert rows(con, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(7, 7)]


def test_bounded_by_max_events(jetstream, con, clock):
    jetstream.events = [post_event(i, f"ghibli {i}", T0_US + i) for i in range(15)]
    c = jet(jetstream, clock, jetstream_max_events=10)
    report = run_source(con, c, make_campaign(keywords=["ghibli"]), since=NOW - timedelta(days=1))
    assert report.status == "ok" and report.new == 10
    assert decode_cursor(report.queries[0].cursor) == {"time_us": T0_US + 9}


def test_malformed_message_is_rejected_and_the_stream_continues(jetstream, con, clock):
    jetstream.events = [
        post_event(1, "ghibli one", T0_US),
        '{"did": "did:plc:broken", "time_us": ',
        post_event(2, "ghibli two", T0_US + 5),
    ]
    report = run_source(con, jet(jetstream, clock), make_campaign(keywords=["ghibli"]))
    assert report.status == "ok" and report.new == 2 and report.rejected == 1
    ((reason, payload),) = rows(con, "SELECT reason, payload FROM rejects")
    assert "malformed Jetstream message" in reason and payload.startswith('{"did"')


def test_dropped_connection_keeps_what_was_read_and_ends_partial(jetstream, con, clock):
    jetstream.events = [post_event(i, f"ghibli {i}", T0_US + i) for i in range(4)]
    jetstream.close_after = 3
    report = run_source(con, jet(jetstream, clock), make_campaign(keywords=["ghibli"]))
    assert report.status == "partial" and "closed the connection" in report.error
    assert report.new == 3 and decode_cursor(report.queries[0].cursor) == {"time_us": T0_US + 2}


def test_connection_refused_is_retried_then_partial(con, clock):
    c = collector(clock, jetstream_url="ws://127.0.0.1:9/subscribe", jetstream_max_seconds=1)
    report = run_source(con, c, make_campaign(keywords=["ghibli"]))
    assert report.status == "partial" and "Jetstream connection failed" in report.error
    assert len(clock.sleeps) == 2


def test_non_ascii_keywords_and_text(jetstream, con, clock):
    texts = ["ジブリ風のアイコン🎨", "宮崎駿 😤", "スタジオジブリ最高✨"]
    jetstream.events = [post_event(i, t, T0_US + i) for i, t in enumerate(texts)]
    report = run_source(con, jet(jetstream, clock), make_campaign(keywords=["ジブリ"]))
    assert report.new == 2
    assert sorted(r[0] for r in rows(con, "SELECT text FROM posts")) == sorted([texts[0], texts[2]])


def test_empty_stream_ends_at_max_seconds(jetstream, con, clock):
    report = run_source(
        con, jet(jetstream, clock, jetstream_max_seconds=0.3), make_campaign(keywords=["ghibli"])
    )
    assert report.status == "ok" and report.fetched == 0 and report.requests == 1


# --------------------------------------------------------------------------- searchPosts


def jwt(sub: str) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"scope": "com.atproto.appPass", "sub": sub, "iat": 1742990000, "exp": 4102444800}
    return f"{part({'typ': 'at+jwt', 'alg': 'ES256K'})}.{part(claims)}.c2lnbmF0dXJlc2lnbmF0dXJl"


ACCESS_JWT = jwt("did:plc:me")


def post_view(n: int, when: datetime, text: str | None = None) -> dict:
    iso = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "uri": f"at://did:plc:author{n % 3}/app.bsky.feed.post/3lkey{n:05d}",
        "cid": f"bafyreib{n:05d}",
        "author": {"did": f"did:plc:author{n % 3}", "handle": f"author{n % 3}.bsky.social",
                   "displayName": "Author", "labels": [], "createdAt": "2024-01-01T00:00:00.000Z"},
        "record": {"$type": "app.bsky.feed.post", "createdAt": iso, "langs": ["en"],
                   "text": text or f"ghibli ai post {n}"},
        "replyCount": 0, "repostCount": 1, "likeCount": n, "quoteCount": 0,
        "indexedAt": iso, "labels": [],
    }  # fmt: skip


class FakeSearch:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.page_size = 10
        self.calls: list[dict] = []
        self.failures: list[httpx.Response | Exception] = []
        self.logins = 0

    def login(self, request: httpx.Request) -> httpx.Response:
        self.logins += 1
        body = json.loads(request.content)
        if body.get("password") != APP_PASSWORD:
            return httpx.Response(
                401,
                json={
                    "error": "AuthenticationRequired",
                    "message": "Invalid identifier or password",
                },
            )
        return httpx.Response(
            200,
            json={"accessJwt": ACCESS_JWT, "refreshJwt": jwt("refresh"), "handle": HANDLE,
                  "did": "did:plc:me", "active": True},
        )  # fmt: skip

    def search(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        params["_auth"] = request.headers.get("authorization", "")
        self.calls.append(params)
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        ordered = sorted(self.posts, key=lambda p: p["indexedAt"], reverse=True)
        ordered = [p for p in ordered if params["since"] <= p["indexedAt"] < params["until"]]
        offset = int(params.get("cursor", "0"))
        page = ordered[offset : offset + self.page_size]
        body: dict = {"posts": page, "hitsTotal": len(ordered)}
        if offset + self.page_size < len(ordered):
            body["cursor"] = str(offset + self.page_size)
        return httpx.Response(200, json=body)


@pytest.fixture
def bsky():
    fake = FakeSearch()
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{XRPC}/com.atproto.server.createSession").mock(side_effect=fake.login)
        mock.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(side_effect=fake.search)
        yield fake


def searcher(clock, **overrides) -> BlueskyCollector:
    return collector(clock, bluesky_handle=HANDLE, bluesky_app_password=APP_PASSWORD, **overrides)


def search_request(term: str = "ghibli ai") -> Request:
    return Request("bluesky", f"search {term}", term, {"kind": "search", "q": term})


def run_search(con, c, term: str = "ghibli ai"):
    return run_request(
        con,
        c,
        search_request(term),
        campaign="test-launch",
        since=NOW - timedelta(days=3),
        until=NOW,
    )[0]


T1 = NOW - timedelta(hours=5)


def test_search_pages_with_cursor_and_stores_since_mark(bsky, con, clock):
    bsky.posts = [post_view(i, T1 + timedelta(minutes=i)) for i in range(25)]
    report = run_search(con, searcher(clock))
    assert report.status == "ok" and report.new == 25 and report.requests == 3
    assert bsky.logins == 1 and bsky.calls[0]["_auth"] == f"Bearer {ACCESS_JWT}"
    assert bsky.calls[0]["sort"] == "latest" and bsky.calls[0]["limit"] == "100"
    assert [c.get("cursor") for c in bsky.calls] == [None, "10", "20"]
    newest = bsky.posts[-1]["indexedAt"]
    assert decode_cursor(report.cursor) == {"since": newest}


def test_search_second_run_uses_since_and_stores_nothing_twice(bsky, con, clock):
    bsky.posts = [post_view(i, T1 + timedelta(minutes=i)) for i in range(12)]
    run_search(con, searcher(clock))
    bsky.posts += [post_view(100 + i, NOW - timedelta(minutes=30 - i)) for i in range(3)]
    bsky.calls.clear()
    report = run_search(con, searcher(clock))
    assert bsky.calls[0]["since"] == bsky.posts[11]["indexedAt"]
    assert report.new == 3 and report.fetched == 4  # the post at `since` (inclusive) again
    assert rows(con, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(15, 15)]


def test_search_429_waits_for_ratelimit_reset(bsky, con, clock):
    bsky.posts = [post_view(1, T1)]
    reset = int(clock.now) + 30
    bsky.failures.append(
        httpx.Response(
            429,
            headers={"ratelimit-reset": str(reset), "ratelimit-remaining": "0"},
            json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        )
    )
    report = run_search(con, searcher(clock))
    assert report.status == "ok" and report.new == 1 and clock.sleeps == [pytest.approx(31)]


def test_search_5xx_timeout_then_success_and_exhausted(bsky, con, clock):
    bsky.posts = [post_view(1, T1)]
    bsky.failures += [
        httpx.Response(500, json={"error": "InternalServerError"}),
        httpx.ReadTimeout("slow"),
    ]
    assert run_search(con, searcher(clock)).status == "ok"
    bsky.failures += [httpx.Response(502, text="bad gateway")] * 3
    report = run_search(con, searcher(clock), "other")
    assert report.status == "partial" and "gave up after 3 attempts" in report.error


def test_search_malformed_page_rejected(bsky, con, clock):
    bsky.failures.append(
        httpx.Response(200, text='{"posts": [', headers={"content-type": "application/json"})
    )
    report = run_search(con, searcher(clock))
    assert report.status == "partial" and report.rejected == 1
    (payload,) = rows(con, "SELECT payload FROM rejects")[0]
    assert payload == '{"posts": ['


def test_search_empty_and_non_ascii(bsky, con, clock):
    assert run_search(con, searcher(clock)).fetched == 0
    bsky.posts = [post_view(1, T1, "ジブリっぽいAI画像 🎨"), post_view(2, T1, "宮崎駿 😤")]
    run_search(con, searcher(clock), "ジブリ")
    assert sorted(r[0] for r in rows(con, "SELECT text FROM posts")) == [
        "ジブリっぽいAI画像 🎨",
        "宮崎駿 😤",
    ]


def test_bad_app_password_stops_the_source_after_jetstream(jetstream, bsky, con, clock):
    c = jet(
        jetstream,
        clock,
        bluesky_handle=HANDLE,
        bluesky_app_password="wrong-pass-word",
        jetstream_max_seconds=0.3,
    )
    report = run_source(con, c, make_campaign(keywords=["ghibli"], bluesky=["a", "b"]))
    assert [q.status for q in report.queries] == ["ok", "failed"]
    assert "HYPEWATCH_BLUESKY_APP_PASSWORD" in report.error
    assert "1 remaining request(s) not attempted" in report.notes
    assert runs(con, "bluesky")[1][1] == "failed"


def test_search_needs_credentials_note(clock):
    c = collector(clock)
    assert [r.query for r in c.requests(CAMPAIGN)] == ["jetstream test-launch"]
    assert "HYPEWATCH_BLUESKY_APP_PASSWORD" in c.notes()[0]
    assert orjson.dumps(c.plan(CAMPAIGN, NOW, NOW + timedelta(hours=1)))
