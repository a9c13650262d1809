"""``hypewatch analyze --engine ray`` on a local Ray (2 CPUs, no GPU): the local engine's
labels and embeddings, and complete, duplicate-free results after an actor or the driver
is killed; a stage location that cannot be written fails before anything is touched."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

ray = pytest.importorskip("ray")

from hypewatch.analyze import analyze  # noqa: E402
from hypewatch.analyze_ray import RayOptions, StageError, analyze_ray  # noqa: E402
from hypewatch.settings import Settings  # noqa: E402
from tests.dashboard import warehouse  # noqa: E402
from warehouse.db import connect  # noqa: E402

SETTINGS = Settings(analyze_chunk=250)
"""Small chunks: 2,000 posts make 8 shards, so an actor can be killed between two."""
POSTS = 2_000


@pytest.fixture(scope="module")
def cluster() -> str:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def unanalyzed() -> Path:
    return warehouse(labels=False, embeddings=False, size=POSTS)


@pytest.fixture(scope="module")
def local(unanalyzed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("local") / "w.duckdb"
    shutil.copy(unanalyzed, db)
    con = connect(db)
    analyze(con, SETTINGS)
    con.close()
    return db


def _copy(src: Path, tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    shutil.copy(src, db)
    return db


def _results(db: Path) -> tuple[dict, dict, list]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        labels = {
            (p, t): (label, model)
            for p, t, label, model in con.execute(
                "SELECT post_id, task, label, model_id FROM labels"
            ).fetchall()
        }
        embeddings = {
            (p, m): np.asarray(e, dtype=np.float32)
            for p, m, e in con.execute(
                "SELECT post_id, model_id, embedding FROM embeddings"
            ).fetchall()
        }
        runs = con.execute(
            "SELECT engine, workers, status, posts FROM analysis_runs WHERE stage = 'analyze' "
            "ORDER BY run_id"
        ).fetchall()
    finally:
        con.close()
    return labels, embeddings, runs


def _check_complete(db: Path, runs_expected: int | None = None) -> list:
    labels, embeddings, runs = _results(db)
    posts = {p for p, _ in embeddings}
    assert len(embeddings) == len(posts) == POSTS  # one embedding per post, no more
    assert len(labels) == 2 * POSTS  # sentiment and copyright, once each
    return runs


def test_ray_gives_the_local_engines_labels_and_embeddings(
    cluster: str, unanalyzed: Path, local: Path, tmp_path: Path
) -> None:
    db = _copy(unanalyzed, tmp_path)
    stage = tmp_path / "stage"
    report = analyze_ray(db, SETTINGS, RayOptions(workers=2, stage=str(stage)))
    assert (report.posts, report.shards) == (POSTS, 8)
    assert set(report.timings) >= {"stage write", "inference", "load"}
    ray_labels, ray_embeddings, runs = _results(db)
    local_labels, local_embeddings, _ = _results(local)
    assert ray_labels == local_labels
    assert ray_embeddings.keys() == local_embeddings.keys()
    worst = max(np.abs(ray_embeddings[k] - local_embeddings[k]).max() for k in ray_embeddings)
    assert worst <= 1e-5, worst
    assert runs == [("ray", 2, "ok", POSTS)]
    assert not any(stage.rglob("*.parquet"))  # the stage folder is removed once loaded
    again = analyze_ray(db, SETTINGS, RayOptions(workers=2, stage=str(stage)))
    assert again.posts == 0  # nothing pending: nothing staged


def test_an_actor_killed_mid_run_is_retried_and_nothing_is_lost_or_doubled(
    cluster: str, unanalyzed: Path, tmp_path: Path
) -> None:
    db = _copy(unanalyzed, tmp_path)
    stage = tmp_path / "stage"
    outcome: list = []
    driver = threading.Thread(
        target=lambda: outcome.append(
            analyze_ray(db, SETTINGS, RayOptions(workers=2, stage=str(stage)))
        )
    )
    driver.start()
    deadline = time.monotonic() + 300
    while not list(stage.rglob("*.done")) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = _annotator_pids()[:1]
    assert killed, "no annotator actor to kill"
    os.kill(killed[0], signal.SIGKILL)
    done_when_killed = len(list(stage.rglob("*.done")))
    driver.join(600)
    assert outcome, "the run did not complete"
    assert done_when_killed < 8  # killed mid-run
    assert _check_complete(db) == [("ray", 2, "ok", POSTS)]


def _annotator_pids() -> list[int]:
    """Ray names an actor's process after its class (``ray::MapWorker(...ShardAnnotator)``)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"ShardAnnotator" in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


DRIVER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import ray
    import hypewatch.analyze_ray as engine
    from hypewatch.settings import Settings

    def killed(*args, **kwargs):
        print("actors finished", flush=True)
        os._exit(9)  # the driver dies between the inference and the load

    engine._load = killed
    ray.init(address=sys.argv[3], log_to_driver=False)
    options = engine.RayOptions(workers=2, stage=sys.argv[2])
    engine.analyze_ray(Path(sys.argv[1]), Settings(analyze_chunk=250), options)
    """
)


def test_a_driver_killed_before_the_load_is_loaded_exactly_once_on_rerun(
    cluster: str, unanalyzed: Path, tmp_path: Path
) -> None:
    db = _copy(unanalyzed, tmp_path)
    stage = tmp_path / "stage"
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(db), str(stage), cluster],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 9 and "actors finished" in done.stdout, done.stderr[-2000:]
    assert len(list(stage.rglob("*.done"))) == 8
    assert _results(db)[1] == {}  # nothing loaded yet
    report = analyze_ray(db, SETTINGS, RayOptions(workers=2, stage=str(stage)))
    assert report.posts == POSTS and report.shards == 8
    assert report.timings["inference"] < 5  # the shards were done: nothing re-encoded
    runs = _check_complete(db)
    assert runs == [("ray", 2, "interrupted", 0), ("ray", 2, "ok", POSTS)]


def test_a_stage_that_cannot_be_written_fails_first_and_changes_nothing(
    unanalyzed: Path, tmp_path: Path
) -> None:
    db = _copy(unanalyzed, tmp_path)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StageError, match="cannot write the stage location") as refused:
        analyze_ray(db, SETTINGS, RayOptions(stage=str(blocker / "stage")))
    assert "\n" not in str(refused.value)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_the_command_line_runs_the_ray_engine(cluster: str, local: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hypewatch.cli import app

    db = _copy(local, tmp_path)  # analyzed already: Ray is asked, finds nothing to do
    args = ["analyze", "--engine", "ray", "--workers", "2", "--stage", str(tmp_path / "s")]
    result = CliRunner().invoke(app, [*args, "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "analyze: 0 posts" in result.stdout
    assert "ray: 2 worker(s), 0 shard(s)" in result.stdout
    assert _results(db)[2][-1] == ("ray", 2, "ok", 0)
