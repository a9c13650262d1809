"""Parsing and preparing big imports in worker processes; the caller only writes to DuckDB.

On a small machine one Python thread cannot parse payloads and build Arrow tables as fast
as DuckDB writes them. :class:`ParsePool` runs that work in worker processes: the caller
sends chunks of payloads (serialised to JSON, or JSON lines straight from a file) and gets
back :class:`~warehouse.writes.PreparedBatch` objects (Arrow tables), in the order sent,
to pass to :func:`~warehouse.writes.write_batch`.

Workers are started with ``forkserver`` (``spawn`` where that is missing), never ``fork``:
the parent holds DuckDB's threads, and a forked child of a multi-threaded process can
deadlock. They ignore Ctrl-C: the parent stops handing out chunks, waits for the ones
running (a second each at most) and shuts the workers down, so none is left behind. A
parent killed outright (SIGKILL, the OOM killer) takes its workers and the fork server
with it within moments (see :func:`_init_worker`).

The pool pays only for big imports (starting workers costs about a second, and each chunk
is serialised once more): :data:`POOL_MIN_POSTS` is where :func:`pool_pays` says yes.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import types
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import orjson

from ingest.files import Line
from ingest.model import ParseResult, Reject
from ingest.parsers import get_format
from warehouse.writes import PreparedBatch, prepare_batch

POOL_MIN_POSTS = 20_000
"""Imports expected to hold fewer posts than this are parsed in-process."""

CHUNK_BYTES = 16_000_000
"""JSON bytes of payloads per chunk sent to a worker (one chunk = one written batch)."""

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True, slots=True)
class AsIs:
    """A payload that is not plain JSON (orjson cannot serialise it): pickled as it is."""

    payload: Any


def encode(payload: Any) -> tuple[Any, int]:
    """A payload as sent to a worker, and its size in bytes (roughly, for chunking)."""
    if isinstance(payload, Reject | Line):
        return payload, len(payload.text) if isinstance(payload, Line) else 100
    try:
        text = orjson.dumps(payload)
    except TypeError:  # rare: not plain JSON, e.g. a non-string key; send the object itself
        return AsIs(payload), 1_000
    return text, len(text)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector during a bulk load.

    Parsing keeps hundreds of thousands of new objects alive per batch (payload dicts,
    posts, Arrow inputs), and every collection of the oldest generation re-scans all of
    them: with the collector on, parsing took about twice as long (see bench/ingest.py).
    Parsed objects hold no reference cycles, so reference counting frees them; the
    collector is restored (and runs as usual) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@gc_paused()
def parse_chunk(
    fmt: str,
    mapping: Mapping[str, str] | None,
    campaign: str | None,
    collected_at: datetime,
    items: Sequence[Any],
) -> PreparedBatch:
    """In a worker: decode and parse one chunk, then build its Arrow tables.

    Python's cyclic collector is paused meanwhile, as in-process (:func:`gc_paused`).
    """
    parse = get_format(fmt).parse
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    result = ParseResult()
    for item in items:
        if type(item) is bytes:
            payload = loads(item)  # encoded by ``encode``: always valid JSON
        elif isinstance(item, Line):
            try:
                payload = loads(item.text)
            except decode_error as exc:
                text = item.text[:10_000].decode(errors="replace").rstrip("\n")
                reason = f"{item.file} line {item.number}: invalid JSON: {exc}"
                result.rejects.append(Reject(fmt, reason, text))
                continue
            if fmt == "jsonl" and isinstance(payload, list):  # generic rows as one array
                for row in payload:
                    result.extend(parse(row, mapping))
                continue
        elif isinstance(item, Reject):
            result.rejects.append(item)
            continue
        else:
            payload = item.payload  # AsIs
        result.extend(parse(payload, mapping))
    return prepare_batch(result, campaign=campaign, collected_at=collected_at)


def _init_worker() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (see the module docstring), and
    the worker dies with the importer, even one killed with SIGKILL (the OOM killer).

    With ``forkserver`` the worker's parent is the fork server, not the importer. The
    server leaves when the pipe that the importer holds open reaches EOF, but every child
    inherits a copy of that pipe's write end (for starting processes of its own, which a
    worker never does), so the server and its workers kept each other alive once the
    importer was gone. The worker closes its copy; then the importer's death ends the
    server, and the kernel kills the worker when its parent ends (``PR_SET_PDEATHSIG``,
    Linux). A watcher thread covers the rest (no prctl, or ``spawn``, where the parent is
    a thread of the importer): it ends the worker once the importer's end of the startup
    pipe closes. Checked by tests/test_interrupted_runs.py.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    importer = multiprocessing.parent_process()
    if importer is None:  # not in a worker
        return
    from multiprocessing import forkserver

    server = forkserver._forkserver
    alive_fd = getattr(server, "_forkserver_alive_fd", None)  # set in the server's children
    if alive_fd is not None:  # our parent is the server, alive as long as we hold alive_fd
        parent = os.getppid()
        _kill_me_when_parent_dies()
        os.close(alive_fd)
        server._forkserver_alive_fd = None
    else:  # spawn: our parent is the importer
        parent = importer.pid
    if os.getppid() != parent or not importer.is_alive():  # it died before prctl took effect
        os._exit(1)
    threading.Thread(
        target=_exit_when_gone, args=(importer,), name="hypewatch-parent-watch", daemon=True
    ).start()


def _kill_me_when_parent_dies() -> bool:
    """Ask Linux to SIGKILL this process when its parent ends; False where unsupported.

    The signal follows the parent *thread* that forked this process, so it is only asked
    where that parent is the single-threaded fork server, never a thread of the importer.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _exit_when_gone(importer: multiprocessing.process.BaseProcess) -> None:
    """Watcher thread in a worker: leave at once when the importer has ended."""
    importer.join()  # returns when the importer's end of the startup pipe is closed
    os._exit(1)


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":  # workers fork from a server with these loaded
        ctx.set_forkserver_preload(["hypewatch.parse_pool"])
    return ctx


class WorkerDied(RuntimeError):
    """A parse worker process ended without returning its chunk."""


@contextmanager
def _without_main_module() -> Iterator[None]:
    """Start workers without re-running the parent's ``__main__``.

    spawn and forkserver children import the parent's main script by path before they
    work. They need only this module, and the main script may not be importable twice (a
    Streamlit app run in-process, a REPL, a test runner), so processes started inside
    this block see an empty ``__main__``. Workers start synchronously in ``submit``.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class ParsePool:
    """Worker processes that turn chunks of payloads into prepared batches.

    Use as a context manager; one pool can serve several imports (the demo's formats).
    """

    def __init__(self, workers: int | None = None, chunk_bytes: int = CHUNK_BYTES) -> None:
        if chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be at least 1, not {chunk_bytes}")
        self.workers = workers or max(2, min(4, os.cpu_count() or 2))
        self.chunk_bytes = chunk_bytes
        with _without_main_module():
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=_context(), initializer=_init_worker
            )
            for _ in range(self.workers):  # start them now: they get ready in the background
                self._executor.submit(os.getpid)

    def submit(
        self,
        fmt: str,
        mapping: Mapping[str, str] | None,
        campaign: str | None,
        collected_at: datetime,
        items: list[Any],
    ) -> Future[PreparedBatch]:
        """Queue one chunk (items from :func:`encode`); its future gives the batch."""
        return self._executor.submit(parse_chunk, fmt, mapping, campaign, collected_at, items)

    def pids(self) -> list[int]:
        """The worker processes' ids (started lazily, so empty before the first chunk)."""
        return [p.pid for p in (self._executor._processes or {}).values() if p.pid]

    def close(self) -> None:
        """Stop the workers: queued chunks are dropped, running ones finish first."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def pool_pays(expected_posts: int) -> bool:
    """Whether an import of about ``expected_posts`` posts is worth a :class:`ParsePool`."""
    return expected_posts >= POOL_MIN_POSTS
