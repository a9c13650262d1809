"""Starting the dashboard: ``streamlit run dashboard/app.py`` in a subprocess.

The warehouse path and the authentication mode travel to the app in environment variables;
every Streamlit option the dashboard relies on is passed on the command line (headless, no
usage statistics, no file watcher, the address and port), so the working directory (and
its ``.env``) stays the caller's.

An address or port the server cannot listen on is found before Streamlit starts, and a
server that stops with an error ends the command with an error too (:class:`ServerError`).
"""

from __future__ import annotations

import errno
import importlib.util
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from dashboard.auth import AUTH_ENV, auth_mode, is_loopback, oidc_config

APP = Path(__file__).resolve().parent / "app.py"
DB_ENV = "HYPEWATCH_DASHBOARD_DB"
"""The warehouse the app shows (set by :func:`serve`)."""


class ServerError(ValueError):
    """The dashboard cannot be served at the address and port asked for, or its server
    stopped with an error. A ``ValueError``, like :class:`dashboard.auth.UnsafeBinding`, so
    the command line prints it as one line and exits 1."""


def bind_address(host: str) -> str:
    """``host`` as the server binds it: an IPv6 address loses its URL brackets
    (``[::1]`` -> ``::1``; Streamlit would look ``[::1]`` up as a host name)."""
    text = host.strip()
    if text.startswith("[") or text.endswith("]"):
        inner = text[1:-1] if text.startswith("[") and text.endswith("]") else ""
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise ServerError(
                f"dashboard host {host!r} is not an address: brackets hold an IPv6 address, "
                "as in [::1]"
            ) from None
        return inner
    return text


def url_host(host: str) -> str:
    """``host`` as written in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


def _check_listen(host: str, port: int) -> None:
    """Fail now, in one line, where the server could not listen (Streamlit would print a
    traceback): an unknown host, an address not on this machine, a port in use.

    The socket is made as Streamlit makes its own (family by the address, SO_REUSEADDR).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    where = f"{url_host(host)}:{port}"
    try:
        with socket.socket(family) as sock:
            if os.name != "nt":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OverflowError:
        raise ServerError(f"cannot serve the dashboard on {where}: no such port") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is in use (pick another with --port)"
        raise ServerError(f"cannot serve the dashboard on {where}: {reason}") from None


def streamlit_command(
    host: str, port: int, *, open_browser: bool = False, secrets_file: Path | None = None
) -> list[str]:
    """The ``streamlit run`` command line for the dashboard."""
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "false" if open_browser else "true",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        "--client.showErrorDetails", "full" if is_loopback(host) else "none",
    ]  # fmt: skip
    if secrets_file is not None:
        command += ["--secrets.files", str(secrets_file)]
    return command


@contextmanager
def _oidc_secrets(config: dict[str, str] | None) -> Iterator[Path | None]:
    """A private ``secrets.toml`` holding the ``[auth]`` section, removed afterwards."""
    if config is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="hypewatch-dashboard-") as tmp:
        path = Path(tmp) / "secrets.toml"
        lines = ["[auth]", *(f"{key} = {_toml(value)}" for key, value in config.items())]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        yield path


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serve(
    db_path: Path, host: str = "127.0.0.1", port: int = 8501, open_browser: bool = False
) -> None:
    """Serve the dashboard over ``db_path`` until interrupted (Ctrl-C).

    Refuses (:class:`dashboard.auth.UnsafeBinding`, a ``ValueError``) to bind a non-loopback
    ``host`` unless a password or an OIDC login is configured. ``host`` may be an IPv6
    address in brackets (``[::1]``). Raises :class:`ServerError` where the server cannot
    listen, or when it stops with an error.
    """
    from hypewatch.settings import get_settings

    settings = get_settings()
    host = bind_address(host)
    mode = auth_mode(host, settings)
    if mode == "oidc" and importlib.util.find_spec("authlib") is None:
        raise ValueError("the OIDC login needs Authlib: pip install 'streamlit[auth]'")
    _check_listen(host, port)
    env = {**os.environ, DB_ENV: str(Path(db_path).resolve()), AUTH_ENV: mode}
    with _oidc_secrets(oidc_config(settings) if mode == "oidc" else None) as secrets:
        command = streamlit_command(host, port, open_browser=open_browser, secrets_file=secrets)
        print(f"hypewatch dashboard: http://{url_host(host)}:{port}  (Ctrl-C to stop)", flush=True)
        code = _run(command, env)
    if code not in (None, 0, 130):  # 130: stopped with Ctrl-C
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        raise ServerError(f"the dashboard server stopped with {how} (its messages are above)")


def _run(command: list[str], env: dict[str, str]) -> int:
    """Run the server until it exits or this process is interrupted or terminated; the
    server never outlives this process."""
    proc = subprocess.Popen(command, env=env)
    previous = None
    with suppress(ValueError):  # not the main thread: no handler, Ctrl-C still works
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with suppress(KeyboardInterrupt):
            return proc.wait()
        return 130
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
