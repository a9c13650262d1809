"""The shared driver, retry policy, registry, ``collect`` stage and CLI, and secrets.

Most tests use a scripted in-memory collector; the secrets test runs the real X,
Bluesky and Reddit collectors against fake servers that echo credentials back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import requests
import responses
import respx
import typer
from typer.testing import CliRunner

from hypewatch.collect import collect
from ingest.collectors import COLLECTORS, get_collector
from ingest.collectors.base import (
    Collector,
    CollectorError,
    Incomplete,
    Page,
    RateLimited,
    Request,
    RetryPolicy,
    SourceStopped,
    Transient,
    decode_cursor,
    encode_cursor,
    reset_from_headers,
)
from ingest.collectors.bluesky import BlueskyCollector
from ingest.collectors.driver import run_source
from ingest.collectors.redaction import redact, register_secret
from ingest.collectors.reddit import RedditCollector
from ingest.collectors.x import XCollector
from tests.collectors.conftest import NOW, FakeClock, make_campaign, make_settings, rows, runs
from warehouse.db import connect
from warehouse.writes import start_run


def hn_page(*ids: int) -> dict:
    hits = [
        {"objectID": str(i), "created_at_i": 1742990000 + i, "author": "pg", "title": f"story {i}",
         "_tags": ["story"]}
        for i in ids
    ]  # fmt: skip
    return {"hits": hits, "nbHits": len(hits)}


class Scripted(Collector):
    """A collector whose pages and failures are scripted per query."""

    name = "scripted"
    format = "hn"

    def __init__(self, script: dict[str, list[Any]], **kw: Any) -> None:
        super().__init__(make_settings(), **kw)
        self.script = script
        self.seen_cursors: dict[str, str | None] = {}
        self.attempts = 0

    def requests(self, campaign) -> list[Request]:
        return [Request(self.name, q, f"scripted {q}") for q in self.script]

    def pages(self, request, cursor, since, until) -> Iterator[Page]:
        self.seen_cursors[request.query] = cursor
        for step in self.script[request.query]:
            if isinstance(step, Page):
                yield step
            else:
                yield self.call("scripted", self._fail_or_page, step)

    def _fail_or_page(self, step: Any) -> Page:
        self.attempts += 1
        if isinstance(step, list):  # a list of outcomes, consumed one per attempt
            outcome = step.pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        raise step


CAMPAIGN = make_campaign()


def page(cursor: int, *ids: int) -> Page:
    return Page("hn", hn_page(*ids), encode_cursor({"n": cursor}))


def test_pages_and_cursor_are_stored_and_the_next_run_gets_the_cursor(con, clock):
    script = {"q": [page(1, 1, 2), page(2, 3)]}
    report = run_source(con, Scripted(script, clock=clock, sleep=clock.sleep), CAMPAIGN)
    assert (report.status, report.requests, report.fetched, report.new) == ("ok", 2, 3, 3)
    assert runs(con, "scripted") == [("q", "ok", 2, 3, 3, '{"n":2}', None)]
    again = Scripted({"q": [page(3, 3, 4)]}, clock=clock, sleep=clock.sleep)
    report = run_source(con, again, CAMPAIGN)
    assert again.seen_cursors["q"] == '{"n":2}' and report.new == 1 and report.fetched == 2
    assert rows(con, "SELECT cursor_before FROM collection_runs ORDER BY run_id") == [
        (None,), ('{"n":2}',)
    ]  # fmt: skip


def test_transient_is_retried_with_backoff_then_exhausted_is_partial(con, clock):
    script = {
        "a": [[Transient("503"), page(1, 1)]],
        "b": [page(5, 2), [Transient("502")] * 3],
        "c": [page(9, 3)],
    }
    collector = Scripted(script, clock=clock, sleep=clock.sleep)
    report = run_source(con, collector, CAMPAIGN)
    assert [q.status for q in report.queries] == ["ok", "partial", "ok"]
    assert report.status == "partial" and report.new == 3
    assert "502 (gave up after 3 attempts)" in report.queries[1].error
    assert decode_cursor(report.queries[1].cursor) == {"n": 5}  # the page before the failure
    assert len(clock.sleeps) == 1 + 2 and all(0 <= s <= 4 for s in clock.sleeps)


def test_rate_limit_waits_until_reset_or_gives_up_beyond_max_wait(con, clock):
    soon = RateLimited("429", reset_at=clock.now + 10)
    late = RateLimited("429", reset_at=clock.now + 10_000)
    unknown = RateLimited("429", reset_at=None)
    script = {"a": [[soon, page(1, 1)]], "b": [[late, page(2, 2)]], "c": [[unknown, page(3, 3)]]}
    report = run_source(con, Scripted(script, clock=clock, sleep=clock.sleep), CAMPAIGN)
    assert [q.status for q in report.queries] == ["ok", "partial", "ok"]
    assert "HYPEWATCH_COLLECT_MAX_WAIT_S" in report.queries[1].error
    assert clock.sleeps[0] == pytest.approx(11) and len(clock.sleeps) == 2


def test_source_stopped_ends_the_source_and_unexpected_errors_fail_one_query(con, clock):
    script = {"a": [ValueError("bug")], "b": [SourceStopped("tier")], "c": [page(1, 1)]}
    report = run_source(con, Scripted(script, clock=clock, sleep=clock.sleep), CAMPAIGN)
    assert [q.status for q in report.queries] == ["failed", "failed"]
    assert report.queries[0].error == "ValueError: bug" and report.error == "ValueError: bug"
    assert report.notes == ["1 remaining request(s) not attempted"]
    assert report.status == "failed" and clock.sleeps == []


def test_incomplete_and_plain_collector_errors(con, clock):
    script = {"a": [page(1, 1), Incomplete("limit")], "b": [CollectorError("400 bad query")]}
    report = run_source(con, Scripted(script, clock=clock, sleep=clock.sleep), CAMPAIGN)
    assert [(q.status, q.error) for q in report.queries] == [
        ("partial", "limit"), ("failed", "400 bad query"),
    ]  # fmt: skip


def test_page_rejects_and_pages_without_payload(con, clock):
    from ingest.model import Reject

    bad = Page("hn", None, None, 1, [Reject("hn", "hn: malformed page", "<html>oops")])
    script = {"a": [page(1, 1), bad, Page("hn", None, None, 1)]}
    report = run_source(con, Scripted(script, clock=clock, sleep=clock.sleep), CAMPAIGN)
    assert (report.requests, report.fetched, report.rejected) == (3, 2, 1)
    assert decode_cursor(report.queries[0].cursor) == {"n": 1}
    assert rows(con, "SELECT payload FROM rejects") == [("<html>oops",)]


def test_runs_left_running_by_a_killed_process_are_closed(con, clock):
    con.execute(
        "INSERT INTO collection_runs (source, campaign, query, cursor_after, started_at, status) "
        "VALUES ('scripted', ?, 'q', '{\"n\": 7}', now()::TIMESTAMP, 'running')",
        [CAMPAIGN.name],
    )
    collector = Scripted({"q": [page(8, 1)]}, clock=clock, sleep=clock.sleep)
    run_source(con, collector, CAMPAIGN)
    assert collector.seen_cursors["q"] == '{"n": 7}'
    statuses = rows(con, "SELECT status, error FROM collection_runs ORDER BY run_id")
    assert statuses[0][0] == "interrupted" and "interrupted" in statuses[0][1]
    assert statuses[1] == ("ok", None)


def test_a_run_whose_owner_still_runs_is_left_open(con, clock):
    other = start_run(con, "scripted", campaign=CAMPAIGN.name, query="q")  # this live process
    collector = Scripted({"q": [page(8, 1)]}, clock=clock, sleep=clock.sleep)
    run_source(con, collector, CAMPAIGN)
    statuses = rows(con, "SELECT run_id, status FROM collection_runs ORDER BY run_id")
    assert statuses[0] == (other, "running")  # another collector's run is not closed under it
    assert statuses[1][1] == "ok"


def test_interrupt_closes_the_run_and_propagates(con, clock):
    collector = Scripted({"q": [page(1, 1), KeyboardInterrupt()]}, clock=clock, sleep=clock.sleep)
    with pytest.raises(KeyboardInterrupt):
        run_source(con, collector, CAMPAIGN)
    assert rows(con, "SELECT status, error, cursor_after FROM collection_runs") == [
        ("interrupted", "stopped by Ctrl-C", '{"n":1}')
    ]


def test_retry_policy_unit():
    clock = FakeClock()
    policy = RetryPolicy(attempts=4, backoff_max=8, max_wait=60, sleep=clock.sleep, clock=clock)
    outcomes = [Transient("a"), Transient("b"), "ok"]

    def flaky() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert policy.call(flaky) == "ok" and len(clock.sleeps) == 2
    with pytest.raises(SourceStopped):
        policy.call(lambda: (_ for _ in ()).throw(SourceStopped("no")))
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-rate-limit-reset": "1743076900"}, 1743076900),
        ({"ratelimit-reset": "1743076900"}, 1743076900),
        ({"Retry-After": "30"}, NOW.timestamp() + 30),
        ({"Retry-After": "Thu, 27 Mar 2025 12:01:00 GMT"}, NOW.timestamp() + 60),
        ({"X-RateLimit-Reset": "2025-03-27T12:05:00.000Z"}, NOW.timestamp() + 300),
        ({"x-ratelimit-reset": "120"}, NOW.timestamp() + 120),
        ({"x-ratelimit-reset": "soon"}, None),
        ({}, None),
    ],
)
def test_reset_from_headers(headers, expected):
    assert reset_from_headers(headers, NOW.timestamp()) == expected


def test_redact_removes_secrets_and_credential_shapes():
    register_secret("s3cr3t-TOKEN-value")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkaWQ6cGxjOm1lIn0.c2lnbmF0dXJl"
    text = (
        "failed: s3cr3t-TOKEN-value / s3cr3t-TOKEN-value%2F / "
        "headers {'Authorization': 'Bearer AAAAAAAAAAAAAAAAAAAAAOther'} "
        f'access_token=abc123def&x=1 {{"password": "hunter2!"}} jwt {jwt} '
        "client_secret: zzzzzz"
    )
    cleaned = redact(text, ["hunter2!"])
    for secret in (
        "s3cr3t-TOKEN-value",
        "AAAAAAAAAAAAAAAAAAAAAOther",
        "abc123def",
        "hunter2",
        jwt,
        "zzzzzz",
    ):
        assert secret not in cleaned
    assert "[REDACTED]" in cleaned and cleaned.startswith("failed: ")
    assert redact("nothing secret here: 503 Service Unavailable") == (
        "nothing secret here: 503 Service Unavailable"
    )


def test_registry_and_unknown_source():
    assert list(COLLECTORS) == ["x", "bluesky", "mastodon", "reddit", "hn"]
    assert get_collector("hn").name == "hn"
    with pytest.raises(ValueError, match="unknown source 'tiktok'; valid sources: x, bluesky"):
        get_collector("tiktok")


def test_collect_skips_sources_without_credentials_naming_the_env_vars(con):
    settings = make_settings()
    reports = collect(con, make_campaign(), ["x", "reddit", "hn"], settings=settings)
    by_source = {r.source: r for r in reports}
    assert by_source["x"].status == "skipped"
    assert by_source["x"].error == "no credentials: set HYPEWATCH_X_BEARER_TOKEN"
    assert "HYPEWATCH_REDDIT_CLIENT_SECRET" in by_source["reddit"].error
    assert by_source["hn"].status == "ok" and by_source["hn"].requests == 0
    assert rows(con, "SELECT campaign FROM campaigns") == [("test-launch",)]


def test_collect_rejects_an_empty_window_and_unknown_sources(con):
    with pytest.raises(ValueError, match="must be after"):
        collect(
            con,
            CAMPAIGN,
            ["hn"],
            since=NOW,
            until=NOW - timedelta(days=1),
            settings=make_settings(),
        )
    with pytest.raises(ValueError, match="unknown source"):
        collect(con, CAMPAIGN, ["hn", "myspace"], settings=make_settings())


def test_dry_run_plans_without_requests_or_secrets(tmp_path):
    settings = make_settings(
        x_bearer_token="XBEARER-dry-run-secret-123456",
        reddit_client_id="id1234",
        reddit_client_secret="REDDIT-dry-run-secret-123456",
        bluesky_handle="me.bsky.social",
        bluesky_app_password="BSKY-dry-run-secret-1234",
    )
    campaign = make_campaign(
        x=["gpt-4o"], bluesky=["ghibli"], keywords=["ghibli"], hn=["ghibli"],
        mastodon_instances=["mastodon.social"], mastodon_hashtags=["ghibli"],
        reddit_subreddits=["ChatGPT"], reddit=["ghibli"],
    )  # fmt: skip
    with responses.RequestsMock(), respx.mock():  # any request would fail the test
        reports = collect(None, campaign, dry_run=True, settings=settings)
    assert [r.status for r in reports] == ["planned"] * 5
    text = json.dumps([r.plan for r in reports], ensure_ascii=False)
    for secret in ("XBEARER", "REDDIT-dry", "BSKY-dry"):
        assert secret not in text
    assert "resume at: start of window" in text and "search/recent" in text
    assert sum(len(r.plan) for r in reports) == 1 + 2 + 1 + 2 + 1


# --------------------------------------------------------------------------- secrets

X_TOKEN = "AAAAAAAAAAAAAAAAAAAAAXsecretBEARERtoken0987654321"
BSKY_PASSWORD = "abcd-efgh-SECRET-mnop"
REDDIT_SECRET = "REDDITsecretVALUE-0987654321"
SECRETS = (X_TOKEN, BSKY_PASSWORD, REDDIT_SECRET)


def echo(request: requests.PreparedRequest) -> tuple[int, dict, str]:
    """A misbehaving proxy that echoes the request headers in its error page."""
    body = {
        "title": "Service Unavailable",
        "detail": f"upstream failed for {dict(request.headers)}",
    }
    return 503, {}, json.dumps(body)


def test_secrets_never_reach_the_warehouse_logs_or_output(tmp_path, caplog, capsys, clock):
    caplog.set_level(logging.DEBUG)  # tweepy logs request headers at DEBUG
    settings = make_settings(
        x_bearer_token=X_TOKEN,
        bluesky_handle="me.bsky.social",
        bluesky_app_password=BSKY_PASSWORD,
        reddit_client_id="clientid123",
        reddit_client_secret=REDDIT_SECRET,
        jetstream_url="ws://127.0.0.1:9/subscribe",
    )
    campaign = make_campaign(x=["q1", "q2"], bluesky=["ghibli"], reddit_subreddits=["ChatGPT"])
    con = connect(tmp_path / "w.duckdb")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock, respx.mock() as rx:
        mock.add_callback(
            responses.GET, "https://api.twitter.com/2/tweets/search/recent", callback=echo
        )
        mock.add(
            responses.POST,
            "https://www.reddit.com/api/v1/access_token",
            status=401,
            body=f"invalid client secret {REDDIT_SECRET}",
        )

        def login(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                401,
                json={
                    "error": "AuthenticationRequired",
                    "message": f"bad {request.content.decode()}",
                },
            )

        rx.post("https://bsky.social/xrpc/com.atproto.server.createSession").mock(side_effect=login)
        bluesky = BlueskyCollector(settings, sleep=clock.sleep, clock=clock)
        reports = [
            run_source(con, XCollector(settings, sleep=clock.sleep, clock=clock), campaign),
            run_source(
                con,
                bluesky,
                campaign.model_copy(
                    update={"queries": campaign.queries.model_copy(update={"keywords": []})}
                ),
            ),
            run_source(con, RedditCollector(settings, sleep=clock.sleep, clock=clock), campaign),
        ]
    assert [r.status for r in reports] == ["partial", "partial", "failed"]

    # the CLI output of those reports
    from hypewatch.cli import out
    from hypewatch.cli_collect import _print_reports

    _print_reports(out, reports, dry_run=False)
    stored = []
    for table in ("collection_runs", "rejects", "raw_payloads"):
        stored += [
            json.dumps(r, default=str) for r in con.execute(f"SELECT * FROM {table}").fetchall()
        ]
    con.close()
    captured = capsys.readouterr()
    haystacks = {
        "warehouse": "\n".join(stored),
        "logs": "\n".join(r.getMessage() for r in caplog.records),
        "output": captured.out + captured.err,
    }
    assert "Bearer" in haystacks["logs"]  # tweepy did log its request headers...
    for where, text in haystacks.items():
        for secret in SECRETS:
            assert secret not in text, f"secret found in {where}"
    assert "[REDACTED]" in haystacks["warehouse"]


# --------------------------------------------------------------------------- CLI


def test_cli_collect_and_reparse(tmp_path, monkeypatch):
    from hypewatch import settings as settings_module
    from hypewatch.cli_collect import collect_command, reparse_command

    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    (campaigns / "demo.toml").write_text(
        'name = "demo"\ntitle = "Demo"\nstart = 2025-03-20T00:00:00Z\nend = 2025-03-21T00:00:00Z\n'
        '[queries]\nhn = ["ghibli"]\n'
    )
    monkeypatch.setenv("HYPEWATCH_CAMPAIGNS_DIR", str(campaigns))
    monkeypatch.delenv("HYPEWATCH_X_BEARER_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    settings_module.get_settings.cache_clear()
    app = typer.Typer()
    app.command("collect")(collect_command)
    app.command("reparse")(reparse_command)
    db = tmp_path / "w.duckdb"
    runner = CliRunner()
    try:
        dry = runner.invoke(app, ["collect", "--campaign", "demo", "--dry-run", "--db", str(db)])
        assert dry.exit_code == 0, dry.output
        assert "search_by_date" in dry.output and not db.exists()

        hits = {"hits": [{"objectID": "7", "created_at_i": 1742430000, "title": "Ghibli ジブリ 🎨",
                          "author": "pg", "_tags": ["story"]}], "nbHits": 1}  # fmt: skip
        with respx.mock() as rx:
            rx.get("https://hn.algolia.com/api/v1/search_by_date").mock(
                return_value=httpx.Response(200, json=hits)
            )
            result = runner.invoke(
                app, ["collect", "--campaign", "demo", "-s", "hn", "-s", "x", "--db", str(db)]
            )
        assert result.exit_code == 1, result.output  # x was asked for but has no token
        assert "HYPEWATCH_X_BEARER_TOKEN" in result.output
        assert "│ hn" in result.output and "│ ok" in result.output and "│ skipped" in result.output
        check = connect(db)
        assert rows(check, "SELECT text FROM posts") == [("Ghibli ジブリ 🎨",)]
        check.close()

        bad = runner.invoke(app, ["collect", "--campaign", "demo", "--since", "yesterday"])
        assert bad.exit_code == 1 and "--since 'yesterday' is not a date" in bad.output

        reparsed = runner.invoke(app, ["reparse", "--db", str(db)])
        assert reparsed.exit_code == 0 and "fetched 1" in reparsed.output
    finally:
        settings_module.get_settings.cache_clear()


class ReadsBetweenPages(Scripted):
    """Reads the warehouse read-only between pages, as the dashboard would while it waits."""

    def __init__(self, script: dict[str, list[Any]], path: Any, **kw: Any) -> None:
        super().__init__(script, **kw)
        self.path = path
        self.seen: list[int] = []

    def pages(self, request, cursor, since, until) -> Iterator[Page]:
        from warehouse.read import query_df, release_all

        for step in super().pages(request, cursor, since, until):
            yield step
            # Fails with a lock error if the driver still held the file read-write.
            self.seen.append(int(query_df(self.path, "SELECT count(*) AS n FROM posts").n[0]))
            release_all()


def test_a_path_is_opened_per_write_so_readers_see_each_page_while_it_runs(tmp_path, clock):
    from warehouse.read import ShortWrites

    path = tmp_path / "w.duckdb"
    connect(path).close()
    writes = ShortWrites(path)
    script = {"q": [page(1, 1, 2), page(2, 3), page(3, 4, 5, 6)]}
    collector = ReadsBetweenPages(script, path, clock=clock, sleep=clock.sleep)
    report = run_source(writes, collector, CAMPAIGN)
    assert report.status == "ok" and report.new == 6
    assert collector.seen == [2, 3, 6]  # each page committed and visible before the next
    assert writes.opened == 3 + 2  # start run, 3 pages, finish run: never one long hold
    con = connect(path)
    try:
        assert runs(con, "scripted") == [("q", "ok", 3, 6, 6, '{"n":3}', None)]
    finally:
        con.close()
