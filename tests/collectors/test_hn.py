"""HN collector: Algolia ``search_by_date`` served by ``respx`` (no network).

The fake index answers like Algolia: ``numericFilters`` on ``created_at_i``, newest first,
at most ``hitsPerPage`` hits, ``nbHits`` the full count of the slice.
"""

from __future__ import annotations

import itertools
import re

import httpx
import orjson
import pytest
import respx

from ingest.collectors.base import decode_cursor
from ingest.collectors.driver import run_source
from ingest.collectors.hn import INDEX_LAG_S, HNCollector
from tests.collectors.conftest import NOW, make_campaign, make_settings, post_ids, rows, runs

URL = "https://hn.algolia.com/api/v1/search_by_date"
CAMPAIGN = make_campaign(hn=["ghibli openai"])
_FILTER = re.compile(r"created_at_i(>=|>|<=|<)(\d+)")


def hit(object_id: int, created: int, text: str | None = None, comment: bool = True) -> dict:
    base = {
        "objectID": str(object_id),
        "created_at_i": created,
        "created_at": "2025-03-26T00:00:00Z",
        "author": "pg",
        "points": 3,
        "story_id": 43480000,
        "_tags": ["comment" if comment else "story", "author_pg", "story_43480000"],
    }
    if comment:
        base |= {
            "comment_text": text or f"<p>comment {object_id} on ghibli</p>",
            "parent_id": 43480000,
        }
    else:
        base |= {
            "title": text or f"Story {object_id}",
            "url": "https://example.com",
            "num_comments": 2,
        }
    return base


class FakeAlgolia:
    def __init__(self, hits: list[dict]) -> None:
        self.hits = hits
        self.calls: list[tuple[int, int]] = []
        self.failures: list[httpx.Response | Exception] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        bounds = dict.fromkeys((">=", ">", "<=", "<"))
        for op, value in _FILTER.findall(params["numericFilters"]):
            bounds[op] = int(value)
        self.calls.append((bounds[">="], bounds["<"]))
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        assert params["tags"] == "(story,comment)" and params["hitsPerPage"] == "1000"
        found = [h for h in self.hits if bounds[">="] <= h["created_at_i"] < bounds["<"]]
        found.sort(key=lambda h: h["created_at_i"], reverse=True)
        per_page = int(params["hitsPerPage"])
        body = {
            "hits": found[:per_page],
            "nbHits": len(found),
            "page": 0,
            "nbPages": max(1, -(-len(found) // per_page)),
            "hitsPerPage": per_page,
            "query": params["query"],
            "params": str(request.url.query),
        }
        return httpx.Response(200, json=body)


def spread(n: int, start: int, end: int, first_id: int = 1) -> list[dict]:
    step = (end - start) / n
    return [hit(first_id + i, int(start + i * step), comment=i % 3 != 0) for i in range(n)]


@pytest.fixture
def algolia():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def serve(mock: respx.MockRouter, fake: FakeAlgolia) -> FakeAlgolia:
    mock.get(URL).mock(side_effect=fake)
    return fake


def collector(clock, **overrides) -> HNCollector:
    return HNCollector(make_settings(**overrides), sleep=clock.sleep, clock=clock)


START = int(CAMPAIGN.start.timestamp())
END = int(NOW.timestamp()) - INDEX_LAG_S


def test_window_is_sliced_below_1000_hits_and_each_item_stored_once(algolia, con, clock):
    fake = serve(algolia, FakeAlgolia(spread(2600, START, END)))
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok"
    assert rows(con, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(2600, 2600)]
    assert fake.calls[0] == (START, END)  # the whole window first: too big, split
    stored = [
        (a, b) for a, b in fake.calls if sum(a <= h["created_at_i"] < b for h in fake.hits) <= 1000
    ]
    assert stored and all(b > a for a, b in stored)
    # stored slices tile the window from oldest to newest
    assert stored[0][0] == START and stored[-1][1] == END
    assert all(x[1] == y[0] for x, y in itertools.pairwise(stored))
    assert report.requests == len(fake.calls)
    assert decode_cursor(report.queries[0].cursor) == {"until": END}


def test_second_run_starts_at_the_cursor_and_stores_nothing_twice(algolia, con, clock):
    fake = serve(algolia, FakeAlgolia(spread(50, START, END)))
    run_source(con, collector(clock), CAMPAIGN)
    clock.advance(3600)
    fake.hits += spread(5, END, END + 3000, first_id=10_000)
    fake.calls.clear()
    report = run_source(con, collector(clock), CAMPAIGN)
    assert fake.calls == [(END, END + 3600)]
    assert report.new == 5 and report.fetched == 5
    assert rows(con, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(55, 55)]


def test_429_waits_for_retry_after(algolia, con, clock):
    fake = serve(algolia, FakeAlgolia(spread(10, START, END)))
    fake.failures.append(
        httpx.Response(429, headers={"Retry-After": "20"}, json={"message": "slow down"})
    )
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 10
    assert clock.sleeps == [pytest.approx(21)]


def test_5xx_then_success_and_timeout_are_retried(algolia, con, clock):
    fake = serve(algolia, FakeAlgolia(spread(10, START, END)))
    fake.failures += [httpx.Response(503, text="busy"), httpx.ReadTimeout("slow")]
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.new == 10 and len(clock.sleeps) == 2


def test_5xx_exhausted_ends_partial_and_the_next_query_continues(algolia, con, clock):
    fake = serve(algolia, FakeAlgolia(spread(10, START, END)))
    fake.failures += [httpx.Response(500, text="oops")] * 3
    report = run_source(con, collector(clock), make_campaign(hn=["one", "two"]))
    assert [q.status for q in report.queries] == ["partial", "ok"]
    assert "gave up after 3 attempts" in runs(con, "hn")[0][6]
    assert report.new == 10


def test_malformed_page_is_rejected_the_cursor_stays_and_the_next_run_retries(algolia, con, clock):
    fake = serve(algolia, FakeAlgolia(spread(2600, START, END)))

    real_call = fake.__call__
    served = []

    def broken_third(request: httpx.Request) -> httpx.Response:
        served.append(1)
        if len(served) == 3:
            return httpx.Response(
                200,
                text='{"hits": [{"objectID": "1", ',
                headers={"content-type": "application/json"},
            )
        return real_call(request)

    algolia.get(URL).mock(side_effect=broken_third)
    first = run_source(con, collector(clock), CAMPAIGN)
    assert first.status == "partial" and "malformed" in first.error
    assert first.rejected == 1
    stored_before = rows(con, "SELECT count(*) FROM posts")[0][0]
    assert 0 < stored_before < 2600
    cursor = decode_cursor(first.queries[0].cursor)
    assert cursor == {} or cursor["until"] < END

    algolia.get(URL).mock(side_effect=fake)
    second = run_source(con, collector(clock), CAMPAIGN)
    assert second.status == "ok"
    assert rows(con, "SELECT count(*), count(DISTINCT post_id) FROM posts") == [(2600, 2600)]
    (payload,) = rows(con, "SELECT payload FROM rejects")[0]
    assert payload.startswith('{"hits"')


def test_empty_window_and_empty_results(algolia, con, clock):
    fake = serve(algolia, FakeAlgolia([]))
    report = run_source(con, collector(clock), CAMPAIGN)
    assert report.status == "ok" and report.fetched == 0 and len(fake.calls) == 1
    fake.calls.clear()
    report = run_source(con, collector(clock), CAMPAIGN)  # nothing new to ask for
    assert fake.calls == [] and report.requests == 0


def test_non_ascii_text(algolia, con, clock):
    texts = ["<p>ジブリ風 &amp; 宮崎駿 🎨</p>", "<p>Ghibli 🤖 — “insult to life”</p>"]
    serve(algolia, FakeAlgolia([hit(i, START + 100 * (i + 1), t) for i, t in enumerate(texts)]))
    run_source(con, collector(clock), CAMPAIGN)
    assert sorted(r[0] for r in rows(con, "SELECT text FROM posts")) == sorted(
        ["ジブリ風 & 宮崎駿 🎨", "Ghibli 🤖 — “insult to life”"]
    )
    raw = [orjson.loads(r[0]) for r in rows(con, "SELECT payload FROM raw_payloads")]
    assert {h["comment_text"] for h in raw} == set(texts)


def test_stories_and_comments_both_become_posts(algolia, con, clock):
    serve(algolia, FakeAlgolia([hit(1, START + 10, comment=False), hit(2, START + 20)]))
    run_source(con, collector(clock), CAMPAIGN)
    assert sorted(post_ids(con, "hn")) == ["1", "2"]
