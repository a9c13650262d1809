"""``hypewatch dashboard --host``: IPv6 loopback is served (``[::1]`` as ``::1``); an address
or port the server cannot listen on, or a server that stops with an error, ends the command
with one line and a non-zero exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dashboard import server
from dashboard.auth import is_loopback
from hypewatch.cli import app
from hypewatch.settings import get_settings
from tests.test_cli_interrupt import ctrl_c_delivered
from warehouse.db import connect


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "w.duckdb"
    connect(path).close()
    monkeypatch.delenv("HYPEWATCH_DASHBOARD_PASSWORD", raising=False)
    get_settings.cache_clear()
    return path


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The Streamlit command lines started (none really is)."""
    commands: list[list[str]] = []

    def run(command: list[str], env: dict[str, str]) -> int:
        commands.append(command)
        return 0

    monkeypatch.setattr(server, "_run", run)
    return commands


def dashboard(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["dashboard", "--db", str(db), *args])
    return result.exit_code, result.stderr


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_host_with_unbalanced_brackets_is_refused(db: Path, started: list) -> None:
    assert is_loopback("[::1]") and is_loopback("::1")
    assert not is_loopback("[::1") and not is_loopback("::1]")
    for host in ("[::1", "::1]", "[localhost]"):
        code, stderr = dashboard(db, "--host", host)
        assert code == 1
        assert "[::1]" in one_error_line(stderr)
    assert not started


def test_a_port_in_use_is_refused(db: Path, started: list) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, stderr = dashboard(db, "--host", "127.0.0.1", "--port", str(port))
    assert code == 1
    assert f"127.0.0.1:{port}" in one_error_line(stderr) and "in use" in stderr
    assert not started


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def test_a_server_that_stops_with_an_error_fails_the_command(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = [sys.executable, "-c", "import sys; sys.exit(3)"]  # as Streamlit on a bad start
    monkeypatch.setattr(server, "streamlit_command", lambda *args, **kwargs: failing)
    code, stderr = dashboard(db, "--port", str(free_port()))
    assert code == 1
    assert "exit status 3" in one_error_line(stderr)


def ipv6_loopback() -> bool:
    try:
        free_port("::1")
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine cannot bind the IPv6 loopback ::1")
def test_the_ipv6_loopback_in_brackets_is_served(db: Path, tmp_path: Path) -> None:
    port = free_port("::1")
    exe = Path(sys.executable).with_name("hypewatch")
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "dashboard", "--db", str(db), "--host", "[::1]", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "HYPEWATCH_DASHBOARD_PASSWORD"},
            preexec_fn=ctrl_c_delivered,
        )
    try:
        deadline, health = time.monotonic() + 90, b""
        while time.monotonic() < deadline and proc.poll() is None and health != b"ok":
            try:
                url = f"http://[::1]:{port}/_stcore/health"
                with urllib.request.urlopen(url, timeout=2) as response:
                    health = response.read().strip()
            except OSError:
                time.sleep(0.3)
        assert health == b"ok", f"exit {proc.poll()}:\n{log.read_text()[-3000:]}"
        assert f"http://[::1]:{port}" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
