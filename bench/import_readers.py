"""Readers during a big import: how long `hypewatch sql` waits, and what the import pays.

    python bench/import_readers.py [--posts 400000] [--readers-every 1.0]

Writes a JSON Lines file of ``--posts`` Hacker News hits (untimed), then, side by side in
one run: the import alone (``hypewatch import``), and the same import into a fresh
warehouse while ``hypewatch sql "SELECT count(*) FROM posts"`` runs every
``--readers-every`` seconds in another process. Prints the import's wall time both ways
and the readers' latency (p50, p95, max: process start included) with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HYPEWATCH = [sys.executable, "-m", "hypewatch.cli"]


def write_hits(path: Path, n: int) -> None:
    with path.open("wb") as fh:
        for i in range(n):
            hit = {
                "objectID": str(i),
                "created_at_i": 1742990000 + i,
                "title": f"GPT-4o image generation, post {i}",
                "author": f"user{i % 5000}",
            }
            fh.write(orjson.dumps(hit) + b"\n")


def run_import(db: Path, source: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*HYPEWATCH, "import", str(source), "--format", "hn", "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def read(db: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*HYPEWATCH, "sql", "SELECT count(*) FROM posts", "-f", "csv", "--db", str(db)],
        capture_output=True,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=400_000)
    parser.add_argument("--readers-every", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "hits.jsonl"
        write_hits(source, args.posts)
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

        start = time.perf_counter()
        alone = run_import(Path(tmp) / "alone.duckdb", source)
        alone.communicate()
        alone_s = time.perf_counter() - start

        db = Path(tmp) / "read.duckdb"
        start = time.perf_counter()
        importer = run_import(db, source)
        while not db.exists() and importer.poll() is None:
            time.sleep(0.01)
        latencies, failures = [], []
        while importer.poll() is None:
            asked = time.perf_counter()
            done = read(db)
            if importer.poll() is not None:
                break  # this read may have come after the import: not counted
            latencies.append(time.perf_counter() - asked)
            if done.returncode != 0:
                failures.append(done.stderr.strip())
            time.sleep(max(0.0, args.readers_every - (time.perf_counter() - asked)))
        _, err = importer.communicate()
        read_s = time.perf_counter() - start
        idle = []
        for _ in range(5):
            asked = time.perf_counter()
            read(db)
            idle.append(time.perf_counter() - asked)

    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    print(f"| import of {args.posts:,} posts | wall s | posts/s |")
    print("|---|---|---|")
    print(f"| alone | {alone_s:.1f} | {args.posts / alone_s:,.0f} |")
    print(
        f"| with a reader every {args.readers_every:g} s | {read_s:.1f} | "
        f"{args.posts / read_s:,.0f} |"
    )
    print(f"\nimport exit status {importer.returncode}; {err.strip()[:200]}")
    if latencies:
        ordered = sorted(latencies)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"`hypewatch sql` during the import: {len(latencies)} reads, {len(failures)} failed; "
            f"latency p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, "
            f"max {max(latencies):.2f} s (process start included); the same read with no "
            f"import: p50 {statistics.median(idle):.2f} s"
        )
    for failure in failures[:3]:
        print(f"  failed: {failure[:200]}")


if __name__ == "__main__":
    main()
