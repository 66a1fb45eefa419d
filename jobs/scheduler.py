"""The scheduler process (``scope scheduler``; ``scope run`` starts one beside
the web server). Several may run at once: each fire is claimed per
(job, slot) with slot = the scheduled minute, so duplicates collapse.

Schedules are cron expressions in UTC, overridable per job:
  SCOPE_SCHEDULE_REFRESH_AGGREGATES  default "*/5 * * * *"
  SCOPE_SCHEDULE_ROUTE_UNSCORED      default "*/2 * * * *"
  SCOPE_SCHEDULE_RETRAIN             default "0 2 * * *"
A value of "off" disables that job in this process.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import signal
from typing import Collection

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import OperationalError

from jobs.registry import JOBS
from jobs.runner import close_abandoned, record_scheduler_start, run_job

log = logging.getLogger(__name__)
MISFIRE_GRACE_S = 300


def env_var(name: str) -> str:
    return f"SCOPE_SCHEDULE_{name.upper()}"


def schedule_of(name: str, environ=None) -> str:
    environ = os.environ if environ is None else environ
    return (environ.get(env_var(name)) or JOBS[name].schedule).strip()


_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron_weekdays(field: str) -> str:
    """Standard cron's day-of-week numbers (0 or 7 = Sunday) as names: APScheduler counts
    from Monday = 0, so "0 3 * * 0" meant Mondays. Names and "*" pass through."""
    if field == "*" or not any(ch.isdigit() for ch in field):
        return field
    days: list[str] = []
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and not step.isdigit():
            raise ValueError(f"bad day-of-week step {part!r}")
        if base == "*":
            lo, hi = 0, 6
        elif "-" in base:
            lo_s, _, hi_s = base.partition("-")
            if not (lo_s.isdigit() and hi_s.isdigit()):
                raise ValueError(f"mix of day names and numbers in {part!r}")
            lo, hi = int(lo_s), int(hi_s)
        elif base.isdigit():
            lo = hi = int(base)
            if step:
                hi = 7   # "N/step" runs to the end of the range, 7 (Sunday) included
        else:
            raise ValueError(f"mix of day names and numbers in {part!r}")
        if not (0 <= lo <= hi <= 7):
            raise ValueError(f"day of week out of range in {part!r}")
        days += [_DAY_NAMES[d] for d in range(lo, hi + 1, int(step) if step else 1)]
    return ",".join(dict.fromkeys(days))


def trigger_for(expression: str) -> CronTrigger:
    try:
        fields = expression.split()
        if len(fields) == 5:
            expression = " ".join(fields[:4] + [_cron_weekdays(fields[4])])
        return CronTrigger.from_crontab(expression, timezone=dt.timezone.utc)
    except ValueError as exc:
        raise ValueError(f"bad cron expression {expression!r}: {exc}") from None


def slot_for(trigger: CronTrigger, now: dt.datetime, lookback_minutes: int = MISFIRE_GRACE_S // 60) -> str:
    """The scheduled minute this fire serves: the latest fire time at or before
    ``now`` (a late start still claims its own slot, not the current minute)."""
    minute = now.astimezone(dt.timezone.utc).replace(second=0, microsecond=0)
    for back in range(lookback_minutes + 1):
        candidate = minute - dt.timedelta(minutes=back)
        fire = trigger.get_next_fire_time(None, candidate)
        if fire is not None and fire == candidate:
            return candidate.strftime("%Y-%m-%dT%H:%MZ")
    return minute.strftime("%Y-%m-%dT%H:%MZ")


def _fire(factory, name: str, trigger: CronTrigger, settings) -> None:
    slot = slot_for(trigger, dt.datetime.now(dt.timezone.utc))
    try:
        result = run_job(factory, name, slot=slot, triggered_by="scheduler", settings=settings)
        status = result.get("status")
        # Successes are logged by the runner when they did something; anything else shows here.
        log.log(logging.DEBUG if status == "succeeded" else logging.INFO, "job %s slot %s: %s", name, slot, status)
    except OperationalError as exc:
        # The database is down or unreachable: the same stack trace on every fire of every job
        # until it is back would bury everything else in the log; one line each says it.
        first = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else ""
        log.error("job %s slot %s not run: the database is unreachable (%s)", name, slot, first[:300])
    except Exception:  # the scheduler must keep going whatever a run does
        log.exception("job %s slot %s could not be run", name, slot)


def build(factory, settings, environ=None) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=dt.timezone.utc,
                                  job_defaults={"coalesce": True, "max_instances": 1,
                                                "misfire_grace_time": MISFIRE_GRACE_S})
    for name in JOBS:
        expression = schedule_of(name, environ)
        if expression.lower() == "off":
            log.warning("job %s is off (%s=off)", name, env_var(name))
            continue
        trigger = trigger_for(expression)
        scheduler.add_job(_fire, trigger, args=(factory, name, trigger, settings), id=name, name=name)
        log.info("scheduled %s: %s (UTC)", name, expression)
    return scheduler


def _record_start(factory, scheduler: BlockingScheduler) -> None:
    """Say in the audit log that this scheduler starts, with what it schedules: the Jobs page
    counts a job's first scheduled run from here (began_scheduling)."""
    try:
        with factory() as session:
            record_scheduler_start(session, {job.id: schedule_of(job.id) for job in scheduler.get_jobs()})
            session.commit()
    except Exception:  # the scheduler starts all the same (the database may be down for now)
        log.exception("could not record the scheduler's start")


def serve(factory, settings) -> int:
    """Run in the foreground until SIGTERM/SIGINT; a running job is allowed to finish."""
    scheduler = build(factory, settings)

    def stop(signum, _frame):
        log.info("scheduler stopping (signal %s)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Runs a killed scheduler left "running" end as failed ("abandoned").
    try:
        close_abandoned(factory)
    except Exception:  # a sweep that fails must not stop the scheduler
        log.exception("could not close abandoned job runs")
    _record_start(factory, scheduler)
    log.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
    # Runs people ask for from a page (the audit page's Verify now) start here, not in a web request.
    from jobs.on_demand import start_polling
    start_polling(factory, settings)
    scheduler.start()
    log.info("scheduler stopped")
    return 0


# A scheduled run may start this late (misfire grace, a slow run before it) before its
# job counts as overdue.
OVERDUE_AFTER = dt.timedelta(minutes=10)


def began_scheduling(name: str, starts: list[tuple[dt.datetime, Collection[str]]], first_run: dt.datetime | None,
                     any_scheduled: bool) -> dt.datetime | None:
    """Since when a scheduler has been scheduling job ``name``, as far as the database can tell.

    ``starts``: the schedulers' starts, newest first, each with the jobs it scheduled (a
    "scheduler.start" row in the audit log, jobs.runner.scheduler_starts). The job has been
    scheduled since the oldest of the unbroken line of starts that named it, up to the newest:
    a job added by an upgrade, or switched off and on, counts from the start that brought it
    in, while a mere restart keeps counting from the job's last run (the runs missed while the
    scheduler was down are missed). The newest start without the job: it is off, None.
    No start recorded at all:
    * and no scheduled run of anything (``any_scheduled``): no scheduler has ever started. One
      should have with the installation (``first_run``, its first run of anything), so the
      jobs fall overdue from their first fire after it and the page says the scheduler is missing;
    * else the schedulers predate these records: nothing tells when this job's runs should
      have begun, and claiming a missed run would be a guess, None (a job they ran counts from
      its last scheduled run, overdue_since).
    The first run of anything counted for every job before: a job added later was overdue at once."""
    if not starts:
        return None if any_scheduled else first_run
    began = None
    for at, jobs in starts:
        if name not in jobs:
            break
        began = at
    return began


def overdue_since(expression: str, last_scheduled: dt.datetime | None, began: dt.datetime | None,
                  now: dt.datetime, running: bool = False) -> dt.datetime | None:
    """The fire time that should have produced a scheduled run by now and did not (no
    scheduler running, or one that cannot reach the database), or None. Counted from the
    later of the job's last scheduled run and ``began``, when a scheduler began scheduling it
    (began_scheduling): a restart with the job brought back does not count the fires of the
    time it was off. Pure apart from the trigger."""
    if running or expression.strip().lower() == "off":
        return None
    since = max((t for t in (last_scheduled, began) if t is not None), default=None)
    if since is None:
        return None
    try:
        trigger = trigger_for(expression)
    except ValueError:
        return None
    # The first fire strictly after the last scheduled start (fires are whole minutes).
    start = since.astimezone(dt.timezone.utc).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    due = trigger.get_next_fire_time(None, start)
    if due is None or due > now - OVERDUE_AFTER:
        return None
    return due


def overview(session, now: dt.datetime | None = None) -> list[dict]:
    """Every job with its schedule (as this process would read it), last run, and the
    scheduled fire it missed, if any ("overdue")."""
    from jobs.runner import last_runs, scheduled_starts, scheduler_starts

    now = now or dt.datetime.now(dt.timezone.utc)
    last = last_runs(session)
    scheduled, first = scheduled_starts(session)
    starts = scheduler_starts(session)
    out = []
    for name, job in JOBS.items():
        expression = schedule_of(name)
        run = last.get(name)
        began = began_scheduling(name, starts, first, bool(scheduled))
        out.append({"job": name, "description": job.description, "schedule": expression, "slow": job.slow,
                    "last_run": run,
                    "overdue_since": overdue_since(expression, scheduled.get(name), began, now,
                                                   running=bool(run and run["status"] == "running"))})
    return out
