"""Starting the dashboard: ``streamlit run dashboard/app.py`` in a subprocess.

The warehouse path and the authentication mode travel to the app in environment variables;
every Streamlit option the dashboard relies on is passed on the command line (headless, no
usage statistics, no file watcher, the address and port), so the working directory (and
its ``.env``) stays the caller's.
"""

from __future__ import annotations

import importlib.util
import os
import signal
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
    ``host`` unless a password or an OIDC login is configured.
    """
    from hypewatch.settings import get_settings

    settings = get_settings()
    mode = auth_mode(host, settings)
    if mode == "oidc" and importlib.util.find_spec("authlib") is None:
        raise ValueError("the OIDC login needs Authlib: pip install 'streamlit[auth]'")
    env = {**os.environ, DB_ENV: str(Path(db_path).resolve()), AUTH_ENV: mode}
    with _oidc_secrets(oidc_config(settings) if mode == "oidc" else None) as secrets:
        command = streamlit_command(host, port, open_browser=open_browser, secrets_file=secrets)
        print(f"hypewatch dashboard: http://{host}:{port}  (Ctrl-C to stop)", flush=True)
        _run(command, env)


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
