"""The command line, end to end: demo, import, sql, status, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hypewatch.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    code, stdout, stderr = run("demo", "--size", "2000", "--no-serve", "--db", str(db))
    assert code == 0, stderr
    assert "SIMULATED" in stdout
    return db


def test_demo_fills_every_platform(demo_db: Path) -> None:
    code, stdout, _ = run(
        "sql",
        "select platform, count(*) as n from posts group by 1 order by 1",
        "--format",
        "json",
        "--db",
        str(demo_db),
    )
    assert code == 0
    counts = {row["platform"]: row["n"] for row in json.loads(stdout)}
    assert set(counts) == {"x", "bluesky", "mastodon", "reddit", "hn"}
    assert 1900 <= sum(counts.values()) <= 2100


def test_demo_has_no_rejects_and_truth_for_every_post(demo_db: Path) -> None:
    code, stdout, _ = run(
        "sql",
        "select (select count(*) from rejects) as rejects, "
        "(select count(*) from posts anti join simulated_truth using (post_id)) as untracked, "
        "(select count(*) from events) as events",
        "--format",
        "csv",
        "--db",
        str(demo_db),
    )
    assert code == 0
    assert stdout.splitlines()[1] == "0,0,8"


def test_status_prints_days_runs_and_the_simulated_warning(demo_db: Path) -> None:
    code, stdout, _ = run("status", "--db", str(demo_db))
    assert code == 0
    assert "2025-03-25" in stdout and "demo:x-v2" in stdout and "SIMULATED" in stdout


@pytest.mark.parametrize(
    "query",
    [
        "delete from posts",
        "copy posts to 'x.csv'",
        "select * from read_csv('/etc/passwd')",
        "attach 'x.duckdb' as x",
    ],
)
def test_sql_is_read_only(demo_db: Path, query: str) -> None:
    code, _, stderr = run("sql", query, "--db", str(demo_db))
    assert code == 1
    assert stderr.startswith("error:") and "Traceback" not in stderr


def counts_row(stdout: str, source: str) -> list[str]:
    row = next(line for line in stdout.splitlines() if source in line)
    return [cell.strip() for cell in row.split("│")[2:6]]


def test_import_counts_and_reimport_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    src = tmp_path / "hits.jsonl"
    hits = [
        {
            "objectID": str(40_000_000 + i),
            "created_at": "2025-03-25T18:00:00.000Z",
            "created_at_i": 1742925600,
            "author": f"user{i}",
            "title": f"GPT-4o image generation is out — test {i}",
            "url": "https://openai.com/index/introducing-4o-image-generation/",
            "points": 10 + i,
            "num_comments": i,
            "_tags": ["story", f"author_user{i}", f"story_{40_000_000 + i}"],
        }
        for i in range(5)
    ]
    src.write_text(json.dumps({"hits": hits}) + "\n{not json\n", encoding="utf-8")
    args = [
        "import",
        str(src),
        "--format",
        "hn",
        "--campaign",
        "gpt4o-image-launch",
        "--db",
        str(db),
    ]
    code, stdout, stderr = run(*args)
    assert code == 3, stderr  # some payloads rejected, the rest stored
    assert counts_row(stdout, "hn hits.jsonl") == ["6", "5", "0", "1"]  # fetched new upd. rej.
    assert "1 payload(s) rejected" in stderr
    code, stdout, _ = run(*args)
    assert code == 3
    assert counts_row(stdout, "hn hits.jsonl") == ["6", "0", "0", "1"]
    src.write_text(json.dumps({"hits": hits}) + "\n", encoding="utf-8")
    code, stdout, stderr = run(*args)
    assert code == 0 and not stderr, stderr  # nothing rejected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "missing.jsonl", "--format", "hn"], "does not exist"),
        (["import", "x.jsonl", "--format", "myspace"], "myspace"),
        (["import", "x.jsonl", "--format", "hn", "--campaign", "nope"], "no campaign 'nope'"),
        (["sql", "select 1", "--db", "no/such.duckdb"], "no warehouse"),
        (["sql", "selec 1"], "syntax"),
        (["import", "x.csv", "--format", "csv", "--map", "text"], "FIELD=COLUMN"),
    ],
)
def test_errors_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    if "x.jsonl" in args or "x.csv" in args:
        (tmp_path / "x.jsonl").write_text("{}\n")
        (tmp_path / "x.csv").write_text("id,text\n")
        args = [str(tmp_path / a) if a in ("x.jsonl", "x.csv") else a for a in args]
    if args[0] == "sql" and "--db" not in args:
        run(
            "demo",
            "--size",
            "200",
            "--no-serve",
            "--no-analyze",
            "--db",
            str(tmp_path / "d.duckdb"),
        )
        args = [*args, "--db", str(tmp_path / "d.duckdb")]
    code, _, stderr = run(*args)
    assert code != 0
    assert message.lower() in stderr.lower()
    assert "Traceback" not in stderr


def test_console_script_runs(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    exe = Path(sys.executable).with_name("hypewatch")
    done = subprocess.run(
        [str(exe), "demo", "--size", "300", "--no-serve", "--no-analyze", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [str(exe), "sql", "select count(*) from posts", "--format", "csv", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 280 <= int(done.stdout.splitlines()[1]) <= 320


def test_writing_creates_the_warehouse_folder(tmp_path: Path) -> None:
    src = tmp_path / "rows.csv"
    src.write_text("id,text,created_at\n1,héllo ジブリ,2025-03-25T18:00:00Z\n", encoding="utf-8")
    db = tmp_path / "new" / "folder" / "w.duckdb"
    code, stdout, stderr = run("import", str(src), "--format", "csv", "--db", str(db))
    assert code == 0, stderr
    assert counts_row(stdout, "csv rows.csv") == ["1", "1", "0", "0"]


def test_a_failed_refresh_is_a_warning_the_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stages return the warning (they print nothing); the command shows it on stderr
    and still succeeds: the posts are stored."""
    import warehouse.aggregates

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(warehouse.aggregates, "refresh_aggregates", fail)
    src = tmp_path / "rows.csv"
    src.write_text("id,text,created_at\n1,hello,2025-03-25T18:00:00Z\n", encoding="utf-8")
    code, stdout, stderr = run("import", str(src), "--format", "csv", "--db", str(tmp_path / "w"))
    assert code == 0, stderr
    assert counts_row(stdout, "csv rows.csv") == ["1", "1", "0", "0"]
    assert "warning: dashboard aggregates not refreshed (boom); the next write retries" in stderr


def test_stages_return_what_the_command_line_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import duckdb

    from hypewatch import stages

    warning = stages.close_writer(duckdb.connect())  # no warehouse schema: the refresh fails
    assert warning is not None and warning.startswith("dashboard aggregates not refreshed (")
    with pytest.raises(ValueError, match="unknown engine 'spark'"):
        stages.analyze_stage(tmp_path / "w.duckdb", engine="spark")

    with pytest.raises(ValueError, match="--device must be auto, cpu or cuda"):
        stages.analyze_stage(tmp_path / "w.duckdb", device="tpu")
    assert not (tmp_path / "w.duckdb").exists()  # checked before the warehouse is opened
    assert capsys.readouterr() == ("", "")
