"""``hypewatch dashboard``: serve the Streamlit dashboard over a warehouse.

Registered in ``hypewatch/cli.py`` with ``app.command("dashboard")(dashboard_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hypewatch.cli_common import friendly_errors
from hypewatch.settings import get_settings
from hypewatch.stages import db_path


@friendly_errors
def dashboard_command(
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", help="Warehouse file (default: $HYPEWATCH_DB or data/hypewatch.duckdb)"
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Address to bind (default: $HYPEWATCH_DASHBOARD_HOST or 127.0.0.1; IPv6 as ::1 "
            "or [::1]); any other than loopback needs HYPEWATCH_DASHBOARD_PASSWORD or the OIDC "
            "login settings",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", min=1, max=65535, help="Port (default: $HYPEWATCH_DASHBOARD_PORT or 8501)"
        ),
    ] = None,
) -> None:
    """Open the dashboard (Overview, Sentiment, Topics, Copyright debate, Share of voice,
    Posts, SQL) over a warehouse, at http://HOST:PORT."""
    from dashboard.server import serve
    from warehouse.read import reading, release_all

    settings = get_settings()
    path = db_path(db)
    with reading(path):  # a clear error now if it is missing, or too old / too new
        pass
    release_all()
    serve(path, host=host or settings.dashboard_host, port=port or settings.dashboard_port)
