"""The SQL sandbox: analysts' own queries (the SQL page, ``hypewatch sql``) under hard limits.

One statement of an allowed kind (:func:`check_statement`) runs in a worker process
(:mod:`warehouse.sandbox_worker`) that reads the warehouse read-only, with file access off,
no spilling to disk, and these limits (:class:`SandboxLimits`, set from
``HYPEWATCH_SQL_*``, see docs/dashboard.md):

- **rows** and **bytes** of the result: the query streams and stops there (the result says
  it was cut, and by which);
- **time**: the worker interrupts the query at the deadline; if it does not stop within
  :data:`KILL_GRACE_S` (one call DuckDB cannot interrupt), the process is killed;
- **memory**: DuckDB's ``memory_limit`` (3/4 of it) plus an address-space cap on the
  whole process, so memory outside DuckDB's buffer manager (Arrow, long strings) is
  bounded too.

Every outcome is a :class:`SqlResult` or a one-line :class:`QueryRefused` naming the limit.
A process (the dashboard) keeps up to ``workers`` warm workers per warehouse and reuses
them; a killed or crashed worker is replaced on the next query.
"""

from __future__ import annotations

import atexit
import io
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from warehouse.sandbox_worker import receive, send

if TYPE_CHECKING:
    import pandas as pd

KILL_GRACE_S = 1.0
"""How long past its deadline a worker may take to stop before it is killed."""
START_TIMEOUT_S = 60.0
"""Longest wait for a new worker to open the warehouse (it waits for writers too)."""


@dataclass(frozen=True)
class SandboxLimits:
    """What one query may use. Defaults match ``HYPEWATCH_SQL_*`` (hypewatch/settings.py)."""

    max_rows: int = 10_000
    max_bytes: int = 64 * 2**20
    timeout_s: float = 10.0
    memory_mb: int = 2048
    threads: int = 2
    workers: int = 2
    """Queries that may run at once per warehouse (one worker process each)."""

    def __post_init__(self) -> None:
        for name in ("max_rows", "max_bytes", "memory_mb", "threads", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"the SQL sandbox's {name} must be at least 1")
        if self.timeout_s <= 0:
            raise ValueError("the SQL sandbox's time limit must be positive")
        if self.memory_mb < 128:
            raise ValueError("the SQL sandbox's memory limit must be at least 128 MB")


class QueryRefused(Exception):
    """A statement the sandbox does not run, or a limit that stopped it; the message says
    which, in one line."""

    peak_rss: int | None = None
    """The worker's peak resident memory in bytes, when a worker ran the query."""


@dataclass
class SqlResult:
    table: pa.Table
    truncated: bool
    """The result had more rows than ``table`` holds (see ``limit``)."""
    seconds: float
    limit: str | None = None
    """What cut the result: ``"rows"``, ``"bytes"`` or None."""
    peak_rss: int | None = None
    """The worker process's peak resident memory so far, in bytes."""

    @property
    def frame(self) -> pd.DataFrame:
        return self.table.to_pandas()

    @property
    def rows(self) -> list[tuple]:
        """The rows as Python values (None for NULL)."""
        columns = [column.to_pylist() for column in self.table.columns]
        return list(zip(*columns, strict=True))


# --- what may run -----------------------------------------------------------------------

ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_READ_ONLY = "the SQL sandbox is read-only"
_REFUSALS = {
    "INSERT": f"writes are refused: {_READ_ONLY}",
    "UPDATE": f"writes are refused: {_READ_ONLY}",
    "DELETE": f"writes are refused: {_READ_ONLY}",
    "CREATE": f"creating tables, views, macros or secrets is refused: {_READ_ONLY}",
    "DROP": f"dropping is refused: {_READ_ONLY}",
    "ALTER": f"altering is refused: {_READ_ONLY}",
    "COPY": "COPY is refused: the SQL sandbox cannot read or write files",
    "EXPORT": "EXPORT DATABASE is refused: the SQL sandbox cannot write files",
    "ATTACH": "ATTACH is refused: the SQL sandbox reads this warehouse only",
    "DETACH": "DETACH is refused: the SQL sandbox reads this warehouse only",
    "LOAD": "INSTALL and LOAD are refused: extensions cannot be installed or loaded",
    "SET": "changing settings is refused (SET, RESET, PRAGMA ... = and USE)",
    "VARIABLE_SET": "changing settings is refused (SET VARIABLE)",
    "PRAGMA": "PRAGMA statements are refused: use SELECT (e.g. SHOW TABLES, DESCRIBE t)",
    "TRANSACTION": "transactions are refused: each query runs on its own",
    "CALL": "CALL is refused: use SELECT * FROM function(...)",
    "VACUUM": f"VACUUM and ANALYZE are refused: {_READ_ONLY}",
    "PREPARE": "PREPARE/EXECUTE are refused: write the query itself",
    "EXECUTE": "PREPARE/EXECUTE are refused: write the query itself",
}


def _first_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _one_statement(sql: str) -> duckdb.Statement:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(_first_line(exc)) from None
    if not statements:
        raise QueryRefused("no SQL statement to run")
    if len(statements) > 1:
        raise QueryRefused(f"one statement at a time ({len(statements)} given)")
    return statements[0]


def _refuse_kind(kind: duckdb.StatementType) -> QueryRefused:
    name = kind.name
    return QueryRefused(_REFUSALS.get(name, f"{name} statements are refused: SELECT only"))


def _explained(sql: str) -> str:
    """The statement an ``EXPLAIN [ANALYZE] [(options)]`` wraps, as text."""
    found = duckdb.tokenize(sql)
    ends = [pos for pos, _ in found[1:]] + [len(sql)]
    tokens = [
        (pos, sql[pos:end].strip())
        for (pos, kind), end in zip(found, ends, strict=True)
        if kind != duckdb.token_type.comment
    ]
    i = 1  # tokens[0] is EXPLAIN
    if i < len(tokens) and tokens[i][1].upper() in {"ANALYZE", "ANALYSE"}:
        i += 1
    if i < len(tokens) and tokens[i][1].startswith("("):  # EXPLAIN (FORMAT json, ...) ...
        depth = 0
        while i < len(tokens):
            depth += tokens[i][1].count("(") - tokens[i][1].count(")")
            i += 1
            if depth <= 0:
                break
    return sql[tokens[i][0] :] if i < len(tokens) else ""


def check_statement(sql: str) -> None:
    """Refuse anything but one ``SELECT`` (incl. ``WITH``/``SHOW``/``DESCRIBE``/``SUMMARIZE``)
    or an ``EXPLAIN [ANALYZE]`` of one: ``EXPLAIN ANALYZE`` runs what it wraps, so the
    wrapped statement is checked like any other."""
    statement = _one_statement(sql)
    if statement.type not in ALLOWED:
        raise _refuse_kind(statement.type)
    if statement.type == duckdb.StatementType.EXPLAIN:
        inner = _one_statement(_explained(sql))
        if inner.type != duckdb.StatementType.SELECT:
            raise QueryRefused(
                f"EXPLAIN is allowed around a SELECT only: {_first_line(_refuse_kind(inner.type))}"
            )


# --- the worker processes ---------------------------------------------------------------


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, path: Path, limits: SandboxLimits) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
            "MALLOC_ARENA_MAX": "2",  # fewer 64 MB arena reservations under the address cap
            "ARROW_DEFAULT_MEMORY_POOL": "system",  # freed buffers go back to the system
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "warehouse.sandbox_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # Ctrl-C in a terminal goes to the parent only
        )
        self.limits = limits
        assert self.process.stdin and self.process.stdout
        self.requests, self.answers = self.process.stdin, self.process.stdout
        hello = {"path": str(path), "memory_mb": limits.memory_mb, "threads": limits.threads}
        answer = self.call(hello, START_TIMEOUT_S)
        if answer is None or "ready" not in answer:
            self.kill()
            raise QueryRefused(
                _first_line(answer["message"])
                if answer
                else "the SQL sandbox could not start a worker process"
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, message: dict, timeout_s: float) -> dict | None:
        """Send ``message``, wait up to ``timeout_s`` for the answer; None if the worker
        died or missed the deadline (it is then killed)."""
        try:
            send(self.requests, message)
        except (BrokenPipeError, OSError):
            self.kill()
            return None
        box: list[dict] = []
        reader = threading.Thread(target=self._read_into, args=(box,), daemon=True)
        reader.start()
        reader.join(timeout_s)
        if reader.is_alive() or not box:
            self.kill()
            reader.join(5)
            return None
        return box[0]

    def _read_into(self, box: list[dict]) -> None:
        with suppress(EOFError, OSError, ValueError):
            box.append(receive(self.answers))

    def kill(self) -> None:
        if self.alive():
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for stream in (self.requests, self.answers):
            with suppress(OSError):
                stream.close()


class Sandbox:
    """Up to ``limits.workers`` worker processes for one warehouse, reused across queries."""

    def __init__(self, path: Path | str, limits: SandboxLimits) -> None:
        self.path = Path(path)
        self.limits = limits
        self._idle: list[_Worker] = []
        self._count = 0
        self._cond = threading.Condition()

    def _take(self, wait_s: float) -> _Worker:
        deadline = time.monotonic() + wait_s
        with self._cond:
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    worker.kill()
                    self._count -= 1
                if self._count < self.limits.workers:
                    self._count += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise QueryRefused(
                        f"busy: {self.limits.workers} queries are already running in the SQL "
                        "sandbox (HYPEWATCH_SQL_WORKERS); try again in a moment"
                    )
                self._cond.wait(left)
        try:
            return _Worker(self.path, self.limits)
        except BaseException:
            self._give_back(None)
            raise

    def _give_back(self, worker: _Worker | None) -> None:
        with self._cond:
            if worker is not None and worker.alive():
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify()

    def run(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None
    ) -> SqlResult:
        """Run one checked statement under the limits (``max_rows``/``timeout_s`` may lower
        or raise the defaults for this query)."""
        check_statement(sql)
        rows = max_rows or self.limits.max_rows
        seconds = timeout_s or self.limits.timeout_s
        start = time.perf_counter()
        worker = self._take(seconds)
        request = {
            "sql": sql,
            "max_rows": rows,
            "max_bytes": self.limits.max_bytes,
            "timeout_s": seconds,
        }
        try:
            answer = worker.call(request, seconds + KILL_GRACE_S)
            if answer is None or answer.get("retire"):
                worker.kill()  # it ends itself after a failed allocation, or when worn
        finally:
            self._give_back(worker)
        if answer is None:
            code = worker.process.returncode
            if code == -signal.SIGKILL and time.perf_counter() - start >= seconds:
                raise QueryRefused(self._said("time", "", seconds))
            raise QueryRefused(
                f"stopped: the query's worker process ended (exit status {code}), most "
                f"likely over the memory limit of {self.limits.memory_mb:,} MB"
            )
        if "error" in answer:
            refused = QueryRefused(self._said(answer["error"], answer["message"], seconds))
            refused.peak_rss = answer.get("peak_rss")
            raise refused
        return SqlResult(
            _table(answer["ok"]),
            answer["truncated"] is not None,
            time.perf_counter() - start,
            answer["truncated"],
            answer.get("peak_rss"),
        )

    def _said(self, kind: str, message: str, seconds: float) -> str:
        limits = self.limits
        if kind == "time":
            return f"stopped: the query ran longer than the time limit of {seconds:g} s"
        if kind == "memory":
            return (
                f"stopped: the query needed more than the memory limit of "
                f"{limits.memory_mb:,} MB (HYPEWATCH_SQL_MEMORY_MB)"
            )
        text = _first_line(message)
        if kind == "PermissionException":
            return f"refused: the SQL sandbox cannot read or write files ({text})"
        if "read-only mode" in text:
            return f"refused: {_READ_ONLY} ({text})"
        if "configuration has been locked" in text:
            return f"refused: settings cannot be changed ({text})"
        return text

    def close(self) -> None:
        """Stop the idle workers (a running query's worker stops when it is given back)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.kill()


def _table(ipc: bytes | None) -> pa.Table:
    if ipc is None:  # a statement without a result
        return pa.table({})
    return pa.ipc.open_stream(io.BytesIO(ipc)).read_all()


_sandboxes: dict[tuple[str, SandboxLimits], Sandbox] = {}
_sandboxes_lock = threading.Lock()


def sandbox_for(path: Path | str, limits: SandboxLimits | None = None) -> Sandbox:
    """This process's sandbox for a warehouse (created on first use)."""
    limits = limits or SandboxLimits()
    key = (str(Path(path).resolve()), limits)
    with _sandboxes_lock:
        if key not in _sandboxes:
            _sandboxes[key] = Sandbox(path, limits)
        return _sandboxes[key]


def run_user_sql(
    path: Path | str,
    sql: str,
    *,
    max_rows: int | None = None,
    timeout_s: float | None = None,
    limits: SandboxLimits | None = None,
) -> SqlResult:
    """Run an analyst's query in the sandbox; :class:`QueryRefused` says why it did not."""
    path = Path(path)
    if not path.exists():
        from warehouse.db import WarehouseError

        raise WarehouseError(f"no warehouse at {path}: run `hypewatch demo` or `hypewatch import`")
    return sandbox_for(path, limits).run(sql, max_rows=max_rows, timeout_s=timeout_s)


@atexit.register
def close_all() -> None:
    """Stop every idle worker of this process."""
    with _sandboxes_lock:
        boxes = list(_sandboxes.values())
    for box in boxes:
        box.close()
