"""Cached loaders: every page reads the warehouse through :func:`load`.

Results are cached per (warehouse, last-write marker, query, arguments). The marker is
``max(written_at)`` of ``write_marks``, itself read at most every :data:`MARKER_TTL_S`
seconds: new data shows up within seconds of a write without a restart, and unchanged data
is never queried twice. Each cache miss opens the warehouse read-only for the length of
one query function and closes it (see :mod:`warehouse.read`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard import queries, trend_queries
from dashboard.server import DB_ENV
from warehouse.read import Relation, WarehouseBusy, describe_relations, last_write, reading
from warehouse.sandbox import SqlResult, run_user_sql

MARKER_TTL_S = 2.0

_last_markers: dict[str, str] = {}
_markers_lock = threading.Lock()


def db_path() -> Path:
    """The warehouse this dashboard shows (set by ``dashboard.server.serve``)."""
    if value := os.environ.get(DB_ENV):
        return Path(value)
    from hypewatch.settings import get_settings

    return get_settings().db


@st.cache_data(ttl=MARKER_TTL_S, show_spinner=False)
def _marker(path: str) -> str:
    return str(last_write(path))


def marker(path: Path | None = None) -> str:
    """The warehouse's last-write marker; while a writer holds it, the last one known."""
    key = str(path or db_path())
    try:
        value = _marker(key)
    except WarehouseBusy:
        with _markers_lock:
            if key in _last_markers:
                return _last_markers[key]
        raise
    with _markers_lock:
        _last_markers[key] = value
    return value


QUERY_MODULES = (queries, trend_queries)
"""Where :func:`load` looks a query up, in this order."""


def query(name: str) -> Any:
    """The query function ``name`` of :data:`QUERY_MODULES`."""
    for module in QUERY_MODULES:
        function = getattr(module, name, None)
        if callable(function) and not name.startswith("_"):
            return function
    modules = ", ".join(m.__name__ for m in QUERY_MODULES)
    raise ValueError(f"no query named {name!r} in {modules}")


@st.cache_data(max_entries=512, show_spinner=False)
def _load(path: str, marker: str, name: str, args: tuple, kwargs: tuple) -> Any:
    with reading(path) as con:
        return query(name)(con, *args, **dict(kwargs))


def load(name: str, *args: Any, **kwargs: Any) -> Any:
    """``<name>(con, *args, **kwargs)`` from :mod:`dashboard.queries` or
    :mod:`dashboard.trend_queries`, cached on the last-write marker."""
    query(name)  # an unknown name fails here, before the cache
    path = db_path()
    return _load(str(path), marker(path), name, args, tuple(sorted(kwargs.items())))


def run_sql(sql: str, max_rows: int, timeout_s: float) -> SqlResult:
    """The SQL page's query, in the SQL sandbox (never cached: an analyst re-running a query
    means it). Memory, result size and worker count come from ``HYPEWATCH_SQL_*``."""
    from hypewatch.settings import get_settings

    limits = get_settings().sql_limits()
    return run_user_sql(db_path(), sql, max_rows=max_rows, timeout_s=timeout_s, limits=limits)


def schema() -> dict[str, Relation]:
    """Live relations and their column types."""
    path = db_path()
    return _schema(str(path), marker(path))


@st.cache_data(max_entries=8, show_spinner=False)
def _schema(path: str, marker: str) -> dict[str, Relation]:
    with reading(path) as con:
        return describe_relations(con)


__all__ = ["WarehouseBusy", "db_path", "load", "marker", "run_sql", "schema"]
