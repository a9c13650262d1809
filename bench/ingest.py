"""Ingest throughput: parse + upsert of simulated posts into an empty warehouse, then again.

    python bench/ingest.py [--size 200000]

Prints a table. The target on a 2-core machine is >= 50,000 posts/s for the first load.
All figures come from one run, side by side (these machines are noisy).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# Run as `python bench/ingest.py`, this file's folder comes first on sys.path and its name
# would shadow the `ingest` package: drop the folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from hypewatch.pipeline import import_payloads  # noqa: E402
from ingest.parsers import get_format  # noqa: E402
from ingest.simulator import simulate  # noqa: E402
from warehouse.db import connect  # noqa: E402


def grouped(payloads: list[tuple[str, object]]) -> dict[str, list[object]]:
    groups: dict[str, list[object]] = {}
    for fmt, payload in payloads:
        groups.setdefault(fmt, []).append(payload)
    return groups


def load(db: Path, groups: dict[str, list[object]]) -> tuple[float, int, int]:
    con = connect(db)
    start = time.perf_counter()
    new = updated = 0
    for fmt, payloads in groups.items():
        _, counts = import_payloads(con, fmt, payloads, source=f"bench:{fmt}")
        new += counts.new
        updated += counts.updated
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - start
    con.close()
    return seconds, new, updated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=200_000)
    args = parser.parse_args()

    start = time.perf_counter()
    corpus = simulate(size=args.size, seed=7)
    simulate_s = time.perf_counter() - start
    groups = grouped(corpus.payloads)
    n_posts = len(corpus.truth)

    start = time.perf_counter()
    parsed = sum(
        len(get_format(fmt).parse(p).posts) for fmt, items in groups.items() for p in items
    )
    parse_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        first_s, first_new, _ = load(db, groups)
        again_s, again_new, again_updated = load(db, groups)

    rows = [
        ("simulate payloads", n_posts, simulate_s, ""),
        ("parse only", parsed, parse_s, ""),
        ("parse + upsert, empty warehouse", n_posts, first_s, f"new={first_new:,}"),
        ("re-import same payloads", n_posts, again_s, f"new={again_new}, updated={again_updated}"),
    ]
    print(f"\ningest benchmark: {n_posts:,} simulated posts\n")
    print(f"| {'stage':<33} | {'posts':>9} | {'seconds':>8} | {'posts/s':>9} | note")
    print(f"|{'-' * 35}|{'-' * 11}|{'-' * 10}|{'-' * 11}|------")
    for name, n, seconds, note in rows:
        print(f"| {name:<33} | {n:>9,} | {seconds:>8.2f} | {n / seconds:>9,.0f} | {note}")
    target = n_posts / first_s >= 50_000
    print(f"\nfirst load target >= 50,000 posts/s: {'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
