"""Shared helpers of the dashboard tests: small warehouses built once per test session.

The labels and embeddings added here are FAKE (derived from the simulator's truth) and
exist only in these temporary test warehouses, so the pages have something to show before
the real classifier lands.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from hypewatch.campaigns import find_campaign
from hypewatch.pipeline import build_demo
from hypewatch.settings import get_settings
from warehouse.aggregates import refresh_aggregates
from warehouse.db import connect
from warehouse.writes import mark_write

CAMPAIGN = "gpt4o-image-launch"
SIZE = 3_000
DIM = 384

_built: dict[tuple, Path] = {}
_root = Path(tempfile.mkdtemp(prefix="hypewatch-dashboard-tests-"))
atexit.register(shutil.rmtree, _root, ignore_errors=True)


def add_fake_labels(con: duckdb.DuckDBPyConnection) -> None:
    """FAKE sentiment and copyright labels: the simulator's truth, 15% flipped."""
    for task, labels in (
        ("sentiment", "['negative', 'neutral', 'positive']"),
        ("copyright", "['concern', 'none']"),
    ):
        n = 3 if task == "sentiment" else 2
        con.execute(
            f"""
            INSERT INTO labels
            SELECT post_id, '{task}',
                   CASE WHEN hash(post_id || '{task}') % 100 < 85 THEN {task}
                        ELSE ({labels})[1 + CAST(hash(post_id) % {n} AS BIGINT)] END,
                   0.5 + (hash(post_id || 'p') % 50) / 100.0, NULL, 'fake-{task}@test',
                   now()::TIMESTAMP
            FROM simulated_truth
            """
        )
    mark_write(con, "analyze", 1)


def add_fake_embeddings(con: duckdb.DuckDBPyConnection) -> None:
    """FAKE unit embeddings: a random centroid per storyline plus noise."""
    truth = con.sql("SELECT post_id, storyline FROM simulated_truth ORDER BY post_id")
    table = truth.to_arrow_table()
    stories = sorted(set(table["storyline"].to_pylist()))
    rng = np.random.default_rng(3)
    centroids = rng.standard_normal((len(stories), DIM)).astype(np.float32)
    rows = np.array([stories.index(s) for s in table["storyline"].to_pylist()])
    vecs = centroids[rows] + rng.standard_normal((len(rows), DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    emb = pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel(), type=pa.float32()), DIM)
    con.register("_emb", pa.table({"post_id": table["post_id"], "embedding": emb}))
    con.execute(
        "INSERT INTO embeddings SELECT post_id, 'fake-encoder@test', embedding, "
        "now()::TIMESTAMP FROM _emb"
    )
    con.unregister("_emb")


def warehouse(
    *, labels: bool = True, embeddings: bool = True, refresh: bool = True, size: int = SIZE
) -> Path:
    """A read-only-use warehouse, built once per session for these options: do not write."""
    key = (labels, embeddings, refresh, size)
    if key not in _built:
        path = _root / f"w-{len(_built)}.duckdb"
        con = connect(path)
        try:
            campaign = find_campaign(CAMPAIGN, get_settings().campaigns_dir)
            build_demo(con, campaign, size=size, seed=42)
            if labels:
                add_fake_labels(con)
            if embeddings:
                add_fake_embeddings(con)
            if refresh:
                refresh_aggregates(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        _built[key] = path
    return _built[key]


def copy_of(path: Path, into: Path) -> Path:
    """A private copy of a built warehouse, for tests that write."""
    target = into / path.name
    shutil.copy(path, target)
    return target
