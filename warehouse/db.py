"""Opening the warehouse: one DuckDB file, schema migrations applied on open.

DuckDB lets one process hold a read-write connection, or several processes hold read-only
ones, never both. Writers call :func:`connect` (through ``warehouse.read.connect_writer``);
readers use ``warehouse.read.reading``, which opens the file read-only with external access
disabled, so a query cannot read or write files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class WarehouseError(Exception):
    """A problem with the warehouse file that the user must act on (message says what)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The forward migrations shipped with this code, in order (``NNNN_name.sql``)."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", path.name)
        if not match:
            raise WarehouseError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise WarehouseError(f"migrations must be numbered 1..n without gaps, got {versions}")
    return found


def code_version() -> int:
    """The schema version this code writes."""
    return len(migrations())


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open warehouse (0 for an empty file)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]


def _check_not_newer(version: int, path: Path | str) -> None:
    if version > code_version():
        raise WarehouseError(
            f"{path} has schema version {version} but this hypewatch only knows up to "
            f"{code_version()}: upgrade hypewatch (the file was left untouched)"
        )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The block as one transaction: committed at its end; on any exception, Ctrl-C
    included, rolled back (views registered in it are dropped too) and re-raised.

    A statement interrupted by Ctrl-C (in the thread that received it) aborts the
    transaction itself; the ROLLBACK is then skipped, so it cannot hide the interrupt.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        with suppress(duckdb.TransactionException):
            con.execute("ROLLBACK")
        raise


def migrate(con: duckdb.DuckDBPyConnection, path: Path | str = "warehouse") -> list[int]:
    """Apply the migrations this warehouse lacks, each in its own transaction."""
    version = schema_version(con)
    _check_not_newer(version, path)
    applied = []
    for migration in migrations()[version:]:
        try:
            with transaction(con):
                if migration.version == 1:
                    con.execute(
                        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                        "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
                    )
                con.execute(migration.sql)
                con.execute(
                    "INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)",
                    [migration.version, migration.name],
                )
        except Exception as exc:
            raise WarehouseError(
                f"migration {migration.version:04d}_{migration.name} failed: {exc}"
            ) from exc
        applied.append(migration.version)
    return applied


def _configure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET TimeZone = 'UTC'")


def connect(path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse read-write and bring its schema up to date."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        raise WarehouseError(f"cannot open {path} for writing: {exc}") from exc
    except duckdb.Error as exc:
        raise WarehouseError(f"{path} is not a DuckDB warehouse: {exc}") from exc
    _configure(con)
    try:
        migrate(con, path)
        _close_interrupted_runs(con)
    except Exception:
        con.close()
        raise
    return con


def _close_interrupted_runs(con: duckdb.DuckDBPyConnection) -> None:
    """Runs left ``running`` by a process that is gone become ``interrupted`` (see
    :func:`warehouse.writes.mark_interrupted_runs`), so every writing command closes them."""
    from warehouse.writes import mark_interrupted_runs

    with suppress(duckdb.TransactionException):  # another connection of ours got there first
        mark_interrupted_runs(con)
