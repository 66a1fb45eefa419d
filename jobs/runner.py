"""Run one job once: claim its (job, slot) row, hold a per-job advisory lock,
run it in its own transaction and record how it ended in job_runs.

Two guards, two purposes:
* the UNIQUE (job, slot) row makes schedulers started side by side collapse
  onto one run per scheduled slot (the loser's INSERT does nothing);
* the advisory lock stops a manual run (unique slot) and a scheduled one from
  overlapping: whoever finds it taken records "skipped".

The lock also tells a live run from a dead one: a process that is killed
mid-run leaves its row "running", but its connection (and so its lock) dies
with it. ``close_abandoned`` (at scheduler start) and every run (once it holds
the lock) close such rows as failed, so the history never shows a run that
will not end.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import socket
import time
import uuid
from typing import Mapping

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from db.models import AuditLog, JobRun
from services import audit

log = logging.getLogger(__name__)
ERROR_LIMIT = 2000
ABANDONED = "abandoned: the process running it stopped before it finished"
# A row is claimed a moment before its lock is taken; a sweep that does not hold
# the lock itself leaves rows that young alone.
ABANDON_GRACE_S = 30


class UnknownJob(LookupError):
    pass


def lock_key(name: str) -> int:
    """A stable signed 64-bit key per job name (Python's hash() changes per process)."""
    return int.from_bytes(hashlib.sha256(f"scope-job:{name}".encode()).digest()[:8], "big", signed=True)


def manual_slot() -> str:
    return f"manual-{uuid.uuid4()}"


def summary(run: JobRun) -> dict:
    duration = ((run.finished_at - run.started_at).total_seconds()
                if run.finished_at and run.started_at else None)
    return {"id": run.id, "job": run.job, "slot": run.slot, "triggered_by": run.triggered_by,
            "status": run.status, "started_at": run.started_at, "finished_at": run.finished_at,
            "duration_s": round(duration, 2) if duration is not None else None, "rows": run.rows,
            "detail": run.detail or {}, "error": run.error, "host": run.host}


def _claim(factory: sessionmaker[Session], name: str, slot: str, triggered_by: str) -> int | None:
    with factory() as session:
        run_id = session.scalar(
            insert(JobRun).values(job=name, slot=slot[:60], triggered_by=triggered_by[:254], status="running",
                                  host=socket.gethostname()[:120], detail={})
            .on_conflict_do_nothing(constraint="uq_job_runs_job_slot").returning(JobRun.id))
        if run_id is not None and triggered_by != "scheduler":
            # A person (or the CLI) started it: that belongs in the audit trail.
            audit.record(session, actor=triggered_by[:254], action="job.run", target_type="job_run",
                         target_id=run_id, after={"job": name, "slot": slot})
        session.commit()
        return run_id


def _finish(factory: sessionmaker[Session], run_id: int, *, status: str, rows: int | None = None,
            detail: dict | None = None, error: str | None = None) -> dict:
    with factory() as session:
        run = session.get(JobRun, run_id)
        # Whatever a job reports must fit in JSONB (dates, decimals become text).
        run.status, run.rows, run.detail = status, rows, json.loads(json.dumps(detail or {}, default=str))
        run.error = error[:ERROR_LIMIT] if error else None
        run.finished_at = func.clock_timestamp()  # the database's clock, like started_at
        session.flush()
        session.refresh(run)
        session.commit()
        return summary(run)


def run_job(factory: sessionmaker[Session], name: str, *, slot: str | None = None,
            triggered_by: str = "scheduler", settings=None, jobs: Mapping | None = None) -> dict:
    """Run job ``name`` for ``slot`` (a manual, unique slot when None). Never
    raises for a job's own failure: it is recorded as status "failed"."""
    if jobs is None:
        from jobs.registry import JOBS as jobs
    job = jobs.get(name)
    if job is None:
        raise UnknownJob(f"unknown job {name!r} (known: {', '.join(sorted(jobs))})")
    slot = slot or manual_slot()
    run_id = _claim(factory, name, slot, triggered_by)
    if run_id is None:
        log.info("job %s slot %s already claimed elsewhere", name, slot)
        return {"job": name, "slot": slot, "status": "duplicate",
                "detail": {"reason": "another process already ran this slot"}}
    if settings is None:
        from config import Settings
        settings = Settings.from_env()

    # The lock lives on a connection of its own, held (outside the pool's
    # hands) for the whole run, so the job's transaction can commit or roll
    # back without releasing it; a dead connection releases it too.
    key = lock_key(name)
    with factory.kw["bind"].connect().execution_options(isolation_level="AUTOCOMMIT") as lock_conn:
        if not lock_conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}):
            return _finish(factory, run_id, status="skipped",
                           detail={"reason": f"another run of {name} is in progress"})
        try:
            _mark_abandoned(factory, name, exclude_id=run_id, grace_s=0)
            return _run_locked(factory, job, run_id, slot, settings)
        finally:
            lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def _run_locked(factory: sessionmaker[Session], job, run_id: int, slot: str, settings) -> dict:
    started = time.monotonic()
    try:
        with factory() as session:
            outcome = job.fn(session, settings) or {}
            session.commit()
    except Exception as exc:
        log.exception("job %s (slot %s) failed", job.name, slot)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return _finish(factory, run_id, status="failed", error=f"{exc.__class__.__name__}: {message}")
    # A run that touched nothing (route_unscored every two minutes with nothing new)
    # is not worth a line in the scheduler's output; the Jobs page keeps it.
    rows = outcome.get("rows")
    log.log(logging.INFO if rows else logging.DEBUG, "job %s (slot %s) done in %.1fs: %s rows", job.name, slot,
            time.monotonic() - started, rows or 0)
    error = outcome.get("error")
    if error:
        log.error("job %s (slot %s) ended with an error: %s", job.name, slot, error)
    return _finish(factory, run_id, status=outcome.get("status", "succeeded"), rows=outcome.get("rows"),
                   detail=outcome.get("detail"), error=str(error) if error else None)


def _mark_abandoned(factory: sessionmaker[Session], name: str, *, exclude_id: int | None = None,
                    grace_s: int = ABANDON_GRACE_S) -> int:
    """Close ``name``'s "running" rows as failed; the caller holds the job's lock,
    so none of them is running anywhere."""
    with factory() as session:
        ids = session.scalars(text(
            "UPDATE job_runs SET status = 'failed', error = :error, finished_at = clock_timestamp() "
            "WHERE job = :job AND status = 'running' AND id <> :exclude "
            "AND started_at < clock_timestamp() - make_interval(secs => :grace) RETURNING id"),
            {"error": ABANDONED, "job": name, "exclude": exclude_id or 0, "grace": grace_s}).all()
        session.commit()
    if ids:
        log.warning("job %s: closed abandoned run(s) %s as failed", name, ", ".join(map(str, ids)))
    return len(ids)


def close_abandoned(factory: sessionmaker[Session], grace_s: int = ABANDON_GRACE_S) -> int:
    """Mark every "running" row whose job lock nobody holds as failed; returns how many."""
    with factory() as session:
        names = session.scalars(select(JobRun.job).distinct().where(JobRun.status == "running")).all()
    closed = 0
    for name in names:
        with factory.kw["bind"].connect().execution_options(isolation_level="AUTOCOMMIT") as lock_conn:
            if not lock_conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(name)}):
                continue  # a live run holds it
            try:
                closed += _mark_abandoned(factory, name, grace_s=grace_s)
            finally:
                lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
    return closed


def last_runs(session: Session) -> dict[str, dict]:
    """The latest run of every job that has run, by job name."""
    latest = (select(JobRun.job, func.max(JobRun.started_at).label("at")).group_by(JobRun.job).subquery())
    rows = session.scalars(select(JobRun).join(latest, (JobRun.job == latest.c.job)
                                                & (JobRun.started_at == latest.c.at))).all()
    return {r.job: summary(r) for r in rows}


def scheduled_starts(session: Session) -> tuple[dict[str, dt.datetime], dt.datetime | None]:
    """When the scheduler last started each job (runs people started do not count), and
    the first run of anything (the installation's first start), for telling whether
    a scheduler is running at all."""
    latest = dict(session.execute(select(JobRun.job, func.max(JobRun.started_at))
                                  .where(JobRun.triggered_by == "scheduler").group_by(JobRun.job)).all())
    return latest, session.scalar(select(func.min(JobRun.started_at)))


# A scheduler process says in the audit log when it starts and what it schedules: the only
# record of when a job began to be scheduled (jobs/scheduler.py began_scheduling).
SCHEDULER_START = "scheduler.start"


def record_scheduler_start(session: Session, schedules: Mapping[str, str]) -> None:
    """``schedules``: job name -> cron expression of the jobs this scheduler runs (not the ones off)."""
    host = socket.gethostname()[:80]
    audit.record(session, actor="scheduler", action=SCHEDULER_START, target_type="scheduler", target_id=host,
                 after={"jobs": dict(schedules), "host": host})


def scheduler_starts(session: Session, limit: int = 100) -> list[tuple[dt.datetime, frozenset[str]]]:
    """The latest scheduler starts, newest first, each with the jobs it scheduled. ``limit``:
    the Jobs page reads this every 5 s, and a scheduler may have restarted thousands of times;
    a job on the schedule of all the starts read counts as scheduled since the oldest of them."""
    rows = session.execute(select(AuditLog.at, AuditLog.after).where(AuditLog.action == SCHEDULER_START)
                           .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)).all()
    return [(at, frozenset((after or {}).get("jobs") or ())) for at, after in rows]


def recent_runs(session: Session, limit: int = 50, *, job: str | None = None,
                hide_idle: bool = False) -> list[dict]:
    """Newest runs first. ``hide_idle`` leaves out scheduled runs that succeeded
    without touching a row (route_unscored every two minutes with nothing to route),
    which otherwise push the runs worth reading off the list; failures and runs a
    person started always show."""
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if job is not None:
        query = query.where(JobRun.job == job)
    if hide_idle:
        query = query.where(~((JobRun.triggered_by == "scheduler") & (JobRun.status == "succeeded")
                              & (func.coalesce(JobRun.rows, 0) == 0)))
    return [summary(r) for r in session.scalars(query)]

