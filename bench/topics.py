"""Topic modelling at scale: fit time, assignment throughput and peak memory.

    python bench/topics.py [--sizes 20000,100000,1000000] [--reduction umap|pca]

For each size it builds a warehouse of synthetic posts (texts drawn from 40 topic
vocabularies, embeddings = topic centroid + noise, unit length), then, in a fresh process,
fits BERTopic on the bounded sample (``TopicSettings.fit_sample``, 50,000) and assigns every
other post to the nearest centroid in batches. Peak memory is that process's peak resident
set size (Python, numpy, UMAP and DuckDB together; DuckDB runs within
``TopicSettings.duckdb_memory``, 1GB). Prints one table; all figures come from one run,
side by side (these machines are noisy). About 7 minutes on 2 shared cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from analysis.topics import (  # noqa: E402
    DIM,
    TopicSettings,
    assign_run,
    embedding_model,
    fit_run,
)
from warehouse.db import connect  # noqa: E402

TOPICS = 40
WORDS_PER_TOPIC = 25
CHUNK = 100_000
MODEL = "synthetic@bench"


def build(db: Path, size: int, seed: int = 11) -> None:
    """A warehouse of ``size`` synthetic posts with embeddings, written in chunks."""
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((TOPICS, DIM)).astype(np.float32)
    vocab = np.array([f"t{t}w{w}" for t in range(TOPICS) for w in range(WORDS_PER_TOPIC)])
    shared = np.array(["image", "model", "launch", "people", "today", "new", "style", "art"])
    con = connect(db)
    con.execute("SELECT 1").fetchall()
    for start in range(0, size, CHUNK):
        n = min(CHUNK, size - start)
        topic = rng.integers(0, TOPICS, n)
        words = vocab[topic[:, None] * WORDS_PER_TOPIC + rng.integers(0, WORDS_PER_TOPIC, (n, 6))]
        extra = shared[rng.integers(0, len(shared), (n, 2))]
        texts = [" ".join(w) for w in np.concatenate([words, extra], axis=1)]
        emb = centroids[topic] + 1.1 * rng.standard_normal((n, DIM)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        ids = [f"x:{start + i}" for i in range(n)]
        table = pa.table(
            {
                "post_id": ids,
                "text": texts,
                "minute": pa.array(start + np.arange(n), pa.int64()),
                "embedding": pa.FixedSizeListArray.from_arrays(
                    pa.array(emb.ravel(), pa.float32()), DIM
                ),
            }
        )
        con.register("_chunk", table)
        con.execute(
            "INSERT INTO posts (post_id, platform, native_id, campaign, author_id, created_at, "
            "collected_at, text) SELECT post_id, 'x', post_id[3:], 'bench', NULL, "
            "TIMESTAMP '2025-03-20' + to_minutes(minute // 10), now()::TIMESTAMP, text "
            "FROM _chunk"
        )
        con.execute(
            f"INSERT INTO embeddings SELECT post_id, '{MODEL}', embedding, now()::TIMESTAMP "
            "FROM _chunk"
        )
        con.unregister("_chunk")
    con.execute("CHECKPOINT")
    con.close()


def run(db: Path, settings: TopicSettings) -> dict[str, float]:
    """Fit + assign in this process; returns the figures (peak RSS included)."""
    con = connect(db)
    model_id = embedding_model(con, "bench")
    start = time.perf_counter()
    run_id = fit_run(con, "bench", model_id, settings)
    fit_s = time.perf_counter() - start
    fit_posts, topics = con.execute(
        "SELECT fit_posts, topics FROM topic_runs WHERE run_id = ?", [run_id]
    ).fetchall()[0]
    start = time.perf_counter()
    assigned = assign_run(con, run_id, settings)
    assign_s = time.perf_counter() - start
    outliers = con.execute(
        "SELECT avg((topic_id = -1)::INTEGER) FROM post_topics WHERE run_id = ?", [run_id]
    ).fetchall()[0][0]
    con.close()
    return {
        "fit_posts": fit_posts,
        "topics": topics,
        "fit_s": fit_s,
        "assigned": assigned,
        "assign_s": assign_s,
        "outlier_share": outliers,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,100000,1000000")
    parser.add_argument("--reduction", default="umap", choices=["umap", "pca"])
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = replace(TopicSettings(), reduction=args.reduction)

    if args.build:
        start = time.perf_counter()
        build(args.db, args.build)
        print(json.dumps({"build_s": time.perf_counter() - start}))
        return
    if args.run:
        print(json.dumps(run(args.db, settings)))
        return

    print(
        f"| posts | fit sample | topics | fit s | assigned | assign posts/s | unassigned | "
        f"peak RSS MB | (build s) |  [{args.reduction}]"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="hypewatch-bench-topics-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            db = Path(tmp) / f"{size}.duckdb"
            built = json.loads(child("--build", str(size), "--db", str(db)))
            r = json.loads(child("--run", "--db", str(db), "--reduction", args.reduction))
            rate = f"{r['assigned'] / r['assign_s']:,.0f}" if r["assigned"] else "—"
            print(
                f"| {size:,} | {r['fit_posts']:,} | {r['topics']} | {r['fit_s']:.0f} | "
                f"{r['assigned']:,} | {rate} | {r['outlier_share']:.1%} | "
                f"{r['peak_rss_mb']:,.0f} | {built['build_s']:.0f} |",
                flush=True,
            )
            db.unlink()


if __name__ == "__main__":
    main()
