"""Kill and resume: a collector in a subprocess is SIGKILLed at a random page (seeded),
then rerun to completion; the warehouse must hold exactly the expected posts, each once.

A thread in the test process serves paginated fake X recent-search and HN Algolia
responses on 127.0.0.1; the child process points its API URLs at it through settings
(``HYPEWATCH_X_API_URL``, ``HYPEWATCH_HN_API_URL``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from warehouse.db import connect

ROOT = Path(__file__).resolve().parents[2]
_EPOCH_MS = 1288834974657
X_PAGE = 7  # tweets per fake X page: many pages to be killed in

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from hypewatch.campaigns import load_campaign
    from hypewatch.collect import collect
    from hypewatch.settings import Settings
    from warehouse.db import connect

    campaign = load_campaign(Path(sys.argv[1]))
    con = connect(sys.argv[2])
    reports = collect(con, campaign, [sys.argv[3]], settings=Settings(_env_file=None))
    con.close()
    for r in reports:
        print(r.source, r.status, r.requests, r.new, r.error)
    """
)


def snowflake(when: datetime, seq: int) -> str:
    return str(((int(when.timestamp() * 1000) - _EPOCH_MS) << 22) | seq)


class FakeAPIs:
    """X recent search (newest first, keyset next_token) and HN search_by_date."""

    def __init__(self, now: datetime, rng: random.Random) -> None:
        self.lock = threading.Lock()
        self.tweets: list[dict] = []
        self.hits: list[dict] = []
        self.log: list[dict] = []
        self.kill_at: int | None = None  # the request after which the child gets killed
        self.reached = threading.Event()
        self.killed = threading.Event()
        start = now - timedelta(hours=20)
        for i in range(60):
            self.add_tweet(start + timedelta(minutes=15 * i + rng.randint(0, 9)), i)
        low, high = int(start.timestamp()), int((now - timedelta(hours=1)).timestamp())
        for i in range(2600):
            created = rng.randint(low, high)
            self.hits.append(
                {"objectID": str(40_000_000 + i), "created_at_i": created, "author": "pg",
                 "comment_text": f"<p>ghibli comment {i}</p>", "_tags": ["comment"]}
            )  # fmt: skip
        handler = self.handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_tweet(self, when: datetime, seq: int) -> None:
        tid = snowflake(when, seq % 4096)
        self.tweets.append(
            {"id": tid, "text": f"tweet {seq} 4o image", "author_id": "42", "lang": "en",
             "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        )  # fmt: skip

    def x_page(self, params: dict) -> dict:
        ordered = sorted(self.tweets, key=lambda t: int(t["id"]), reverse=True)
        if "since_id" in params:
            ordered = [t for t in ordered if int(t["id"]) > int(params["since_id"])]
        if "next_token" in params:
            below = int(params["next_token"].removeprefix("below-"))
            ordered = [t for t in ordered if int(t["id"]) < below]
        page = ordered[:X_PAGE]
        if not page:
            return {"meta": {"result_count": 0}}
        meta = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], "result_count": len(page)}
        if len(ordered) > X_PAGE:
            meta["next_token"] = f"below-{page[-1]['id']}"
        users = [{"id": "42", "username": "fake", "name": "Fake"}]
        return {"data": page, "includes": {"users": users}, "meta": meta}

    def hn_page(self, params: dict) -> dict:
        bounds = params["numericFilters"].replace("created_at_i", "").split(",")
        lo, hi = int(bounds[0].lstrip(">=")), int(bounds[1].lstrip("<"))
        found = [h for h in self.hits if lo <= h["created_at_i"] < hi]
        found.sort(key=lambda h: h["created_at_i"], reverse=True)
        return {"hits": found[:1000], "nbHits": len(found), "page": 0, "hitsPerPage": 1000}

    def handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                url = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                with api.lock:
                    api.log.append({"path": url.path, **params})
                    number = len(api.log)
                if api.kill_at is not None and number > api.kill_at:
                    api.killed.wait(10)  # hold the child here until it is killed
                if url.path.endswith("/2/tweets/search/recent"):
                    body = api.x_page(params)
                else:
                    body = api.hn_page(params)
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                if number == api.kill_at:
                    api.reached.set()

        return Handler

    def stop(self) -> None:
        self.killed.set()
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def write_campaign(path: Path, now: datetime) -> Path:
    start = (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(
        f'name = "kill-test"\ntitle = "Kill test"\nstart = {start}\nend = {end}\n'
        '[queries]\nx = ["4o image"]\nhn = ["ghibli"]\n'
    )
    return path


def start_child(tmp_path: Path, api: FakeAPIs, campaign: Path, source: str) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HYPEWATCH_X_BEARER_TOKEN": "fake-kill-test-token-0123456789",
        "HYPEWATCH_X_API_URL": api.url,
        "HYPEWATCH_HN_API_URL": f"{api.url}/api/v1",
        "HYPEWATCH_COLLECT_RETRY_ATTEMPTS": "2",
    }
    return subprocess.Popen(
        [sys.executable, str(script), str(campaign), str(tmp_path / "w.duckdb"), source],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_to_completion(tmp_path: Path, api: FakeAPIs, campaign: Path, source: str) -> str:
    api.kill_at = None
    proc = start_child(tmp_path, api, campaign, source)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def kill_at_random_page(
    tmp_path: Path, api: FakeAPIs, campaign: Path, source: str, rng: random.Random, pages: int
) -> int:
    api.kill_at = rng.randint(2, pages - 1)
    api.reached.clear()
    api.killed.clear()
    proc = start_child(tmp_path, api, campaign, source)
    try:
        assert api.reached.wait(60), "the child never reached the page to be killed at"
        time.sleep(rng.uniform(0, 0.05))  # sometimes while the page is being stored
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        api.killed.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    return api.kill_at


def stored(tmp_path: Path, platform: str) -> tuple[list[str], int]:
    con = connect(tmp_path / "w.duckdb")
    try:
        ids = [r[0] for r in con.execute(
            "SELECT native_id FROM posts WHERE platform = ?", [platform]
        ).fetchall()]  # fmt: skip
        raw = con.execute("SELECT count(*) FROM raw_payloads").fetchone()[0]
    finally:
        con.close()
    return ids, raw


@pytest.mark.parametrize("seed", [11, 29])
def test_x_killed_at_a_random_page_resumes_without_loss_or_duplicates(tmp_path, now, seed):
    rng = random.Random(seed)
    api = FakeAPIs(now, rng)
    campaign = write_campaign(tmp_path / "kill.toml", now)
    try:
        pages = -(-len(api.tweets) // X_PAGE)
        killed_at = kill_at_random_page(tmp_path, api, campaign, "x", rng, pages)
        ids, _ = stored(tmp_path, "x")
        assert 0 < len(ids) < len(api.tweets)  # killed mid-pass

        # New tweets arrive before the rerun: they come with the next pass, not this one.
        for i in range(4):
            api.add_tweet(now - timedelta(minutes=10 - i), 3000 + i)
        api.log.clear()
        run_to_completion(tmp_path, api, campaign, "x")
        assert api.log[0].get("next_token", "").startswith("below-")  # resumed mid-pass

        api.log.clear()
        run_to_completion(tmp_path, api, campaign, "x")
        assert "since_id" in api.log[0]

        ids, raw = stored(tmp_path, "x")
        expected = sorted(t["id"] for t in api.tweets)
        assert sorted(ids) == expected, f"seed {seed}, killed after request {killed_at}"
        assert len(set(ids)) == len(ids) and raw == len(expected)
    finally:
        api.stop()


def test_hn_killed_at_a_random_slice_resumes_without_loss_or_duplicates(tmp_path, now):
    rng = random.Random(7)
    api = FakeAPIs(now, rng)
    campaign = write_campaign(tmp_path / "kill.toml", now)
    try:
        killed_at = kill_at_random_page(tmp_path, api, campaign, "hn", rng, pages=6)
        first = stored(tmp_path, "hn")[0]
        run_to_completion(tmp_path, api, campaign, "hn")
        ids, raw = stored(tmp_path, "hn")
        expected = sorted(h["objectID"] for h in api.hits)
        assert sorted(ids) == expected, f"killed after request {killed_at}"
        assert len(set(ids)) == len(ids) and raw == len(expected)
        assert len(first) < len(expected)
    finally:
        api.stop()
