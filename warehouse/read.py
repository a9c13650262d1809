"""The read side: short-lived, read-only, sandboxed connections that never starve writers.

DuckDB lets one process hold a warehouse read-write, or several hold it read-only, never
both: while a writer has the file open, opening it read-only fails with a lock error, and
while any reader has it open, a writer cannot open it. So:

- readers (:func:`reading`) take a connection for one query function and give it back;
  while a writer holds the file they retry with capped exponential backoff and jitter, for
  at most :data:`LOCK_WAIT_S` seconds, then raise :class:`WarehouseBusy` (a clear message,
  never DuckDB's lock error);
- writers (:func:`connect_writer`) open per batch, write one short transaction and close;
  they announce themselves first (a ``<db>.write-intent`` file), so readers in every process
  hold back new reads and release the file, and the writer gets in within one query's time.

Within one process (the dashboard serves many sessions from threads), readers share one
DuckDB instance: the first opener configures it (UTC, external access disabled,
configuration locked); it stays open :data:`LINGER_S` seconds after the last reader left, so
a page's queries find the cache warm, and closes at once when a writer announces itself.
See docs/dashboard.md.

Analysts' own SQL (the SQL page, ``hypewatch sql``) does not run here but in
:mod:`warehouse.sandbox`'s worker processes, which read through :func:`reading` too.
"""

from __future__ import annotations

import atexit
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from warehouse.db import WarehouseError, _check_not_newer, code_version, schema_version

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")

LOCK_WAIT_S = 15.0
"""Longest time a reader waits for writers before giving up with :class:`WarehouseBusy`."""
WRITER_WAIT_S = 180.0
"""Longest time a writer waits for readers: longer than the longest SQL query the page
allows (120 s), so a long read delays an import but never makes it fail."""
READER_TURN_S = 0.2
"""How long a writer holds back before reopening when a reader is waiting (readers retry
every :data:`_READER_MAX_DELAY_S` at most while locked out, so they get in)."""
_READER_MAX_DELAY_S = 0.05
NOTICE_AFTER_S = 1.0
"""A wait longer than this is said (``waiting``): the user sees what the command waits for."""
_FIRST_DELAY_S = 0.005
_MAX_DELAY_S = 0.25
INTENT_TTL_S = 2.0
"""A writer's announcement (``<db>.write-intent`` touched) counts for this long."""

_CONFIG = {"access_mode": "READ_ONLY", "enable_external_access": "false"}


class WarehouseBusy(WarehouseError):
    """A writer kept the warehouse locked for longer than the reader was willing to wait."""


def is_lock_error(exc: BaseException | None) -> bool:
    """True for DuckDB's "the file is held the other way" errors (another process's lock, or
    this process's own connection with another configuration) and write-write conflicts,
    also when wrapped (``warehouse.db.connect`` raises them as ``WarehouseError``)."""
    while exc is not None:
        text = str(exc)
        if isinstance(exc, duckdb.IOException) and (
            "Could not set lock" in text or "Conflicting lock" in text
        ):
            return True
        if isinstance(exc, duckdb.TransactionException) and "Conflict" in text:
            return True
        if isinstance(exc, duckdb.ConnectionException) and "different configuration" in text:
            return True  # this process itself holds the file the other way round
        exc = exc.__cause__
    return False


def lock_holder(exc: BaseException | None) -> str:
    """Who holds the file, from DuckDB's lock error: "process 123 (python3.11)"."""
    while exc is not None:
        if match := re.search(r"held in (\S+) \(PID (\d+)\)", str(exc)):
            return f"process {match[2]} ({Path(match[1]).name})"
        exc = exc.__cause__
    return "another process"


def retry_on_lock(
    action: Callable[[], T],
    *,
    timeout_s: float = LOCK_WAIT_S,
    max_delay_s: float = _MAX_DELAY_S,
    writer: bool = False,
    waiting: Callable[[str], None] | None = None,
    on_locked: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``action``, retrying with capped exponential backoff + jitter on lock errors.

    Gives up after ``timeout_s`` seconds with :class:`WarehouseBusy`, which says who held
    the file (never DuckDB's own lock text). Other errors propagate at once. Writers
    (``writer=True``) use it too, to open the warehouse while readers finish. ``waiting``
    is called once, with a sentence to show, when the wait passes :data:`NOTICE_AFTER_S`;
    ``on_locked`` after each lock error (readers announce themselves with it).
    """
    start = clock()
    deadline = start + timeout_s
    delay = _FIRST_DELAY_S
    noticed = waiting is None
    while True:
        try:
            return action()
        except Exception as exc:
            if not is_lock_error(exc):
                raise
            if on_locked is not None:
                on_locked()
            holder = lock_holder(exc)
            if clock() >= deadline:
                raise WarehouseBusy(
                    f"{holder} kept the warehouse open for more than {timeout_s:.3g} s "
                    + (
                        "(a reader, e.g. a long SQL query, or another writer)"
                        if writer
                        else "while writing (writers open it per batch and close it; see "
                        "docs/dashboard.md)"
                    )
                ) from exc
            if not noticed and clock() - start >= NOTICE_AFTER_S:
                noticed = True
                what = "reading or writing" if writer else "writing"
                waiting(  # type: ignore[misc]
                    f"waiting for {holder}, which is {what} the warehouse (up to {timeout_s:g} s)"
                )
        sleep(min(delay * random.uniform(0.5, 1.5), max(0.0, deadline - clock())))
        delay = min(delay * 2, max_delay_s)


LINGER_S = 10.0
"""How long the file stays open after the last read, for the next one to find the cache
warm; a writer's announcement (:func:`connect_writer`) closes it at once."""
_POLL_S = 0.02


class _Instance:
    """The one shared read-only DuckDB instance of a file in this process: a root
    connection, the readers using cursors of it, and a closer thread while idle."""

    def __init__(self, path: Path, config: dict[str, str]) -> None:
        self.path = path
        self.config = config
        self.lock = threading.Lock()
        self.root: duckdb.DuckDBPyConnection | None = None
        self.users = 0
        self.idle_since = 0.0
        self.closer: threading.Thread | None = None

    def acquire(self) -> duckdb.DuckDBPyConnection:
        with self.lock:
            if self.root is None:  # a lock error on opening is retried by the caller
                self.root = _open(self.path, self.config)
            self.users += 1
            return self.root.cursor()

    def release(self, con: duckdb.DuckDBPyConnection) -> None:
        with self.lock:
            con.close()
            self.users -= 1
            if self.users:
                return
            self.idle_since = time.monotonic()
            if self.closer is None or not self.closer.is_alive():
                self.closer = threading.Thread(target=self._close_when_idle, daemon=True)
                self.closer.start()

    def _close_when_idle(self) -> None:
        while True:
            time.sleep(_POLL_S)
            with self.lock:
                if self.root is None:
                    return
                idle = time.monotonic() - self.idle_since
                if not self.users and (idle >= LINGER_S or _writer_waiting(self.path)):
                    self.root.close()
                    self.root = None
                    return

    def close_now(self) -> None:
        """Close the file if no reader is using it (tests; shutting down)."""
        with self.lock:
            if self.root is not None and not self.users:
                self.root.close()
                self.root = None


_instances: dict[tuple[str, Any], _Instance] = {}
_instances_lock = threading.Lock()


def _instance(path: Path, settings: dict[str, str] | None = None) -> _Instance:
    config = {**_CONFIG, **(settings or {})}
    key = (str(path.resolve()), tuple(sorted(config.items())))
    with _instances_lock:
        if key not in _instances:
            _instances[key] = _Instance(path, config)
        return _instances[key]


def release_all(path: Path | str | None = None) -> None:
    """Close every idle lingering instance of this process now (of ``path`` only, if given)."""
    key = None if path is None else str(Path(path).resolve())
    with _instances_lock:
        instances = [i for (p, _), i in _instances.items() if key is None or p == key]
    for inst in instances:
        inst.close_now()


atexit.register(release_all)


def _open(path: Path, config: dict[str, str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), config=config)
    try:
        version = schema_version(con)
        _check_not_newer(version, path)
        if version < code_version():
            raise WarehouseError(
                f"{path} has schema version {version}, this hypewatch needs "
                f"{code_version()}: run any writing command (e.g. `hypewatch status "
                "--migrate`) to upgrade it"
            )
        con.execute("SET GLOBAL TimeZone = 'UTC'")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def reading(
    path: Path | str, *, timeout_s: float = LOCK_WAIT_S, settings: dict[str, str] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only, sandboxed connection for the duration of a ``with`` block.

    ``settings`` are extra DuckDB options for the instance (e.g. the SQL sandbox's
    ``memory_limit``); one process should use one set per file (DuckDB refuses a second
    instance of a file with another configuration).

    Waits (up to ``timeout_s``) while a writer announced itself or holds the file. Keep the
    block short: query, fetch, leave. The file stays open for :data:`LINGER_S` after the
    last reader leaves, unless a writer announces itself.
    """
    path = Path(path)
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}: run `hypewatch demo` or `hypewatch import`")
    inst = _instance(path, settings)
    deadline = time.monotonic() + timeout_s
    while _writer_waiting(path) and time.monotonic() < deadline:
        time.sleep(0.01)  # let the announced writer in first: readers never starve it
    con = retry_on_lock(
        inst.acquire,
        timeout_s=max(0.0, deadline - time.monotonic()),
        max_delay_s=_READER_MAX_DELAY_S,
        on_locked=lambda: _announce(_read_intent_file(path)),
    )
    try:
        yield con
    finally:
        inst.release(con)


def query_df(path: Path | str, sql: str, params: list | dict | None = None) -> pd.DataFrame:
    """Run one parameterized query on a short-lived read-only connection."""
    with reading(path) as con:
        return con.execute(sql, params).df()


def last_write(path: Path | str) -> datetime | None:
    """The warehouse's last-write marker (``max(written_at)`` of ``write_marks``)."""
    with reading(path) as con:
        return con.execute("SELECT max(written_at) FROM write_marks").fetchone()[0]


# --- for writers ----------------------------------------------------------------------


def _intent_file(path: Path) -> Path:
    return path.with_name(path.name + ".write-intent")


def _read_intent_file(path: Path) -> Path:
    return path.with_name(path.name + ".read-intent")


def _fresh(intent: Path) -> bool:
    try:
        return time.time() - intent.stat().st_mtime < INTENT_TTL_S
    except OSError:
        return False


def _writer_waiting(path: Path) -> bool:
    return _fresh(_intent_file(path))


def reader_waiting(path: Path | str) -> bool:
    """Whether a reader found the file locked in the last :data:`INTENT_TTL_S` seconds."""
    return _fresh(_read_intent_file(Path(path)))


def _announce(intent: Path) -> None:
    """Touch an intent file (at most every 0.1 s: a waiting reader retries often)."""
    with suppress(OSError):
        if time.time() - intent.stat().st_mtime < 0.1:
            return
    with suppress(OSError):  # a read-only folder: the writer then does not see the reader
        intent.touch()


def connect_writer(
    path: Path | str,
    *,
    timeout_s: float = WRITER_WAIT_S,
    waiting: Callable[[str], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-write (``warehouse.db.connect``) without starving or being
    starved by readers: announce the intent (readers in every process then hold back new
    opens), retry while readers finish, withdraw the announcement once open. ``waiting``
    hears, once, what a wait longer than :data:`NOTICE_AFTER_S` is for.

    Writers open per batch with this, write in one short transaction, and close.
    """
    from warehouse.db import connect

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    intent = _intent_file(path)

    def attempt() -> duckdb.DuckDBPyConnection:
        intent.touch()
        release_all(path)  # this process's own idle readers let go at once
        return connect(path)

    if reader_waiting(path):  # a reader found the file locked by our last batch: its turn
        _read_intent_file(path).unlink(missing_ok=True)
        time.sleep(READER_TURN_S)

    try:
        return retry_on_lock(
            attempt, timeout_s=timeout_s, max_delay_s=0.05, writer=True, waiting=waiting
        )
    finally:
        intent.unlink(missing_ok=True)


class ShortWrites:
    """Short write transactions for a long-running writer such as a collector or an import.

    ``with writes.open() as con:`` opens the warehouse read-write (:func:`connect_writer`)
    for one write and closes it after, so the dashboard's readers get the file back while
    the writer waits on the network or a rate limit. Built on a connection instead of a
    path (tests, one-shot commands), it lends that connection and never closes it.

    ``hold=True`` (imports: batch after batch, no waits between) keeps the file open from
    one write to the next for as long as no reader is waiting (:func:`reader_waiting`),
    so closing (a checkpoint each time) is paid only when a reader wants in; call
    :meth:`release` when done. ``on_open`` runs on each new connection (e.g. settings).
    """

    def __init__(
        self,
        target: duckdb.DuckDBPyConnection | Path | str,
        *,
        hold: bool = False,
        waiting: Callable[[str], None] | None = None,
        on_open: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    ) -> None:
        if isinstance(target, duckdb.DuckDBPyConnection):
            self.path, self.connection = None, target
        else:
            self.path, self.connection = Path(target), None
        self.hold = hold
        self.waiting = waiting
        self.on_open = on_open
        self.opened = 0
        self._held: duckdb.DuckDBPyConnection | None = None

    @classmethod
    def of(cls, target: ShortWrites | duckdb.DuckDBPyConnection | Path | str) -> ShortWrites:
        return target if isinstance(target, ShortWrites) else cls(target)

    @contextmanager
    def open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.connection is not None:
            yield self.connection
            return
        assert self.path is not None
        con, self._held = self._held, None
        if con is None:
            con = connect_writer(self.path, waiting=self.waiting)
            self.opened += 1
            try:
                if self.on_open is not None:
                    self.on_open(con)
            except BaseException:
                con.close()
                raise
        keep = False
        try:
            yield con
            keep = self.hold and not reader_waiting(self.path)
        finally:
            if keep:
                self._held = con
            else:
                con.close()

    def release(self) -> None:
        """Close a connection kept by ``hold`` (a no-op otherwise)."""
        con, self._held = self._held, None
        if con is not None:
            con.close()


@dataclass
class Relation:
    name: str
    kind: str  # "table" or "view"
    columns: list[tuple[str, str]]  # (name, type)


def describe_relations(con: duckdb.DuckDBPyConnection) -> dict[str, Relation]:
    """The warehouse's live tables and views with their columns (the SQL page's schema)."""
    out = {
        name: Relation(name, "view" if kind == "VIEW" else "table", [])
        for name, kind in con.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY table_name"
        ).fetchall()
    }
    for table, column, dtype in con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall():
        if table in out:
            out[table].columns.append((column, dtype))
    return out


def relation_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table or view of that name exists (``information_schema``)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()[0]
    )
