"""The analyze stage's engines side by side: local vs Ray with 1 and 2 actors.

    python bench/analyze_engines.py [--posts 4000] [--chunk 500] [--gpus-per-worker 0]

Builds a demo warehouse of ``--posts`` simulated posts without labels or embeddings
(untimed), then analyzes a fresh copy of it with each engine in one run, under the same
load: ``local`` (this process, all cores), ``ray x1`` and ``ray x2`` (a local Ray with one
CPU per actor; ``--gpus-per-worker`` on a GPU machine). Ray's time is broken down: cluster
start, model ids (one task loading the models), stage write, inference (actors starting
and loading the models included), load back. Prints a table with the load average, and the
crossover: from how many posts Ray's fixed cost is paid back by its rate, if ever.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import ray  # noqa: E402

from hypewatch.analyze import analyze  # noqa: E402
from hypewatch.analyze_ray import RayOptions, analyze_ray  # noqa: E402
from hypewatch.campaigns import find_campaign  # noqa: E402
from hypewatch.pipeline import build_demo  # noqa: E402
from hypewatch.settings import Settings, get_settings  # noqa: E402
from warehouse.db import connect  # noqa: E402


def build(path: Path, posts: int) -> None:
    con = connect(path)
    try:
        campaign = find_campaign("gpt4o-image-launch", get_settings().campaigns_dir)
        build_demo(con, campaign, size=posts, seed=7)
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=4000)
    parser.add_argument("--chunk", type=int, default=500, help="posts per chunk / Ray shard")
    parser.add_argument("--gpus-per-worker", type=float, default=0.0)
    args = parser.parse_args()
    settings = Settings(analyze_chunk=args.chunk)
    rows: list[tuple[str, float, int, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.duckdb"
        build(base, args.posts)
        load_before = os.getloadavg()[0]

        db = Path(tmp) / "local.duckdb"
        shutil.copy(base, db)
        start = time.perf_counter()
        con = connect(db)
        report = analyze(con, settings)
        con.close()
        rows.append(("local", time.perf_counter() - start, report.posts, {}))

        for workers in (1, 2):
            db = Path(tmp) / f"ray{workers}.duckdb"
            shutil.copy(base, db)
            options = RayOptions(
                workers=workers,
                gpus_per_worker=args.gpus_per_worker,
                stage=str(Path(tmp) / "stage"),
            )
            start = time.perf_counter()
            ray_report = analyze_ray(db, settings, options)  # starts and stops a local Ray
            seconds = time.perf_counter() - start
            rows.append((f"ray x{workers}", seconds, ray_report.posts, ray_report.timings))
            assert not ray.is_initialized()

    print(f"\nanalyze engines: {args.posts:,} posts, chunks of {args.chunk}, "
          f"{os.cpu_count()} cores; load average before {load_before:.2f}, "
          f"after {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    steps = ["cluster start", "models (ids)", "stage write", "inference", "load"]
    print("| engine | posts | wall s | posts/s | " + " | ".join(steps) + " |")
    print("|---|---|---|---|" + "---|" * len(steps))
    for name, seconds, posts, timings in rows:
        cells = " | ".join(f"{timings[s]:.1f}" if s in timings else "" for s in steps)
        print(f"| {name} | {posts:,} | {seconds:.1f} | {posts / seconds:,.0f} | {cells} |")

    local_s = rows[0][1]
    for name, seconds, _, timings in rows[1:]:
        fixed = seconds - timings.get("inference", 0.0)  # the rest is overhead
        rate = args.posts / max(timings.get("inference", seconds), 1e-9)
        local_rate = args.posts / local_s
        if rate <= local_rate:
            print(
                f"{name}: its rate ({rate:,.0f} posts/s in inference) does not beat the local "
                f"engine's ({local_rate:,.0f} posts/s end to end) here: no crossover"
            )
        else:
            crossover = fixed / (1 / local_rate - 1 / rate)
            print(f"{name}: fixed cost {fixed:.1f} s, paid back from about {crossover:,.0f} posts")


if __name__ == "__main__":
    main()
