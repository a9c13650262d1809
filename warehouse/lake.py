"""Export the warehouse as a Hive-partitioned Parquet lake (``hypewatch export``).

Layout (docs/scaling.md, "The Parquet lake", is the reference and a test checks it)::

    <out>/_hypewatch_export.json                                   the manifest
    <out>/<dataset>/campaign=<name>/day=<YYYY-MM-DD>/part-0.parquet  per campaign and UTC day
    <out>/<dataset>/campaign=<name>/part-0.parquet                   datasets without a day

One file per partition. An export rewrites only the partitions whose rows changed since
the last export into ``out`` (the manifest keeps each partition's row count and a hash of
its rows, computed by DuckDB), deletes the partitions that no longer have rows, and leaves
the others alone. A partition is replaced atomically: its file is written under a hidden
temporary name (``.part-0.parquet.tmp-<uuid>``, skipped by DuckDB's ``*.parquet`` globs,
pyarrow, Spark and Trino) in the same folder, then moved over ``part-0.parquet``.

The warehouse is read through :func:`warehouse.read.reading` in short reads (one hash
query per dataset, then the changed partitions in chunks of about ``rows_per_read`` rows),
so writers get in between. ``out`` is a local folder or any URI
:func:`pyarrow.fs.FileSystem.from_uri` opens (``file://``, ``s3://``, ``gs://``,
``hdfs://``).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from warehouse.read import reading

LAYOUT_VERSION = 1
"""Bumped when the files' layout or columns change: a manifest of another version makes the
next export rewrite every partition."""
MANIFEST = "_hypewatch_export.json"
PART = "part-0.parquet"
TMP_MARK = ".tmp-"
COMPRESSION = "zstd"


class ExportError(ValueError):
    """The export cannot run: ``--out`` is not writable, or the campaign is unknown."""


@dataclass(frozen=True)
class Dataset:
    """One dataset of the lake: a query with ``campaign`` (and ``day``) columns first."""

    name: str
    sql: str
    order: tuple[str, ...]  # the columns each file's rows are sorted by
    by_day: bool = True
    rows_per_read: int = 200_000


# The post's campaign and UTC day partition every per-post dataset, so they join partition by
# partition on post_id. All times are UTC (the reading connection's TimeZone is UTC).
_POST = "p.campaign, p.created_at::DATE AS day"
_TOPIC_RUNS = """
    WITH runs AS (  -- each campaign's current topic run, else the current all-posts run
        SELECT c.campaign, coalesce(own.run_id, everyone.run_id) AS run_id
        FROM (SELECT DISTINCT campaign FROM posts) c
        LEFT JOIN current_topic_runs own ON own.campaign = c.campaign
        LEFT JOIN (SELECT run_id FROM current_topic_runs WHERE campaign IS NULL) everyone
            ON true
        WHERE coalesce(own.run_id, everyone.run_id) IS NOT NULL
    )"""

DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "posts", f"SELECT {_POST}, p.* EXCLUDE (campaign) FROM posts p", ("created_at", "post_id")
    ),
    Dataset(
        "authors",
        "SELECT c.campaign, a.* FROM authors a "
        "JOIN (SELECT DISTINCT campaign, author_id FROM posts) c USING (author_id)",
        ("author_id",),
        by_day=False,
    ),
    Dataset(
        "latest_metrics",
        f"SELECT {_POST}, m.* FROM latest_metrics m JOIN posts p USING (post_id)",
        ("post_id",),
    ),
    Dataset(
        "labels",
        f"SELECT {_POST}, l.* FROM labels l JOIN current_models USING (task, model_id) "
        "JOIN posts p USING (post_id)",
        ("post_id", "task"),
    ),
    Dataset(
        "embeddings",
        f"SELECT {_POST}, e.* FROM embeddings e JOIN posts p USING (post_id)",
        ("post_id", "model_id"),
        rows_per_read=50_000,
    ),
    Dataset(
        "post_topics",
        f"{_TOPIC_RUNS} SELECT {_POST}, pt.* FROM post_topics pt JOIN runs r USING (run_id) "
        "JOIN posts p ON p.post_id = pt.post_id AND p.campaign = r.campaign",
        ("post_id",),
    ),
    Dataset(
        "topics",
        f"{_TOPIC_RUNS} SELECT r.campaign, t.* FROM topics t JOIN runs r USING (run_id)",
        ("topic_id",),
        by_day=False,
    ),
    Dataset(
        "spikes",
        "SELECT s.campaign, s.start_hour::DATE AS day, s.* EXCLUDE (campaign) FROM spikes s "
        "WHERE s.campaign IS NOT NULL",
        ("series", "spike_id"),
    ),
    Dataset(
        "trend_indices",
        "SELECT i.campaign, i.hour_utc::DATE AS day, i.* EXCLUDE (campaign) "
        "FROM trend_indices i WHERE i.campaign IS NOT NULL",
        ("hour_utc",),
    ),
)
OPTIONAL = {"embeddings"}
"""Datasets exported only when asked for (``--embeddings``); otherwise left as they are."""

Key = tuple  # (campaign,) or (campaign, day)


@dataclass
class DatasetReport:
    """What one export did to one dataset (for the summary table)."""

    name: str
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    rows: int = 0
    rows_written: int = 0
    bytes_written: int = 0
    seconds: float = 0.0


@dataclass
class ExportReport:
    out: str
    datasets: list[DatasetReport] = field(default_factory=list)
    seconds: float = 0.0


# --- the target filesystem -------------------------------------------------------------


def open_target(out: str | Path) -> tuple[pafs.FileSystem, str]:
    """The filesystem and root path of ``out``; ExportError unless a file can be written."""
    text = str(out)
    try:
        if "://" in text:
            fs, root = pafs.FileSystem.from_uri(text)
        else:
            fs, root = pafs.LocalFileSystem(), str(Path(text).expanduser().absolute())
        root = root.rstrip("/") or "/"
        fs.create_dir(root, recursive=True)
        probe = f"{root}/.hypewatch-probe{TMP_MARK}{uuid.uuid4().hex}"
        with fs.open_output_stream(probe) as stream:
            stream.write(b"ok")
        fs.delete_file(probe)
    except (OSError, pa.ArrowException) as exc:
        raise ExportError(f"cannot write to --out {text}: {_reason(exc)}") from None
    return fs, root


def _reason(exc: BaseException) -> str:
    """The short reason of an OS or Arrow error ("Not a directory"), without the path."""
    text = " ".join(str(exc).split())
    if "Detail:" in text:
        return text.rsplit("Detail:", 1)[1].strip()
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return text or type(exc).__name__


def _partition_dir(dataset: str, key: Key) -> str:
    parts = [dataset, f"campaign={quote(key[0], safe='')}"]  # names are [a-z0-9_-]: as is
    if len(key) > 1:
        parts.append(f"day={key[1].isoformat()}")
    return "/".join(parts)


def _write_parquet(fs: pafs.FileSystem, path: str, table: pa.Table) -> int:
    """Write ``table`` to ``path`` as one Parquet file; returns its size in bytes."""
    with fs.open_output_stream(path) as stream:
        pq.write_table(table, stream, compression=COMPRESSION)
        return stream.tell()


def _replace(fs: pafs.FileSystem, directory: str, table: pa.Table) -> int:
    """Write ``directory/part-0.parquet`` under a hidden name, then move it into place."""
    fs.create_dir(directory, recursive=True)
    tmp = f"{directory}/.{PART}{TMP_MARK}{uuid.uuid4().hex}"
    try:
        size = _write_parquet(fs, tmp, table)
        fs.move(tmp, f"{directory}/{PART}")
    except BaseException:
        with suppress(OSError, pa.ArrowException):  # never written; or the next export
            fs.delete_file(tmp)  # removes it
        raise
    return size


def _is_temporary(path: str) -> bool:
    """A hidden temporary file of ours (``.part-0.parquet.tmp-<uuid>``, ...)."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith(".") and TMP_MARK in name


def _files(fs: pafs.FileSystem, root: str) -> set[str]:
    """Every file under ``root`` (paths relative to it)."""
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    infos = fs.get_file_info(selector)
    return {i.path[len(root) :].lstrip("/") for i in infos if i.type == pafs.FileType.File}


def _load_manifest(fs: pafs.FileSystem, root: str) -> dict[str, dict]:
    """``{"posts/campaign=c/day=d": {"rows", "hash", "bytes"}}`` of the last export."""
    try:
        with fs.open_input_stream(f"{root}/{MANIFEST}") as stream:
            manifest = json.loads(stream.read())
    except (OSError, ValueError, pa.ArrowException):
        return {}
    if manifest.get("layout") != LAYOUT_VERSION:
        return {}
    return manifest.get("partitions", {})


def _save_manifest(fs: pafs.FileSystem, root: str, partitions: dict[str, dict]) -> None:
    body = {
        "layout": LAYOUT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "partitions": dict(sorted(partitions.items())),
    }
    tmp = f"{root}/.{MANIFEST}{TMP_MARK}{uuid.uuid4().hex}"
    with fs.open_output_stream(tmp) as stream:
        stream.write(json.dumps(body, indent=1).encode())
    fs.move(tmp, f"{root}/{MANIFEST}")


# --- reading the warehouse -------------------------------------------------------------


def _check_campaign(db: Path, campaign: str | None) -> None:
    """ExportError unless the warehouse has ``campaign`` (None: every campaign)."""
    if campaign is None:
        return
    with reading(db) as con:
        known = [
            r[0]
            for r in con.execute(
                "SELECT campaign FROM campaigns UNION SELECT DISTINCT campaign FROM posts "
                "ORDER BY 1"
            ).fetchall()
            if r[0] is not None
        ]
    if campaign not in known:
        raise ExportError(
            f"no campaign {campaign!r} in {db} (campaigns: {', '.join(known) or 'none'})"
        )


def _keys(dataset: Dataset) -> str:
    return "campaign, day" if dataset.by_day else "campaign"


def _hashes(db: Path, dataset: Dataset, campaign: str | None) -> dict[Key, tuple[int, str]]:
    """Row count and an order-independent hash of the rows of each partition, in one read."""
    where = "WHERE campaign = $campaign" if campaign is not None else ""
    sql = (
        f"SELECT {_keys(dataset)}, count(*), sum(hash(s))::VARCHAR "
        f"FROM ({dataset.sql}) s {where} GROUP BY ALL"
    )
    with reading(db) as con:
        rows = con.execute(sql, {"campaign": campaign} if campaign else None).fetchall()
    return {tuple(r[:-2]): (r[-2], r[-1]) for r in rows}


def _chunks(keys: list[Key], sizes: dict[Key, int], budget: int) -> Iterator[list[Key]]:
    """Partitions of one campaign at a time, about ``budget`` rows per chunk."""
    chunk: list[Key] = []
    rows = 0
    for key in sorted(keys):
        if chunk and (key[0] != chunk[0][0] or rows + sizes[key] > budget):
            yield chunk
            chunk, rows = [], 0
        chunk.append(key)
        rows += sizes[key]
    if chunk:
        yield chunk


def _read_chunk(db: Path, dataset: Dataset, chunk: list[Key]) -> pa.Table:
    params: dict = {"campaign": chunk[0][0]}
    where = "campaign = $campaign"
    if dataset.by_day:
        where += " AND list_contains($days, day)"
        params["days"] = [key[1] for key in chunk]
    # no ORDER BY: sorting 384-float rows in DuckDB took 5x the read; Arrow sorts each file
    sql = f"SELECT * FROM ({dataset.sql}) WHERE {where}"
    with reading(db) as con:
        return con.sql(sql, params=params).to_arrow_table()


def _for_files(table: pa.Table) -> pa.Table:
    """Timestamps as UTC instants (Parquet ``isAdjustedToUTC``); list items named
    ``element`` (DuckDB names a FLOAT[384]'s item field ``""``)."""
    fields = []
    for f in table.schema:
        if pa.types.is_timestamp(f.type) and f.type.tz is None:
            f = f.with_type(pa.timestamp(f.type.unit, tz="UTC"))
        elif pa.types.is_fixed_size_list(f.type):
            f = f.with_type(pa.list_(pa.field("element", f.type.value_type), f.type.list_size))
        fields.append(f)
    return table.cast(pa.schema(fields))


# --- the export ----------------------------------------------------------------------------


def export_lake(
    db: Path,
    out: str | Path,
    *,
    campaign: str | None = None,
    embeddings: bool = False,
) -> ExportReport:
    """Export (or bring up to date) the Parquet lake at ``out`` from the warehouse ``db``.

    ``campaign``: only that campaign's partitions are compared, written and removed (the
    others stay as the last export left them). ``embeddings``: also the ``embeddings``
    dataset (left as it is otherwise). ExportError when ``out`` cannot be written (also
    midway: the partitions written until then are whole, the next export goes on).
    """
    start = time.monotonic()
    db = Path(db)
    fs, root = open_target(out)
    _check_campaign(db, campaign)
    report = ExportReport(out=str(out))
    try:
        manifest = _load_manifest(fs, root)
        present = _files(fs, root)
        for leftover in (p for p in present if _is_temporary(p)):
            fs.delete_file(f"{root}/{leftover}")  # left by a killed export
        for dataset in DATASETS:
            if dataset.name in OPTIONAL and not embeddings:
                continue
            report.datasets.append(
                _export_dataset(db, fs, root, dataset, campaign, manifest, present)
            )
    except (OSError, pa.ArrowException) as exc:
        raise ExportError(
            f"writing to --out {out} failed: {_reason(exc)} (the partitions written until then "
            "are whole; export again to finish)"
        ) from None
    report.seconds = time.monotonic() - start
    return report


def _export_dataset(
    db: Path,
    fs: pafs.FileSystem,
    root: str,
    dataset: Dataset,
    campaign: str | None,
    manifest: dict[str, dict],
    present: set[str],
) -> DatasetReport:
    start = time.monotonic()
    result = DatasetReport(dataset.name)
    hashes = _hashes(db, dataset, campaign)
    result.rows = sum(rows for rows, _ in hashes.values())
    changed = []
    for key, (_, digest) in hashes.items():
        name = _partition_dir(dataset.name, key)
        entry = manifest.get(name, {})
        if entry.get("hash") == digest and f"{name}/{PART}" in present:
            result.unchanged += 1
        else:
            changed.append(key)
    sizes = {key: rows for key, (rows, _) in hashes.items()}
    for chunk in _chunks(changed, sizes, dataset.rows_per_read):
        table = _read_chunk(db, dataset, chunk)  # the warehouse is released from here on
        for key in chunk:
            part = table
            if dataset.by_day:
                part = table.filter(pc.equal(table["day"], pa.scalar(key[1], pa.date32())))
            part = part.sort_by([(c, "ascending") for c in dataset.order])
            part = _for_files(
                part.drop_columns([c for c in ("campaign", "day") if c in part.column_names])
            )
            name = _partition_dir(dataset.name, key)
            size = _replace(fs, f"{root}/{name}", part)
            manifest[name] = {"rows": part.num_rows, "hash": hashes[key][1], "bytes": size}
            result.written += 1
            result.rows_written += part.num_rows
            result.bytes_written += size
        _save_manifest(fs, root, manifest)
    wanted = {_partition_dir(dataset.name, key) for key in hashes}
    prefix = _partition_dir(dataset.name, (campaign,)) if campaign else dataset.name
    for name in [n for n in manifest if n.startswith(prefix + "/") or n == prefix]:
        if name in wanted:
            continue
        if fs.get_file_info(f"{root}/{name}").type != pafs.FileType.NotFound:
            fs.delete_dir(f"{root}/{name}")  # its rows are gone from the warehouse
        del manifest[name]
        result.removed += 1
    if result.removed:
        _save_manifest(fs, root, manifest)
    result.seconds = time.monotonic() - start
    return result
