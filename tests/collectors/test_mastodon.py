"""Mastodon collector: Mastodon.py hashtag timelines served by ``responses`` (no network).

The fake instance pages like Mastodon: ``min_id`` returns the statuses right after it
(newest first within the page), ``max_id`` bounds from above, ``limit`` caps the page.
Statuses have the shape of the recorded Mastodon.py cassettes.
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
from ingest.collectors.mastodon import MastodonCollector, snowflake_id
from tests.collectors.conftest import NOW, make_campaign, make_settings, rows, runs

TOKEN = "mastodon-FAKE-access-token-0123456789abcdef"
TIMELINE = re.compile(r"https://([^/]+)/api/v1/timelines/tag/(\w+)")


def status(host: str, when: datetime, n: int, text: str | None = None) -> dict:
    sid = str((int(when.timestamp() * 1000) << 16) + n)
    account = {
        "id": "117020566092212359",
        "username": "tester",
        "acct": "tester",
        "display_name": "Tester",
        "url": f"https://{host}/@tester",
        "uri": f"https://{host}/users/tester",
        "created_at": "2024-08-01T00:00:00.000Z",
        "followers_count": 3,
        "following_count": 1,
        "statuses_count": 9,
        "bot": False,
    }
    return {
        "id": sid,
        "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://{host}/users/tester/statuses/{sid}",
        "url": f"https://{host}/@tester/{sid}",
        "replies_count": 0,
        "reblogs_count": 1,
        "favourites_count": n,
        "content": f'<p>{text or f"status {n}"} <a href="https://{host}/tags/ghibli" '
        'class="mention hashtag" rel="tag">#<span>ghibli</span></a></p>',
        "reblog": None,
        "account": account,
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": "ghibli", "url": f"https://{host}/tags/ghibli"}],
        "emojis": [],
    }


class FakeInstances:
    """Hashtag timelines of several instances; records (host, tag, params, auth)."""

    def __init__(self) -> None:
        self.statuses: dict[tuple[str, str], list[dict]] = {}
        self.calls: list[tuple[str, str, dict, str | None]] = []
        self.failures: list[tuple[int, dict, str] | Exception] = []
        self.requires_login: set[str] = set()

    def add(self, host: str, tag: str, n: int, start: datetime, first: int = 0) -> list[dict]:
        made = [status(host, start + timedelta(minutes=3 * i), first + i) for i in range(n)]
        self.statuses.setdefault((host, tag), []).extend(made)
        return made

    def __call__(self, request: requests.PreparedRequest):
        host, tag = TIMELINE.match(request.url).groups()
        params = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
        self.calls.append((host, tag, params, request.headers.get("Authorization")))
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        if host in self.requires_login and not request.headers.get("Authorization"):
            return 401, {}, json.dumps({"error": "This method requires an authenticated user"})
        found = sorted(self.statuses.get((host, tag), []), key=lambda s: int(s["id"]))
        if "min_id" in params:
            found = [s for s in found if int(s["id"]) > int(params["min_id"])]
        if "max_id" in params:
            found = [s for s in found if int(s["id"]) < int(params["max_id"])]
        page = list(reversed(found[: int(params.get("limit", 20))]))
        headers = {"X-RateLimit-Remaining": "299", "X-RateLimit-Reset": "2025-03-27T12:05:00.000Z"}
        return 200, headers, json.dumps(page)


@pytest.fixture
def instances():
    fake = FakeInstances()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, TIMELINE, callback=fake)
        mock.add(responses.GET, re.compile(r"https://[^/]+/api/v2/instance/?"), status=404, json={})
        yield fake


def collector(clock, **overrides) -> MastodonCollector:
    return MastodonCollector(make_settings(**overrides), sleep=clock.sleep, clock=clock)


CAMPAIGN = make_campaign(mastodon_instances=["mastodon.social"], mastodon_hashtags=["ghibli"])
T0 = NOW - timedelta(days=1)


def test_pages_forward_from_since_with_min_id(instances, con, clock):
    instances.add("mastodon.social", "ghibli", 95, T0)
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 95
    assert [c[2]["limit"] for c in instances.calls] == ["40"] * 4  # 40 + 40 + 15 + empty
    assert instances.calls[0][2]["min_id"] == snowflake_id(CAMPAIGN.start)
    assert instances.calls[0][2]["max_id"] == snowflake_id(CAMPAIGN.end)
    newest = max((s["id"] for s in instances.statuses[("mastodon.social", "ghibli")]), key=int)
    assert decode_cursor(report.queries[0].cursor) == {"min_id": newest}
    assert instances.calls[0][3] is None  # anonymous


def test_second_run_resumes_at_min_id_and_stores_nothing_twice(instances, con, clock):
    made = instances.add("mastodon.social", "ghibli", 10, T0)
    run_source(con, collector(clock), CAMPAIGN)
    instances.add("mastodon.social", "ghibli", 3, NOW, first=100)
    instances.calls.clear()
    report = run_source(con, collector(clock), CAMPAIGN)
    assert instances.calls[0][2]["min_id"] == max((s["id"] for s in made), key=int)
    assert report.new == 3 and report.fetched == 3
    assert rows(con, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(13, 13)]


def test_token_goes_only_to_its_instance(instances, con, clock):
    campaign = make_campaign(
        mastodon_instances=["mastodon.social", "mstdn.jp"], mastodon_hashtags=["ghibli"]
    )
    instances.add("mastodon.social", "ghibli", 2, T0)
    instances.add("mstdn.jp", "ghibli", 2, T0)
    c = collector(clock, mastodon_access_token=TOKEN, mastodon_token_instance="mstdn.jp")
    report = run_source(con, c, campaign)
    assert report.status == "ok" and report.new == 4
    auth = {(host, a) for host, _, _, a in instances.calls}
    assert auth == {("mastodon.social", None), ("mstdn.jp", f"Bearer {TOKEN}")}


def test_instance_requiring_login_fails_once_with_the_env_vars_to_set(instances, con, clock):
    instances.requires_login.add("mastodon.social")
    campaign = make_campaign(mastodon_instances=["mastodon.social"], mastodon_hashtags=["a", "b"])
    report = run_source(con, collector(clock), campaign)
    assert [q.status for q in report.queries] == ["failed", "failed"]
    assert "HYPEWATCH_MASTODON_ACCESS_TOKEN" in report.error
    assert "HYPEWATCH_MASTODON_TOKEN_INSTANCE=mastodon.social" in report.error
    assert len(instances.calls) == 1  # the second hashtag is not asked again


def test_429_waits_until_x_ratelimit_reset(instances, con, clock):
    instances.add("mastodon.social", "ghibli", 5, T0)
    reset = (NOW + timedelta(seconds=50)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    instances.failures.append((429, {"X-RateLimit-Reset": reset}, '{"error": "Too many requests"}'))
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 5
    assert clock.sleeps == [pytest.approx(51, abs=1)]


def test_5xx_and_timeout_then_success(instances, con, clock):
    instances.add("mastodon.social", "ghibli", 5, T0)
    instances.failures += [(503, {}, "busy"), requests.exceptions.ConnectTimeout("slow")]
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 5 and len(clock.sleeps) == 2


def test_5xx_exhausted_partial_then_next_request(instances, con, clock):
    campaign = make_campaign(
        mastodon_instances=["mastodon.social"], mastodon_hashtags=["ghibli", "openai"]
    )
    instances.add("mastodon.social", "openai", 4, T0)
    instances.failures += [(502, {}, "bad gateway")] * 3
    report = run_source(con, collector(clock), campaign)
    assert [q.status for q in report.queries] == ["partial", "ok"]
    assert "gave up after 3 attempts" in runs(con, "mastodon")[0][6]
    assert report.new == 4


def test_malformed_page_rejected_cursor_kept(instances, con, clock):
    instances.add("mastodon.social", "ghibli", 50, T0)
    run_source(con, collector(clock, collect_max_pages=1), CAMPAIGN)
    kept = runs(con, "mastodon")[-1][5]
    instances.failures.append((200, {"content-type": "application/json"}, '[{"id": "1"'))
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "partial" and report.rejected == 1
    assert runs(con, "mastodon")[-1][5] is None and report.queries[0].cursor == kept
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok"
    assert rows(con, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(50, 50)]


def test_empty_timeline(instances, con, clock):
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.requests == 1 and report.fetched == 0
    assert decode_cursor(report.queries[0].cursor) == {"min_id": snowflake_id(CAMPAIGN.start)}


def test_non_ascii_text(instances, con, clock):
    host = "mstdn.jp"
    instances.statuses[(host, "ghibli")] = [
        status(host, T0, 1, "ジブリ風のアイコンが流行ってる🎨"),
        status(host, T0 + timedelta(minutes=1), 2, "宮崎駿さん怒ってそう😅"),
    ]
    campaign = make_campaign(mastodon_instances=[host], mastodon_hashtags=["ghibli"])
    run_source(con, collector(clock), campaign)
    texts = sorted(r[0] for r in rows(con, "SELECT text FROM posts"))
    assert texts == ["ジブリ風のアイコンが流行ってる🎨 #ghibli", "宮崎駿さん怒ってそう😅 #ghibli"]
