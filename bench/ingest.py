"""Ingest throughput: parse + upsert of simulated posts into an empty warehouse, then again.

    python bench/ingest.py [--size 200000] [--repeat 3]
        [--mode all|in-process|pool|files|files-short|files-held]

Prints a table. The target on a 2-core machine is >= 50,000 posts/s for the first load.
Three import paths run side by side in each repeat: in-process (the parsing thread
overlapped with one DuckDB writer thread), pool (worker processes parse and prepare, the
main process only writes; what `hypewatch demo` uses for big sizes: the simulator's
payloads are Python objects, serialised for the workers) and files (the same payloads
written beforehand, untimed, as one JSONL file per format, whose lines go to the workers
undecoded, here with one pool for the five), files-short: the same, but opening the
warehouse for each batch and closing it after (``ShortWrites``): the price of letting a
reader in at every batch, and files-held: what `hypewatch import` does
(``import_writes``): the file stays open between batches until a reader waits.
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

import orjson

# Run as `python bench/ingest.py`, this file's folder comes first on sys.path and its name
# would shadow the `ingest` package: drop the folder.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from hypewatch.parse_pool import ParsePool  # noqa: E402
from hypewatch.pipeline import (  # noqa: E402
    ImportJob,
    checkpoints_deferred,
    gc_paused,
    import_payloads,
    import_pooled,
    import_writes,
)
from ingest.files import iter_json_lines  # noqa: E402
from ingest.parsers import get_format  # noqa: E402
from ingest.simulator import simulate  # noqa: E402
from warehouse.db import connect  # noqa: E402
from warehouse.read import ShortWrites  # noqa: E402


def grouped(payloads: list[tuple[str, object]]) -> dict[str, list[object]]:
    groups: dict[str, list[object]] = {}
    for fmt, payload in payloads:
        groups.setdefault(fmt, []).append(payload)
    return groups


MODES = ("in-process", "pool", "files", "files-short", "files-held")


def write_files(groups: dict[str, list[object]], folder: Path) -> dict[str, Path]:
    """One JSONL file of native payloads per format, as a collector or an export leaves them."""
    files = {}
    for fmt, items in groups.items():
        files[fmt] = folder / f"{fmt}.jsonl"
        files[fmt].write_bytes(b"".join(orjson.dumps(item) + b"\n" for item in items))
    return files


def load(
    db: Path, groups: dict[str, list[object]], mode: str, files: dict[str, Path]
) -> tuple[float, int, int]:
    """One import per format, as `hypewatch demo` does, then a checkpoint: seconds, counts.

    ``mode`` pool and files parse in worker processes (starting the pool is timed too).
    """
    con = connect(db)
    start = time.perf_counter()
    new = updated = 0
    if mode != "in-process":  # as build_demo: all formats in one stream of chunks
        short = mode in ("files-short", "files-held")
        if short:
            con.close()
        target = ShortWrites(db) if mode == "files-short" else import_writes(db) if short else con
        with ParsePool() as pool:
            jobs = [
                ImportJob(
                    fmt,
                    iter_json_lines(files[fmt], fmt) if mode.startswith("files") else items,
                    f"bench:{fmt}",
                )
                for fmt, items in groups.items()
            ]
            results = import_pooled(target, pool, jobs)
        if short:
            con = connect(db)
    else:
        with checkpoints_deferred(con):  # as build_demo: one checkpoint for all formats
            results = [
                import_payloads(con, fmt, items, source=f"bench:{fmt}")
                for fmt, items in groups.items()
            ]
    for _, counts in results:
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
    parser.add_argument(
        "--mode",
        choices=("all", *MODES),
        default="all",
        help="which import path to time (all: side by side in each repeat)",
    )
    args = parser.parse_args()
    if args.size < 1 or args.repeat < 1:
        parser.error("--size and --repeat must be at least 1")

    start = time.perf_counter()
    corpus = simulate(size=args.size, seed=7)
    simulate_s = time.perf_counter() - start
    groups = grouped(corpus.payloads)
    n_posts = len(corpus.truth)
    load_before = load_average()

    modes = MODES if args.mode == "all" else (args.mode,)
    payload_dir = tempfile.TemporaryDirectory()  # the JSONL files, written once, untimed
    with_files = any(mode.startswith("files") for mode in modes)
    files = write_files(groups, Path(payload_dir.name)) if with_files else {}
    parse_s: list[float] = []
    first_s: dict[str, list[float]] = {mode: [] for mode in modes}
    again_s: dict[str, list[float]] = {mode: [] for mode in modes}
    notes: dict[str, tuple[str, str]] = {}
    for _ in range(args.repeat):
        seconds, parsed = parse_all(groups)
        parse_s.append(seconds)
        for mode in modes:  # side by side, under the same load
            with tempfile.TemporaryDirectory() as tmp:
                db = Path(tmp) / "bench.duckdb"
                seconds, first_new, _ = load(db, groups, mode, files)
                first_s[mode].append(seconds)
                seconds, again_new, again_updated = load(db, groups, mode, files)
                again_s[mode].append(seconds)
                size_mb = db.stat().st_size / 1e6
                notes[mode] = (f"new={first_new:,}", f"new={again_new}, updated={again_updated}")

    rows = [
        ("simulate payloads", n_posts, [simulate_s], ""),
        ("parse only", parsed, parse_s, "posts incl. quoted/parent copies"),
    ]
    for mode in modes:
        rows.append((f"parse + upsert, empty ({mode})", n_posts, first_s[mode], notes[mode][0]))
    for mode in modes:
        rows.append((f"re-import same ({mode})", n_posts, again_s[mode], notes[mode][1]))
    print(f"\ningest benchmark: {n_posts:,} simulated posts, {args.repeat} run(s) per stage")
    print(f"load average (1/5/15 min) before: {load_before}, after: {load_average()}\n")
    print(
        f"| {'stage':<38} | {'posts':>9} | {'best s':>7} | {'median s':>8} "
        f"| {'best posts/s':>12} | {'median posts/s':>14} | note"
    )
    print(f"|{'-' * 40}|{'-' * 11}|{'-' * 9}|{'-' * 10}|{'-' * 14}|{'-' * 16}|------")
    for name, n, runs, note in rows:
        best, median = min(runs), statistics.median(runs)
        print(
            f"| {name:<38} | {n:>9,} | {best:>7.2f} | {median:>8.2f} "
            f"| {n / best:>12,.0f} | {n / median:>14,.0f} | {note}"
        )
    print(f"\nwarehouse file after both loads: {size_mb:.0f} MB")
    for mode in modes:
        met = n_posts / min(first_s[mode]) >= 50_000
        print(
            f"first load target >= 50,000 posts/s ({mode}, best run): {'met' if met else 'NOT met'}"
        )
    payload_dir.cleanup()


if __name__ == "__main__":
    main()
