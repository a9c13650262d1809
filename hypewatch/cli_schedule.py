"""``hypewatch schedule``: run the job file's jobs on their schedules, or one job now.

Registered in :mod:`hypewatch.cli` with ``app.command("schedule")(schedule_command)``.
APScheduler loads only when the command runs.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from hypewatch.cli_common import friendly_errors, out
from hypewatch.schedule import build_scheduler, load_schedule, lock_path, run_job
from hypewatch.settings import get_settings

LOGGERS = ("hypewatch", "analysis", "warehouse", "ingest", "dashboard", "apscheduler")
"""Loggers whose INFO lines the scheduler shows (httpx's are not: they name URLs)."""


def setup_logging(log_file: Path | None) -> None:
    """Timestamped INFO lines of :data:`LOGGERS` on stderr (and appended to ``log_file``);
    the root logger and other libraries' loggers are left as they are."""
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.set_name("hypewatch-schedule")
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == "hypewatch-schedule"]:
            logger.removeHandler(old)
            old.close()
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@friendly_errors
def schedule_command(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Job file (default: $HYPEWATCH_SCHEDULE_FILE or schedule.toml)"
        ),
    ] = None,
    once: Annotated[
        str | None,
        typer.Option("--once", help="Run this job now and exit (for cron or a systemd timer)"),
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="Warehouse file (default: the job file's db)")
    ] = None,
    log_file: Annotated[
        Path | None, typer.Option("--log-file", help="Also append the log to this file")
    ] = None,
) -> None:
    """Run collect, analyze, topics, trends and reports on the job file's cron schedules."""
    path = config or get_settings().schedule_file
    schedule = load_schedule(path)
    setup_logging(log_file)
    if once is not None:
        result = run_job(schedule, schedule.job(once), db=db)
        if result.status == "failed":
            raise typer.Exit(1)
        return
    scheduler = build_scheduler(schedule, db=db)
    now = datetime.now(ZoneInfo(schedule.timezone))
    for job in scheduler.get_jobs():
        cron = schedule.job(job.id).cron
        first = job.trigger.get_next_fire_time(None, now)
        out.print(f"job {job.id}: {cron!r}, next run {first:%Y-%m-%d %H:%M %Z}", markup=False)
    where = db or schedule.db or get_settings().db
    out.print(
        f"scheduler started ({schedule.timezone}); one job at a time on {where} "
        f"(lock {lock_path(Path(where))}); Ctrl+C stops it",
        markup=False,
    )

    def stop(signum: int, _frame: object) -> None:
        logging.getLogger("hypewatch.schedule").info(
            "%s: stopping; a job already running is finished first",
            signal.Signals(signum).name,
        )
        scheduler.shutdown(wait=False)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
