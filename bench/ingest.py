"""Ingest throughput: parse + upsert of simulated posts into an empty warehouse, then again.

    python bench/ingest.py [--size 200000] [--repeat 3]

Prints a table. The target on a 2-core machine is >= 50,000 posts/s for the first load.
Each stage runs ``--repeat`` times (a fresh warehouse each time); the table gives the best
and the median run, and the load average before and after (these machines are shared:
compare figures only between runs with a similar load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as `python bench/ingest.py`, this file's folder comes first on sys.path and its name
# would shadow the `ingest` package: drop the folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from hypewatch.pipeline import checkpoints_deferred, gc_paused, import_payloads  # noqa: E402
from ingest.parsers import get_format  # noqa: E402
from ingest.simulator import simulate  # noqa: E402
from warehouse.db import connect  # noqa: E402


def grouped(payloads: list[tuple[str, object]]) -> dict[str, list[object]]:
    groups: dict[str, list[object]] = {}
    for fmt, payload in payloads:
        groups.setdefault(fmt, []).append(payload)
    return groups


def load(db: Path, groups: dict[str, list[object]]) -> tuple[float, int, int]:
    """One import per format, as `hypewatch demo` does, then a checkpoint: seconds, counts."""
    con = connect(db)
    start = time.perf_counter()
    new = updated = 0
    with checkpoints_deferred(con):  # as build_demo: one checkpoint for all formats
        for fmt, payloads in groups.items():
            _, counts = import_payloads(con, fmt, payloads, source=f"bench:{fmt}")
            new += counts.new
            updated += counts.updated
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - start
    con.close()
    return seconds, new, updated


def parse_all(groups: dict[str, list[object]]) -> tuple[float, int]:
    """Parsers only (each result dropped at once; collector paused, as during an import)."""
    start = time.perf_counter()
    with gc_paused():
        parsed = sum(
            len(get_format(fmt).parse(p).posts) for fmt, items in groups.items() for p in items
        )
    return time.perf_counter() - start, parsed


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.size < 1 or args.repeat < 1:
        parser.error("--size and --repeat must be at least 1")

    start = time.perf_counter()
    corpus = simulate(size=args.size, seed=7)
    simulate_s = time.perf_counter() - start
    groups = grouped(corpus.payloads)
    n_posts = len(corpus.truth)
    load_before = load_average()

    parse_s, first_s, again_s = [], [], []
    for _ in range(args.repeat):
        seconds, parsed = parse_all(groups)
        parse_s.append(seconds)
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.duckdb"
            seconds, first_new, _ = load(db, groups)
            first_s.append(seconds)
            seconds, again_new, again_updated = load(db, groups)
            again_s.append(seconds)
            size_mb = db.stat().st_size / 1e6

    rows = [
        ("simulate payloads", n_posts, [simulate_s], ""),
        ("parse only", parsed, parse_s, "posts incl. quoted/parent copies"),
        ("parse + upsert, empty warehouse", n_posts, first_s, f"new={first_new:,}"),
        ("re-import same payloads", n_posts, again_s, f"new={again_new}, updated={again_updated}"),
    ]
    print(f"\ningest benchmark: {n_posts:,} simulated posts, {args.repeat} run(s) per stage")
    print(f"load average (1/5/15 min) before: {load_before}, after: {load_average()}\n")
    print(
        f"| {'stage':<33} | {'posts':>9} | {'best s':>7} | {'median s':>8} "
        f"| {'best posts/s':>12} | {'median posts/s':>14} | note"
    )
    print(f"|{'-' * 35}|{'-' * 11}|{'-' * 9}|{'-' * 10}|{'-' * 14}|{'-' * 16}|------")
    for name, n, runs, note in rows:
        best, median = min(runs), statistics.median(runs)
        print(
            f"| {name:<33} | {n:>9,} | {best:>7.2f} | {median:>8.2f} "
            f"| {n / best:>12,.0f} | {n / median:>14,.0f} | {note}"
        )
    print(f"\nwarehouse file after both loads: {size_mb:.0f} MB")
    met = n_posts / min(first_s) >= 50_000
    print(f"first load target >= 50,000 posts/s (best run): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
