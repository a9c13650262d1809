"""What the command modules share: the consoles, the error wrapper, the common options and
how a stage's warnings are shown.

:mod:`hypewatch.cli` and every ``cli_*`` module import this at module level; it imports
no command module (the work itself is in :mod:`hypewatch.stages`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import duckdb
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hypewatch import stages
from hypewatch.stages import USER_ERRORS

# Piped output (files, tests) is not folded at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

INTERRUPTED_EXIT = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn the errors a user can fix into one clear line on stderr and exit status 1, and
    Ctrl-C into one line and exit status 130 (what was committed before stays stored)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print(
                "interrupted (Ctrl-C): what was committed before is stored; an unfinished "
                "run is marked 'interrupted'",
                highlight=False,
            )
            raise typer.Exit(INTERRUPTED_EXIT) from None

    return wrapper  # type: ignore[return-value]


friendly = friendly_errors
"""The name the command modules used before they could import :func:`friendly_errors`."""

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Warehouse file (default: $HYPEWATCH_DB or data/hypewatch.duckdb)"),
]
CampaignOption = Annotated[
    str | None, typer.Option("--campaign", help="Campaign name or .toml path")
]


def warn(warnings: Iterable[str]) -> None:
    """A stage's warnings, one line each on stderr."""
    for warning in warnings:
        err.print(f"warning: {warning}", highlight=False, markup=False)


def progress_bar() -> Progress:
    """A transient progress bar on stderr (shown on a terminal only)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def close_writer(con: duckdb.DuckDBPyConnection, *, full_refresh: bool = False) -> None:
    """:func:`hypewatch.stages.close_writer` (refresh the dashboard's aggregates, close),
    with its warning shown."""
    warn(filter(None, [stages.close_writer(con, full_refresh=full_refresh)]))
