"""``hypewatch export``: the Parquet lake read back by DuckDB and pyarrow, its documented
layout, incremental re-exports and a killed export (warehouse/lake.py, docs/scaling.md)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from hypewatch.cli_export import export_command
from hypewatch.pipeline import import_payloads
from tests.dashboard import CAMPAIGN, copy_of
from tests.dashboard.analysed import analysed_warehouse
from warehouse.lake import DATASETS, MANIFEST, ExportError, export_lake
from warehouse.read import connect_writer, reading

ROOT = Path(__file__).resolve().parents[1]

app = typer.Typer()
app.command("export")(export_command)
app.command("unused")(lambda: None)  # two commands: `export` stays a subcommand


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["export", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def db() -> Path:
    return analysed_warehouse()  # labels, embeddings, a topic run and spikes


@pytest.fixture(scope="module")
def lake(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lake") / "lake"
    code, stdout, stderr = invoke("--out", str(out), "--embeddings", "--db", str(db))
    assert code == 0, stderr
    for dataset in DATASETS:
        assert dataset.name in stdout  # the summary table
    return out


def warehouse_one(db: Path, sql: str) -> tuple:
    with reading(db) as con:
        return con.execute(sql).fetchone()


def lake_one(out: Path, sql: str) -> tuple:
    """``sql`` with ``{name}`` standing for read_parquet over that dataset's files."""
    names = {d.name for d in DATASETS}
    views = {n: f"read_parquet('{out}/{n}/**/*.parquet', hive_partitioning = true)" for n in names}
    return duckdb.sql(sql.format(**views)).fetchall()[0]


def hive(out: Path, name: str) -> ds.Dataset:
    return ds.dataset(out / name, format="parquet", partitioning="hive")


# --- read back ---------------------------------------------------------------------------


CHECKS = [  # (warehouse query, the same over the lake)
    (
        "SELECT count(*), count(DISTINCT post_id), sum(length(text)), "
        "count(DISTINCT created_at::DATE) FROM posts",
        "SELECT count(*), count(DISTINCT post_id), sum(length(text)), count(DISTINCT day) "
        "FROM {posts} WHERE day = created_at::DATE",
    ),
    (
        "SELECT count(*), sum(likes), sum(reposts), sum(views) FROM latest_metrics",
        "SELECT count(*), sum(likes), sum(reposts), sum(views) FROM {latest_metrics}",
    ),
    (
        "SELECT count(*) FILTER (sentiment = 'negative'), count(*) FILTER "
        "(sentiment = 'positive'), count(*) FILTER (copyright = 'concern') FROM post_labels",
        "SELECT count(*) FILTER (task = 'sentiment' AND label = 'negative'), count(*) FILTER "
        "(task = 'sentiment' AND label = 'positive'), count(*) FILTER "
        "(task = 'copyright' AND label = 'concern') FROM {labels}",
    ),
    (
        "SELECT count(*), round(sum(embedding[1]), 3) FROM embeddings",
        "SELECT count(*), round(sum(embedding[1]), 3) FROM {embeddings}",
    ),
    (
        "SELECT count(*), count(DISTINCT topic_id), sum(topic_id) FROM post_topics "
        "WHERE run_id = (SELECT max(run_id) FROM topic_runs)",
        "SELECT count(*), count(DISTINCT topic_id), sum(topic_id) FROM {post_topics}",
    ),
    (
        "SELECT count(*), sum(fit_posts) FROM topics "
        "WHERE run_id = (SELECT max(run_id) FROM topic_runs)",
        "SELECT count(*), sum(fit_posts) FROM {topics}",
    ),
    (
        "SELECT count(*), sum(posts), round(sum(peak_score), 6) FROM spikes",
        "SELECT count(*), sum(posts), round(sum(peak_score), 6) FROM {spikes}",
    ),
    (
        "SELECT count(*), sum(posts), round(sum(hype_index), 6) FROM trend_indices",
        "SELECT count(*), sum(posts), round(sum(hype_index), 6) FROM {trend_indices}",
    ),
    (
        "SELECT count(DISTINCT author_id), sum(followers) FROM authors "
        "WHERE author_id IN (SELECT author_id FROM posts)",
        "SELECT count(*), sum(followers) FROM {authors}",
    ),
]


@pytest.mark.parametrize("check", CHECKS, ids=[c[0].split("FROM ")[-1][:20] for c in CHECKS])
def test_duckdb_reads_the_same_counts_and_sums(db: Path, lake: Path, check: tuple) -> None:
    expected = warehouse_one(db, check[0])
    assert expected[0] > 0
    assert lake_one(lake, check[1]) == expected


def test_pyarrow_dataset_reads_the_same_counts_and_sums(db: Path, lake: Path) -> None:
    posts = hive(lake, "posts")
    assert posts.count_rows() == warehouse_one(db, "SELECT count(*) FROM posts")[0]
    assert set(posts.schema.names) >= {"post_id", "created_at", "campaign", "day"}
    assert posts.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    days = posts.to_table(columns=["day"])["day"].value_counts().to_pylist()
    with reading(db) as con:
        per_day = dict(
            con.execute(
                "SELECT strftime(created_at, '%Y-%m-%d'), count(*) FROM posts GROUP BY 1"
            ).fetchall()
        )
    assert {d["values"]: d["counts"] for d in days} == per_day

    likes = hive(lake, "latest_metrics").to_table(columns=["likes"])["likes"]
    assert pc.sum(likes).as_py() == warehouse_one(db, "SELECT sum(likes) FROM latest_metrics")[0]

    labels = hive(lake, "labels").to_table(filter=ds.field("task") == "sentiment")
    counts = {d["values"]: d["counts"] for d in labels["label"].value_counts().to_pylist()}
    with reading(db) as con:
        expected = dict(
            con.execute("SELECT sentiment, count(*) FROM post_labels GROUP BY 1").fetchall()
        )
    assert counts == {k: v for k, v in expected.items() if k is not None}

    emb = hive(lake, "embeddings").to_table(columns=["embedding"])["embedding"]
    assert emb.type == pa.list_(pa.field("element", pa.float32()), 384)
    first = pc.list_element(emb, 0)
    wanted = warehouse_one(db, "SELECT sum(embedding[1]) FROM embeddings")[0]
    assert pc.sum(first).as_py() == pytest.approx(wanted, abs=1e-3)

    spikes = hive(lake, "spikes").to_table()
    assert pc.sum(spikes["posts"]).as_py() == warehouse_one(db, "SELECT sum(posts) FROM spikes")[0]


def test_file_uri_and_campaign_filter(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "uri-lake"
    report = export_lake(db, f"file://{out}", campaign=CAMPAIGN)
    assert {d.name for d in report.datasets} == {d.name for d in DATASETS} - {"embeddings"}
    assert not (out / "embeddings").exists()
    posts = report.datasets[0]
    assert posts.written == len(list(out.glob("posts/campaign=*/day=*/part-0.parquet")))
    assert lake_one(out, "SELECT count(*) FROM {posts}")[0] == posts.rows


# --- the documented layout --------------------------------------------------------------


def lake_section() -> str:
    text = (ROOT / "docs" / "scaling.md").read_text()
    start = text.index("\n## The Parquet lake\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_layout_in_the_doc_matches_the_files(lake: Path) -> None:
    section = lake_section()
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block, "docs/scaling.md: no ```text block with the layout"
    patterns = [line.strip() for line in block[1].splitlines() if line.strip()]
    regexes = {
        p: re.compile(
            re.escape(p.removeprefix("<out>/"))
            .replace(re.escape("<campaign>"), "[a-z0-9_-]+")
            .replace(re.escape("<YYYY-MM-DD>"), r"\d{4}-\d{2}-\d{2}")
            + "$"
        )
        for p in patterns
    }
    files = [str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file() and p.name[0] != "."]
    for file in files:
        assert sum(bool(r.match(file)) for r in regexes.values()) == 1, file
    for pattern, regex in regexes.items():
        assert any(regex.match(f) for f in files), f"nothing written at {pattern}"
    assert f"<out>/{MANIFEST}" in patterns

    rows = re.findall(r"^\| `(\w+)` \|.*\| ((?:`\w+`(?:, )?)+) \|$", section, re.M)
    documented = {name: re.findall(r"`(\w+)`", columns) for name, columns in rows}
    assert set(documented) == {d.name for d in DATASETS}
    for name, columns in documented.items():
        file = next((lake / name).rglob("part-0.parquet"))
        assert pq.read_schema(file).names == columns, name

    ddl = re.search(r"CREATE TABLE hive\.lake\.posts \((.*?)\) WITH", section, re.S)
    assert ddl, "no Trino example for posts"
    names = re.findall(r"(\w+) [a-z]", ddl[1])
    assert names == [*documented["posts"], "campaign", "day"]


# --- incremental re-exports -------------------------------------------------------------


def files_and_mtimes(out: Path, dataset: str) -> dict[str, int]:
    return {
        str(p.relative_to(out)): p.stat().st_mtime_ns
        for p in (out / dataset).rglob("part-0.parquet")
    }


def add_posts(db: Path, days: list[str]) -> None:
    rows = [
        {
            "id": f"lake-test-{i}",
            "text": f"a new post about the launch, number {i}",
            "created_at": f"{day}T12:00:0{i}Z",
            "author": "lake-tester",
            "platform": "x",
            "likes": 7,
        }
        for i, day in enumerate(days)
    ]
    import_payloads(db, "jsonl", rows, source="test", campaign=CAMPAIGN)


def test_second_export_rewrites_only_the_changed_partitions(db: Path, tmp_path: Path) -> None:
    db = copy_of(db, tmp_path)
    out = tmp_path / "lake"
    first = {d.name: d for d in export_lake(db, out).datasets}
    assert first["posts"].written == 16 and first["posts"].unchanged == 0
    again = {d.name: d for d in export_lake(db, out).datasets}
    assert all(d.written == 0 and d.removed == 0 for d in again.values())
    assert again["posts"].unchanged == 16

    before = files_and_mtimes(out, "posts")
    add_posts(db, ["2025-03-26", "2025-04-20"])  # an exported day and a new one
    report = {d.name: d for d in export_lake(db, out).datasets}
    assert (report["posts"].written, report["posts"].unchanged) == (2, 15)
    assert (
        report["posts"].rows_written
        == warehouse_one(
            db,
            "SELECT count(*) FROM posts WHERE created_at::DATE IN ('2025-03-26', '2025-04-20')",
        )[0]
    )
    assert report["latest_metrics"].written == 2
    for name in ("labels", "post_topics", "topics", "spikes"):
        assert report[name].written == 0, name
    after = files_and_mtimes(out, "posts")
    changed = {f for f in after if before.get(f) != after[f]}
    assert changed == {
        f"posts/campaign={CAMPAIGN}/day=2025-03-26/part-0.parquet",
        f"posts/campaign={CAMPAIGN}/day=2025-04-20/part-0.parquet",
    }
    assert lake_one(out, "SELECT count(*), sum(likes) FROM {latest_metrics}") == warehouse_one(
        db, "SELECT count(*), sum(likes) FROM latest_metrics"
    )
    assert lake_one(out, "SELECT count(*) FROM {posts}") == warehouse_one(
        db, "SELECT count(*) FROM posts"
    )

    con = connect_writer(db)  # a trends run that no longer finds the first day's spikes
    day = con.execute("SELECT min(start_hour::DATE) FROM spikes").fetchone()[0]
    con.execute("DELETE FROM spikes WHERE start_hour::DATE = ?", [day])
    con.close()
    report = {d.name: d for d in export_lake(db, out).datasets}
    assert (report["spikes"].removed, report["spikes"].written) == (1, 0)
    assert not (out / f"spikes/campaign={CAMPAIGN}/day={day}").exists()
    assert lake_one(out, "SELECT count(*) FROM {spikes}") == warehouse_one(
        db, "SELECT count(*) FROM spikes"
    )


def test_a_deleted_file_is_written_again(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    export_lake(db, out)
    victim = next((out / "labels").rglob("part-0.parquet"))
    victim.unlink()
    labels = next(d for d in export_lake(db, out).datasets if d.name == "labels")
    assert (labels.written, labels.unchanged) == (1, 15)
    assert victim.exists()


# --- a killed export ---------------------------------------------------------------------


KILLER = """
import os, signal, sys
import warehouse.lake as lake

calls = 0
real = lake._write_parquet

def dying(fs, path, table):
    global calls
    calls += 1
    if calls == 8:  # half a file, then SIGKILL: no cleanup, no manifest update
        size = real(fs, path, table)
        with open(path, "r+b") as f:
            f.truncate(size // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    return real(fs, path, table)

lake._write_parquet = dying
lake.export_lake(sys.argv[1], sys.argv[2], embeddings=True)
"""


def test_a_killed_export_leaves_no_half_partition(db: Path, tmp_path: Path) -> None:
    db = copy_of(db, tmp_path)
    out = tmp_path / "lake"
    export_lake(db, out, embeddings=True)
    con = connect_writer(db)  # a new sentiment model: every labels partition changes
    con.execute(
        "INSERT INTO labels SELECT post_id, task, 'positive', 0.9, NULL, 'fake-sentiment@v2', "
        "now()::TIMESTAMP FROM labels WHERE task = 'sentiment'"
    )
    con.close()
    killed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLER), str(db), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -9, killed.stderr

    hidden = [p for p in out.rglob(".*") if p.is_file()]
    assert hidden and all(".tmp-" in p.name for p in hidden)  # the half file stays hidden
    for file in out.rglob("part-0.parquet"):
        pq.read_table(file)  # every visible file is whole
    labels = lake_one(out, "SELECT count(*), count(DISTINCT model_id) FROM {labels}")
    assert labels == (6000, 3)  # 7 days with the new sentiment model, the others old

    report = {d.name: d for d in export_lake(db, out, embeddings=True).datasets}
    assert report["labels"].written > 0 and report["posts"].written == 0
    assert not [p for p in out.rglob(".*") if p.is_file()]
    assert lake_one(
        out, "SELECT count(*) FILTER (label = 'positive'), count(*) FROM {labels}"
    ) == warehouse_one(
        db,
        "SELECT count(*) FILTER (l.label = 'positive'), count(*) "
        "FROM labels l JOIN current_models USING (task, model_id)",
    )


# --- errors ------------------------------------------------------------------------------


def test_errors_are_one_line(db: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for args, words in (
        (["--out", str(blocker / "lake")], "cannot write to --out"),
        (["--out", str(tmp_path / "lake"), "--campaign", "nope"], "no campaign 'nope'"),
        (["--out", str(tmp_path / "lake"), "--format", "csv"], "only parquet"),
        (["--out", "nosuchscheme://x/y"], "cannot write to --out"),
    ):
        code, _, stderr = invoke(*args, "--db", str(db))
        assert code == 1, (args, stderr)
        assert words in stderr and len(stderr.strip().splitlines()) == 1, stderr
        assert "Traceback" not in stderr
    with pytest.raises(ExportError):
        export_lake(db, blocker)
