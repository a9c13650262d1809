"""Scheduled pipeline runs: jobs of steps (collect, analyze, topics, trends, report) on
cron-like schedules, one job at a time per warehouse.

A job file (TOML, see docs/scheduling.md and docs/schedule.example.toml) lists jobs with a
crontab line, a campaign and the steps to run in order. :func:`run_job` runs one job under
a lock file next to the warehouse (``<db>.schedule.lock``, ``fcntl.flock``, non-blocking):
a job that finds the warehouse busy with another job (this process or another one, e.g.
a cron line) waits up to its ``wait_s`` for it (default 0), then is skipped and logged:
that run is lost, not queued. A failing step is logged, ends its job (the remaining
steps are skipped) and never the scheduler. Each job run is logged (start, end, status,
duration) and stored as an ``analysis_runs`` row with ``stage = 'schedule'``.
:func:`build_scheduler` puts the jobs on an APScheduler 3 scheduler
(``CronTrigger.from_crontab``, ``max_instances=1``, ``coalesce=True``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hypewatch import stages
from hypewatch.campaigns import CampaignError

log = logging.getLogger("hypewatch.schedule")


class ScheduleError(ValueError):
    """A job file is missing or invalid (the message names the file and the field)."""


class StepFailed(RuntimeError):
    """A step ended without doing its work, for a reason its message gives in full."""


# --------------------------------------------------------------------------- the job file


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    cron: str
    """Crontab line, 5 fields: minute hour day-of-month month day-of-week."""
    campaign: str
    """Campaign name (``campaigns/NAME.toml``) or .toml path."""
    steps: list[str] = Field(min_length=1)
    sources: list[str] = Field(default_factory=list)
    """``collect``: sources to collect (empty: every source with credentials)."""
    report_period: Literal["day", "week"] = "day"
    report_formats: list[Literal["html", "md", "pdf"]] = Field(default_factory=lambda: ["html"])
    out: Path = Path("reports")
    """``report``: folder the reports are written to."""
    wait_s: float = Field(default=0.0, ge=0, le=6 * 3600)
    """How long the job waits for the warehouse lock before it is skipped (0: skip at once)."""

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a crontab line ({exc})") from None
        return value

    @field_validator("steps")
    @classmethod
    def _known_steps(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in STEPS]
        if unknown:
            raise ValueError(f"unknown step {unknown[0]!r} (steps: {', '.join(STEPS)})")
        return value


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    db: Path | None = None
    """Warehouse file (default: the ``db`` setting)."""
    timezone: str = "UTC"
    """Time zone the crontab lines are read in."""
    jobs: list[Job] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> ScheduleConfig:
        names = [j.name for j in self.jobs]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"job name {name!r} is used twice")
        return self

    def job(self, name: str) -> Job:
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(j.name for j in self.jobs)
        raise ScheduleError(f"no job {name!r} in the job file (jobs: {known})")


def load_schedule(path: Path) -> ScheduleConfig:
    """Read and validate a job file; campaigns are checked to exist."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScheduleError(
            f"job file {path} does not exist (see docs/scheduling.md; --config FILE)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(f"{path} is not valid TOML: {exc}") from None
    try:
        config = ScheduleConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ScheduleError(f"{path}: {problems}") from None
    for i, job in enumerate(config.jobs):
        try:
            stages.load_campaign_named(job.campaign)
        except CampaignError as exc:
            raise ScheduleError(f"{path}: jobs.{i}.campaign: {exc}") from None
    return config


# ---------------------------------------------------------------------------------- steps


@dataclass
class StepContext:
    db: Path
    job: Job
    campaign: str
    """The campaign's name (its file is loaded by the steps that need it)."""


Step = Callable[[StepContext], str]
"""A step runs one stage (:mod:`hypewatch.stages`) against the warehouse and returns a
one-line summary; it raises on failure. Each stage opens the warehouse itself and closes
it (readers get in between)."""


def _log_lines(ctx: StepContext, lines: Sequence[str], *, warnings: Sequence[str] = ()) -> None:
    """What the command line prints of a stage, logged (its warnings as warnings)."""
    for line in lines:
        log.info("job %s: %s", ctx.job.name, line.strip())
    for warning in warnings:
        log.warning("job %s: %s", ctx.job.name, warning)


@contextmanager
def _writer(db: Path) -> Iterator[Any]:
    warnings: list[str] = []
    try:
        with stages.writing(db, warnings) as con:
            yield con
    finally:
        for warning in warnings:
            log.warning(warning)


def collect_step(ctx: StepContext) -> str:
    """Collect new posts from the live sources (resumes where the last run stopped)."""
    camp = stages.load_campaign_named(ctx.campaign)
    # a failed refresh after it (say the warehouse is locked by someone else) is only
    # logged: the next write refreshes the aggregates; it never hides the collect's error
    report = stages.collect_stage(ctx.db, camp, ctx.job.sources or None)
    if (exc := report.refresh_error) is not None:
        log.warning("aggregates not refreshed after collect (%s: %s)", type(exc).__name__, exc)
    _log_lines(ctx, [], warnings=report.warnings)
    reports = report.sources
    failed = [r for r in reports if r.status == "failed"]
    asked_skipped = [r for r in reports if r.status == "skipped" and r.source in ctx.job.sources]
    for r in reports:
        if r.status != "ok":
            log.warning("collect %s: %s%s", r.source, r.status, f" ({r.error})" if r.error else "")
    if failed or asked_skipped:
        bad = failed + asked_skipped
        raise StepFailed("collect: " + "; ".join(f"{r.source} {r.status}: {r.error}" for r in bad))
    new = sum(r.new for r in reports)
    ran = [r.source for r in reports if r.status != "skipped"]
    return f"{new:,} new posts from {', '.join(ran) or 'no source (no credentials)'}"


def analyze_step(ctx: StepContext) -> str:
    """Embed and label the posts not done yet."""
    result = stages.analyze_stage(ctx.db, ctx.campaign)
    _log_lines(ctx, result.lines(), warnings=result.warnings)
    return f"{result.analysis.posts:,} posts embedded and labelled"


def topics_step(ctx: StepContext) -> str:
    """Assign new posts to the current topics (fits a first run when there is none)."""
    report = stages.topics_stage(ctx.db, ctx.campaign)
    _log_lines(ctx, report.lines(), warnings=report.warnings)
    return f"topic run {report.run_id}: {report.fitted.assigned:,} posts assigned"


def trends_step(ctx: StepContext) -> str:
    """Flags, spikes and indices, then the campaign's alerts; the webhook is called after
    the warehouse is closed (readers are not held up by it) and the outcome written back
    in a short reopen."""
    report = stages.trends_stage(ctx.db, ctx.campaign)
    lines = [line for fired in report.alerts for line in fired.lines()]
    warnings = list(report.warnings)
    if (delivery := report.delivery) is not None:
        (lines if delivery.report is not None else warnings).append(delivery.line())
    _log_lines(ctx, [*filter(None, [report.reload_line()]), *lines], warnings=warnings)
    return f"{report.spikes} spikes; {report.alerts_stored} alerts stored for the campaign"


def report_step(ctx: StepContext) -> str:
    """Write the campaign's report of the last day or week (``hypewatch report``)."""
    job = ctx.job
    try:
        report = stages.report_stage(
            ctx.db, ctx.campaign, job.report_period, None, job.report_formats, job.out
        )
    except ImportError as exc:
        raise StepFailed(f"the report step needs dashboard.reports ({exc})") from None
    return "wrote " + ", ".join(str(p) for p in report.paths)


STEPS: dict[str, Step] = {
    "collect": collect_step,
    "analyze": analyze_step,
    "topics": topics_step,
    "trends": trends_step,
    "report": report_step,
}
"""The registry of named steps a job may list, in their usual order."""


# ------------------------------------------------------------------------ running a job


def lock_path(db: Path) -> Path:
    """The lock file of a warehouse's jobs: ``<db>.schedule.lock`` next to it."""
    return db.with_name(db.name + ".schedule.lock")


LOCK_POLL_S = 1.0
"""How often a job with ``wait_s`` tries the lock again."""


@contextmanager
def warehouse_lock(db: Path, holder: str, wait_s: float = 0.0) -> Iterator[bool]:
    """Hold the warehouse's job lock if it is free (yields True); else try again every
    :data:`LOCK_POLL_S` for up to ``wait_s`` seconds, then yield False.

    ``flock`` on an open file: released when the file is closed, also when the process
    dies, so a crashed job never leaves the warehouse locked.
    """
    path = lock_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    give_up = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = give_up - time.monotonic()
                if left <= 0:
                    yield False
                    return
                time.sleep(min(LOCK_POLL_S, left))
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{holder} pid {os.getpid()}\n".encode())
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_holder(db: Path) -> str:
    """Who holds (or last held) the lock, as written in the lock file."""
    try:
        return lock_path(db).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


@dataclass
class JobResult:
    job: str
    status: Literal["ok", "failed", "skipped"]
    steps_done: list[str] = field(default_factory=list)
    failed_step: str | None = None
    error: str | None = None
    seconds: float = 0.0


def _record_start(db: Path, job: Job, campaign: str) -> int | None:
    from warehouse.writes import start_analysis_run

    try:
        with _writer(db) as con:
            return start_analysis_run(
                con, "schedule", campaign=campaign, models=[f"job:{job.name}", *job.steps]
            )
    except Exception as exc:  # the log still has the run; the steps will say what is wrong
        log.warning("job %s: not recorded in analysis_runs (%s)", job.name, exc)
        return None


def _record_end(db: Path, run: int | None, result: JobResult) -> None:
    from warehouse.writes import finish_analysis_run

    if run is None:
        return
    try:
        with _writer(db) as con:
            finish_analysis_run(
                con, run, posts=0, seconds=result.seconds,
                status="ok" if result.status == "ok" else "failed", error=result.error,
            )  # fmt: skip
    except Exception as exc:
        log.warning("job %s: end not recorded in analysis_runs (%s)", result.job, exc)


def _expected(exc: Exception) -> bool:
    """Errors whose message says it all (no traceback in the log)."""
    return isinstance(exc, (StepFailed, *stages.USER_ERRORS))  # ReportError is a ValueError


def run_job(
    config: ScheduleConfig,
    job: Job | str,
    *,
    db: Path | None = None,
    steps: Mapping[str, Step] = STEPS,
) -> JobResult:
    """Run one job's steps in order under the warehouse lock; never raises for a failing
    step (the result says which failed and why) nor for a busy warehouse (``skipped``)."""
    job = config.job(job) if isinstance(job, str) else job
    path = Path(db or config.db or stages.db_path(None))
    start = time.perf_counter()
    with warehouse_lock(path, f"job {job.name}", job.wait_s) as locked:
        if not locked:
            result = JobResult(job.name, "skipped", error=f"warehouse busy ({lock_holder(path)})")
            waited = f" after waiting {job.wait_s:g} s" if job.wait_s else ""
            log.warning(
                "job %s skipped%s: %s holds %s; this run is lost, the next tick runs it",
                job.name, waited, lock_holder(path), path,
            )  # fmt: skip
            return result
        log.info("job %s started: %s on %s", job.name, " -> ".join(job.steps), path)
        result = JobResult(job.name, "ok")
        try:
            campaign = stages.load_campaign_named(job.campaign).name
        except Exception as exc:
            result.status, result.error = "failed", f"campaign: {exc}"
            log.error("job %s failed: %s", job.name, result.error)
            return result
        run = _record_start(path, job, campaign)
        ctx = StepContext(db=path, job=job, campaign=campaign)
        for name in job.steps:
            step_start = time.perf_counter()
            log.info("job %s: step %s started", job.name, name)
            try:
                summary = steps[name](ctx)
            except Exception as exc:
                result.status, result.failed_step = "failed", name
                result.error = f"step {name}: {type(exc).__name__}: {exc}"
                log.error(
                    "job %s: step %s failed after %.1f s: %s; remaining steps skipped",
                    job.name, name, time.perf_counter() - step_start, result.error,
                    exc_info=not _expected(exc),
                )  # fmt: skip
                break
            result.steps_done.append(name)
            log.info(
                "job %s: step %s ok in %.1f s: %s",
                job.name, name, time.perf_counter() - step_start, summary,
            )  # fmt: skip
        result.seconds = time.perf_counter() - start
        _record_end(path, run, result)
    log.log(
        logging.INFO if result.status == "ok" else logging.ERROR,
        "job %s %s in %.1f s (%d of %d steps done)",
        job.name, result.status, result.seconds, len(result.steps_done), len(job.steps),
    )  # fmt: skip
    return result


# ---------------------------------------------------------------------------- the scheduler


def build_scheduler(
    config: ScheduleConfig, *, db: Path | None = None, blocking: bool = True
) -> Any:
    """An APScheduler 3 scheduler with one cron job per configured job (not started)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=config.timezone)
    for job in config.jobs:
        scheduler.add_job(
            _scheduled,
            CronTrigger.from_crontab(job.cron, timezone=config.timezone),
            args=[config, job.name, db],
            id=job.name,
            name=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=600,
        )
    return scheduler


def _scheduled(config: ScheduleConfig, name: str, db: Path | None) -> None:
    """What the scheduler runs: a job, with anything unexpected logged, never raised."""
    try:
        run_job(config, name, db=db)
    except Exception:
        log.exception("job %s crashed; the scheduler goes on", name)
