"""``hypewatch export``: the warehouse as a Hive-partitioned Parquet lake.

Registered in :mod:`hypewatch.cli` with ``app.command("export")(export_command)``. The
export logic is :mod:`warehouse.lake`; the layout is documented in docs/scaling.md ("The
Parquet lake").
"""

from __future__ import annotations

from typing import Annotated

import typer

from hypewatch.cli_common import DbOption, friendly
from hypewatch.cli_common import out as console


@friendly
def export_command(
    out: Annotated[
        str,
        typer.Option("--out", help="Folder or URI of the lake (file://, s3://, gs://, hdfs://)"),
    ],
    fmt: Annotated[str, typer.Option("--format", help="Only parquet")] = "parquet",
    campaign: Annotated[
        str | None,
        typer.Option("--campaign", help="Export only this campaign (default: every campaign)"),
    ] = None,
    embeddings: Annotated[
        bool,
        typer.Option("--embeddings", help="Also export the embeddings (384 floats per post)"),
    ] = False,
    db: DbOption = None,
) -> None:
    """Export posts, authors, latest metrics, current labels, topics, spikes and indices
    (and embeddings with --embeddings) as Parquet partitioned by campaign and UTC day.
    A later export rewrites only the partitions that changed, each one atomically."""
    from rich.table import Table

    from hypewatch.stages import db_path, load_campaign_named
    from warehouse.lake import export_lake

    if fmt != "parquet":
        raise ValueError(f"unknown --format {fmt!r}: only parquet")
    if campaign is not None and campaign.endswith(".toml"):
        campaign = load_campaign_named(campaign).name
    report = export_lake(db_path(db), out, campaign=campaign, embeddings=embeddings)
    table = Table(title=f"Parquet lake at {report.out}", title_justify="left")
    for column in ("dataset", "written", "unchanged", "removed", "rows", "MB written", "s"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for d in report.datasets:
        table.add_row(
            d.name,
            str(d.written),
            str(d.unchanged),
            str(d.removed),
            f"{d.rows:,}",
            f"{d.bytes_written / 1e6:.1f}",
            f"{d.seconds:.1f}",
        )
    console.print(table)
    console.print(
        f"{sum(d.written for d in report.datasets)} partitions written, "
        f"{sum(d.unchanged for d in report.datasets)} unchanged, "
        f"{sum(d.removed for d in report.datasets)} removed in {report.seconds:.1f} s",
        highlight=False,
    )
