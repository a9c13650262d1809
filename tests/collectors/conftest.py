"""Fixtures of the collector tests: settings, a fake clock, a warehouse, a campaign, and
a guard that refuses any connection outside 127.0.0.1 (the tests never use the network)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hypewatch.campaigns import Campaign
from hypewatch.settings import Settings
from warehouse.db import connect

NOW = datetime(2025, 3, 27, 12, 0, tzinfo=UTC)
"""The fake clock's start: inside the campaign window below."""


class FakeClock:
    """``clock()`` and ``sleep()`` for collectors: sleeping advances time, instantly."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start.timestamp()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "collect_retry_attempts": 3,
        "collect_max_wait_s": 120.0,
        "collect_backoff_max_s": 4.0,
        "collect_http_timeout_s": 5.0,
        "jetstream_url": "ws://127.0.0.1:9/subscribe",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def con():
    con = connect(":memory:")
    yield con
    con.close()


def make_campaign(**queries: Any) -> Campaign:
    return Campaign(
        name="test-launch",
        title="Test launch",
        start=NOW - timedelta(days=3),
        end=NOW + timedelta(days=2),
        queries=queries,
    )


def rows(con, sql: str, *params: Any) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def post_ids(con, platform: str) -> list[str]:
    return [r[0] for r in rows(con, "SELECT native_id FROM posts WHERE platform = ?", platform)]


def runs(con, source: str) -> list[tuple]:
    """(query, status, requests, fetched, new, cursor_after, error) of each run, in order."""
    return rows(
        con,
        "SELECT query, status, requests, fetched, new, cursor_after, error "
        "FROM collection_runs WHERE source = ? ORDER BY run_id",
        source,
    )


_LOCAL = ("127.0.0.1", "localhost", "::1")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach a host other than 127.0.0.1 fails the test loudly."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in _LOCAL and self.family != socket.AF_UNIX:
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (*_LOCAL, None):
            raise AssertionError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
