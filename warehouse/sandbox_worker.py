"""The SQL sandbox's worker process: runs analysts' queries under hard limits.

Started by :class:`warehouse.sandbox.Sandbox` as ``python -m warehouse.sandbox_worker``; it
talks over its stdin/stdout in length-prefixed pickle frames (:func:`send` / :func:`receive`),
one request, one answer. What makes it a sandbox:

- it reads through :func:`warehouse.read.reading` (read-only, external access off,
  configuration locked) with ``temp_directory`` empty, so nothing spills to disk and no
  folder beside the warehouse (``<db>.tmp/``) can be read or written, plus DuckDB's
  ``memory_limit`` and ``threads``;
- once warm, it caps its own address space (``RLIMIT_AS``) at what it uses idle plus the
  memory limit: allocations DuckDB or Arrow make outside DuckDB's buffer manager fail too;
- a timer interrupts the query at the deadline; the parent kills the process if that does
  not end it (calls DuckDB cannot interrupt) — see :mod:`warehouse.sandbox`;
- it streams the result and stops at the row limit or the byte limit;
- it exits when its parent goes (stdin closes) or after :data:`IDLE_EXIT_S` unused.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import pyarrow as pa

from warehouse.read import reading

IDLE_EXIT_S = 300.0
"""A worker nobody used for this long exits (the next query starts a new one)."""
ROWS_PER_BATCH = 256
"""Small: a batch is converted to Arrow whole, and rows may be long strings."""

_HEADER = struct.Struct("!Q")


def send(stream: BinaryIO, message: Any) -> None:
    """Write one frame: 8-byte length, then the pickled message."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream: BinaryIO) -> Any:
    """Read one frame; ``EOFError`` when the other side has gone."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the other side closed the pipe")
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return pickle.loads(data)


def duckdb_settings(memory_mb: int, threads: int) -> dict[str, str]:
    """The DuckDB options of a sandbox instance (on top of :func:`warehouse.read.reading`'s)."""
    return {
        # the rest of the budget: Arrow, strings, the result (DuckDB's own share at 1/2
        # made joins over a million posts 30% slower: fewer hash-table partitions in memory)
        "memory_limit": f"{max(memory_mb * 3 // 4, 32)}MB",
        "threads": str(threads),
        "temp_directory": "",  # no spilling: the memory limit holds, and no <db>.tmp/ access
    }


def _status(field: str) -> int | None:
    """A size from ``/proc/self/status`` in bytes (``VmSize``, ``VmHWM``: peak RSS); None
    where there is no ``/proc`` (macOS: then only DuckDB's own memory limit holds)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def _run(request: dict, settings: dict[str, str]) -> dict:
    """One query: ``{"ok": Arrow IPC bytes, "truncated": None|"rows"|"bytes"}`` or
    ``{"error": kind, "message": one line}``."""
    max_rows, max_bytes = request["max_rows"], request["max_bytes"]
    with reading(request["path"], settings=settings) as con:
        timer = threading.Timer(request["timeout_s"], con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            relation = con.sql(request["sql"])  # streams: the limits stop the query early
            if relation is None:
                return {"ok": None, "truncated": None}
            reader = relation.to_arrow_reader(ROWS_PER_BATCH)
            batches: list[pa.RecordBatch] = []
            rows = size = 0
            truncated = None
            for batch in reader:
                if rows + batch.num_rows > max_rows:
                    batch, truncated = batch.slice(0, max_rows - rows), "rows"
                if size + batch.nbytes > max_bytes:
                    per_row = max(batch.nbytes / max(batch.num_rows, 1), 1)
                    keep = max(int((max_bytes - size) / per_row), 0)
                    batch, truncated = batch.slice(0, keep), "bytes"
                batches.append(batch)
                rows += batch.num_rows
                size += batch.nbytes
                if truncated:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema)
        finally:
            timer.cancel()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return {"ok": sink.getvalue().to_pybytes(), "truncated": truncated}


def _answer(request: dict, settings: dict[str, str]) -> dict:
    try:
        return _run(request, settings)
    except duckdb.InterruptException:
        return {"error": "time", "message": ""}
    except (duckdb.OutOfMemoryException, MemoryError):
        return {"error": "memory", "message": ""}
    except Exception as exc:  # e.g. WarehouseBusy, a missing file: said as they are
        if isinstance(exc, pa.ArrowMemoryError) or "Out of Memory Error" in str(exc):
            return {"error": "memory", "message": ""}  # DuckDB's, through Arrow's reader
        return {"error": type(exc).__name__, "message": str(exc)}


def main() -> None:
    """Serve requests until stdin closes or the worker idles too long."""
    requests, answers = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints must not corrupt the frames
    hello = receive(requests)
    settings = duckdb_settings(hello["memory_mb"], hello["threads"])
    # Warm up on an in-memory database (the library loaded, its threads started once)
    # rather than on the warehouse: opening the file here and again for the first query
    # would wait twice for a writer between its batches.
    warm = duckdb.connect(":memory:", config=settings)
    warm.execute("SELECT 1").fetchall()
    warm.close()
    budget = hello["memory_mb"] * 2**20
    size = _status("VmSize")
    limit = None if size is None else size + budget
    if limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    send(answers, {"ready": os.getpid(), "peak_rss": _status("VmHWM")})
    while True:
        ready, _, _ = select.select([requests], [], [], IDLE_EXIT_S)
        if not ready:
            return
        try:
            request = receive(requests)
        except EOFError:
            return
        start = time.perf_counter()
        answer = _answer({**request, "path": hello["path"]}, settings)
        answer["seconds"] = time.perf_counter() - start
        answer["peak_rss"] = _status("VmHWM")
        # After a failed allocation, or once memory kept from earlier queries (caches,
        # fragments) has used half the budget, a fresh worker serves the next query.
        size = _status("VmSize")
        answer["retire"] = answer.get("error") == "memory" or (
            limit is not None and size is not None and limit - size < budget // 2
        )
        send(answers, answer)
        if answer["retire"]:
            return


if __name__ == "__main__":
    main()
