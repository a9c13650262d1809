"""`hypewatch schedule`: job files, steps in order, one job at a time per warehouse, a
failing step ends its job and never the scheduler."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from hypewatch.cli import app
from hypewatch.schedule import (
    ScheduleError,
    build_scheduler,
    load_schedule,
    lock_path,
    run_job,
    warehouse_lock,
)
from hypewatch.settings import PROJECT_ROOT
from tests.test_alerts import CAMPAIGN

EXAMPLE = PROJECT_ROOT / "docs" / "schedule.example.toml"


@pytest.fixture
def db(labelled_demo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the small labelled demo warehouse; no collector credentials, no webhook."""
    for name in ("X_BEARER_TOKEN", "ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(f"HYPEWATCH_{name}", raising=False)
    return labelled_demo_copy


def job_file(tmp_path: Path, db: Path, jobs: str) -> Path:
    path = tmp_path / "schedule.toml"
    path.write_text(f'db = "{db}"\n{jobs}')
    return path


def steps_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage().split(": step ")[1]
        for r in caplog.records
        if r.name == "hypewatch.schedule" and ": step " in r.getMessage()
    ]


def runs(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT stage, status, models, error FROM analysis_runs ORDER BY run_id"
        ).fetchall()
    finally:
        con.close()


# ------------------------------------------------------------------------------ job files


def test_the_example_job_file_is_valid() -> None:
    config = load_schedule(EXAMPLE)
    assert [j.name for j in config.jobs] == ["morning", "hourly", "weekly"]
    assert config.job("morning").steps == ["collect", "analyze", "topics", "trends", "report"]


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ('[[jobs]]\nname="a"\ncron="0 25 * * *"\ncampaign="gpt4o-image-launch"\nsteps=["trends"]',
         r"jobs\.0\.cron: .*'0 25 \* \* \*' is not a crontab line"),
        ('[[jobs]]\nname="a"\ncron="0 7 * * *"\ncampaign="gpt4o-image-launch"\nsteps=["train"]',
         r"jobs\.0\.steps: .*unknown step 'train'"),
        ('[[jobs]]\nname="a"\ncron="0 7 * * *"\ncampaign="nope"\nsteps=["trends"]',
         r"jobs\.0\.campaign: no campaign 'nope'"),
        ('[[jobs]]\nname="a"\ncron="0 7 * * *"\ncampaign="gpt4o-image-launch"\nsteps=[]',
         r"jobs\.0\.steps"),
        ('[[jobs]]\nname="a"\ncron="0 7 * * *"\ncampaign="gpt4o-image-launch"\nsteps=["trends"]'
         '\nreport_formats=["docx"]', r"jobs\.0\.report_formats\.0"),
        ('[[jobs]]\nname="a"\ncron="0 7 * * *"\ncampaign="gpt4o-image-launch"\nsteps=["trends"]'
         '\n[[jobs]]\nname="a"\ncron="0 8 * * *"\ncampaign="gpt4o-image-launch"\nsteps=["trends"]',
         "job name 'a' is used twice"),
        ('timezone="Mars/Olympus"\n', "unknown time zone"),
        ("jobs = [", "not valid TOML"),
    ],
)  # fmt: skip
def test_bad_job_files_name_the_problem(tmp_path: Path, jobs: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        load_schedule(job_file(tmp_path, tmp_path / "w.duckdb", jobs))


def test_missing_file_and_unknown_job_are_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["schedule", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 1 and "does not exist" in " ".join(result.stderr.split())
    result = runner.invoke(app, ["schedule", "--config", str(EXAMPLE), "--once", "nightly"])
    assert result.exit_code == 1
    assert "no job 'nightly' in the job file (jobs: morning, hourly, weekly)" in " ".join(
        result.stderr.split()
    )


# ---------------------------------------------------------------------------- running jobs


def test_steps_run_in_order_and_the_job_is_recorded(
    db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="hypewatch.schedule")
    out = tmp_path / "reports"
    config = load_schedule(
        job_file(
            tmp_path, db,
            f'[[jobs]]\nname="morning"\ncron="0 7 * * *"\ncampaign="{CAMPAIGN}"\n'
            f'steps=["trends", "report"]\nreport_formats=["md"]\nout="{out}"\n',
        )
    )  # fmt: skip
    result = run_job(config, "morning")
    assert result.status == "ok", result.error
    assert result.steps_done == ["trends", "report"]
    assert [s.split()[0] for s in steps_logged(caplog)] == ["trends", "trends", "report", "report"]
    assert [r[:2] for r in runs(db)] == [("schedule", "ok"), ("trends", "ok")]
    assert runs(db)[0][2] == ["job:morning", "trends", "report"]
    reports = list(out.glob("*.md"))
    assert reports  # the report step ran after trends, on what trends stored
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] > 0
    con.close()
    # the stages print nothing: what `hypewatch trends` prints of them is logged
    assert capsys.readouterr().out == ""
    assert f"job morning: alerts for {CAMPAIGN}: " in caplog.text


def test_a_failing_step_ends_its_job_and_skips_the_rest(
    db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hypewatch.schedule")
    config = load_schedule(
        job_file(
            tmp_path, db,
            f'[[jobs]]\nname="j"\ncron="0 7 * * *"\ncampaign="{CAMPAIGN}"\n'
            'steps=["trends", "collect", "report"]\nsources=["x"]\n',
        )
    )  # fmt: skip
    result = run_job(config, "j")  # x without a token: the collect step fails
    assert (result.status, result.steps_done, result.failed_step) == (
        "failed",
        ["trends"],
        "collect",
    )
    assert "x skipped: no credentials" in result.error
    assert "report started" not in " ".join(steps_logged(caplog))
    assert runs(db)[0][:2] == ("schedule", "failed") and "step collect" in runs(db)[0][3]


def test_an_overlapping_run_is_skipped_in_the_same_process(db: Path, tmp_path: Path) -> None:
    config = load_schedule(
        job_file(
            tmp_path, db,
            f'[[jobs]]\nname="j"\ncron="0 7 * * *"\ncampaign="{CAMPAIGN}"\nsteps=["trends"]\n',
        )
    )  # fmt: skip
    with warehouse_lock(db, "job other") as held:
        assert held
        result = run_job(config, "j")
    assert result.status == "skipped" and "job other" in result.error
    assert runs(db) == []  # nothing ran, nothing was written
    assert run_job(config, "j").status == "ok"  # the lock is free again


def test_an_overlapping_run_in_another_process_is_skipped(db: Path, tmp_path: Path) -> None:
    """A second process (say a cron line) holds the lock: `--once` skips and exits 0."""
    ready = tmp_path / "ready"
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            "import sys, time; from pathlib import Path\n"
            "from hypewatch.schedule import warehouse_lock\n"
            "with warehouse_lock(Path(sys.argv[1]), 'job cron-morning') as held:\n"
            "    assert held\n    Path(sys.argv[2]).touch()\n    time.sleep(30)\n",
            str(db), str(ready),
        ],
        cwd=PROJECT_ROOT,
    )  # fmt: skip
    try:
        for _ in range(300):
            if ready.exists():
                break
            time.sleep(0.05)
        assert ready.exists()
        path = job_file(
            tmp_path, db,
            f'[[jobs]]\nname="j"\ncron="0 7 * * *"\ncampaign="{CAMPAIGN}"\nsteps=["trends"]\n',
        )  # fmt: skip
        result = CliRunner().invoke(app, ["schedule", "--config", str(path), "--once", "j"])
        assert result.exit_code == 0, result.output
        assert runs(db) == []
        assert "job cron-morning" in lock_path(db).read_text()
    finally:
        holder.kill()
        holder.wait()
    result = CliRunner().invoke(app, ["schedule", "--config", str(path), "--once", "j"])
    assert result.exit_code == 0 and runs(db)[0][:2] == ("schedule", "ok")


def test_the_scheduler_survives_a_failing_job(db: Path, tmp_path: Path) -> None:
    """The real APScheduler: cron jobs with max_instances=1 and coalesce; a failing job is
    logged and the next job still runs."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

    config = load_schedule(
        job_file(
            tmp_path, db,
            f'[[jobs]]\nname="bad"\ncron="0 7 * * *"\ncampaign="{CAMPAIGN}"\n'
            'steps=["collect", "trends"]\nsources=["x"]\n'
            f'[[jobs]]\nname="good"\ncron="30 7 * * 1"\ncampaign="{CAMPAIGN}"\nsteps=["trends"]\n',
        )
    )  # fmt: skip
    scheduler = build_scheduler(config, blocking=False)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"bad", "good"}
    assert all(j.max_instances == 1 and j.coalesce for j in jobs.values())
    assert str(jobs["good"].trigger).startswith("cron[month='*', day='*', day_of_week='1'")
    events: list[tuple[str, int]] = []
    finished = threading.Event()

    def listen(event: object) -> None:
        events.append((event.job_id, event.code))  # type: ignore[attr-defined]
        if len(events) == 2:
            finished.set()

    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        scheduler.modify_job("bad", next_run_time=datetime.now(scheduler.timezone))
        for _ in range(600):
            if events:
                break
            time.sleep(0.05)
        scheduler.modify_job("good", next_run_time=datetime.now(scheduler.timezone))
        assert finished.wait(60)
        assert scheduler.running
    finally:
        scheduler.shutdown(wait=True)
    assert events == [("bad", EVENT_JOB_EXECUTED), ("good", EVENT_JOB_EXECUTED)]
    assert [r[:2] for r in runs(db)] == [
        ("schedule", "failed"),
        ("schedule", "ok"),
        ("trends", "ok"),
    ]


def test_the_example_jobs_do_not_collide() -> None:
    """Over a week of ticks, the long morning job has 2 h to itself and any two jobs start
    at least 40 min apart (a job that finds the lock held is skipped: that run is lost)."""
    from datetime import UTC, timedelta
    from itertools import pairwise

    from apscheduler.triggers.cron import CronTrigger

    config = load_schedule(EXAMPLE)
    start = datetime(2025, 3, 24, tzinfo=UTC)  # a Monday
    ticks = []
    for job in config.jobs:
        trigger = CronTrigger.from_crontab(job.cron, timezone="UTC")
        at = trigger.get_next_fire_time(None, start)
        while at < start + timedelta(days=7):
            ticks.append((at, job.name))
            at = trigger.get_next_fire_time(at, at + timedelta(seconds=1))
    ticks.sort()
    assert {name for _, name in ticks} == {"morning", "hourly", "weekly"}
    for (at, name), (next_at, next_name) in pairwise(ticks):
        if name != next_name:
            room = timedelta(hours=2) if name == "morning" else timedelta(minutes=40)
            assert next_at - at >= room, (at, name, next_at, next_name)


def test_a_job_with_wait_s_waits_for_the_lock(db: Path, tmp_path: Path) -> None:
    config = load_schedule(
        job_file(
            tmp_path, db,
            f'[[jobs]]\nname="j"\ncron="0 7 * * *"\ncampaign="{CAMPAIGN}"\nsteps=["trends"]\n'
            "wait_s = 30\n",
        )
    )  # fmt: skip
    released = threading.Event()

    def hold() -> None:
        with warehouse_lock(db, "job other") as held:
            assert held
            time.sleep(1.5)
        released.set()

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    result = run_job(config, "j")
    holder.join()
    assert released.is_set() and result.status == "ok", result.error
    assert runs(db)[0][:2] == ("schedule", "ok")


def test_a_collect_error_is_not_hidden_by_the_refresh_after_it(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The collect fails (an unknown source) and the warehouse cannot be opened after it
    (here: the file was damaged meanwhile): the job reports the collect's error, and the
    failed refresh is only logged."""
    import hypewatch.collect

    real_collect = hypewatch.collect.collect

    def collect_then_damage(*args: object, **kwargs: object) -> object:
        db.write_bytes(b"not a warehouse any more")
        return real_collect(*args, **kwargs)

    monkeypatch.setattr(hypewatch.collect, "collect", collect_then_damage)
    caplog.set_level(logging.INFO, logger="hypewatch.schedule")
    config = load_schedule(
        job_file(
            tmp_path, db,
            f'[[jobs]]\nname="j"\ncron="0 7 * * *"\ncampaign="{CAMPAIGN}"\nsteps=["collect"]\n'
            'sources=["nope"]\n',
        )
    )  # fmt: skip
    result = run_job(config, "j")
    assert result.status == "failed" and result.failed_step == "collect"
    assert "unknown source 'nope'" in result.error, result.error
    assert "aggregates not refreshed after collect" in caplog.text


def test_the_trends_step_posts_alerts_with_the_warehouse_closed(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook is called after the step closed the warehouse: a reader can open it
    during the POST; the outcome is written back after."""
    from hypewatch.settings import get_settings
    from tests.test_webhooks import Hook

    hook = Hook([200])
    opened: list[str] = []

    def read_warehouse() -> None:
        try:
            duckdb.connect(str(db), read_only=True).close()
            opened.append("ok")
        except duckdb.Error as exc:
            opened.append(f"locked: {exc}")

    hook.on_post = read_warehouse
    monkeypatch.setenv("HYPEWATCH_ALERT_WEBHOOK_URL", hook.url)
    get_settings.cache_clear()
    try:
        config = load_schedule(
            job_file(
                tmp_path, db,
                f'[[jobs]]\nname="j"\ncron="0 7 * * *"\ncampaign="{CAMPAIGN}"\n'
                'steps=["trends"]\n',
            )
        )  # fmt: skip
        result = run_job(config, "j")
    finally:
        get_settings.cache_clear()
        hook.close()
    assert result.status == "ok", result.error
    assert opened == ["ok"]
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT DISTINCT delivery_status FROM alerts").fetchall()
    con.close()
    assert rows == [("sent",)]
