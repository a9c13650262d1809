"""What the command modules share: the error wrapper and the ``--db`` option.

:mod:`hypewatch.cli` imports the command modules, so they cannot import it at module level;
:func:`friendly` looks ``hypewatch.cli.friendly_errors`` up when the command runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Warehouse file (default: $HYPEWATCH_DB or data/hypewatch.duckdb)"),
]


def friendly(func: F) -> F:
    """``hypewatch.cli.friendly_errors``, looked up when the command runs."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from hypewatch.cli import friendly_errors

        return friendly_errors(func)(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
