"""Runs a person asks for from a web page, carried out by the scheduler process.

A page adds a row to job_requests (``request_run``); every scheduler polls the
table every POLL_S seconds (``start_polling``, from ``jobs.scheduler.serve``) and
starts each new request on a thread of its own, as run slot ``request-<id>``.
Long jobs (verifying the audit chain: minutes at millions of rows) thus never
run inside a web request, which gunicorn kills after 120 s, nor on a thread of
a web worker, which a worker restart kills.

Several schedulers may poll at once: a request is taken with FOR UPDATE SKIP
LOCKED and marked picked in the same transaction, and the run's unique
(job, slot) row would stop a second run anyway. No scheduler running shows as a
request nobody picked up: the page says so after PICKUP_LATE_S, and a request
lapses after LAPSE (a scheduler started hours later does not run it).
"""
from __future__ import annotations

import contextvars
import datetime as dt
import functools
import hashlib
import logging
import socket
import threading
import time

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from db.models import JobRequest, JobRun

log = logging.getLogger(__name__)
POLL_S = 2.0
PICKUP_LATE_S = 20
LAPSE = dt.timedelta(minutes=15)
PROGRESS_EVERY_S = 1.0

# The request a run serves, set on the thread that runs it (the job reads who asked).
_serving: contextvars.ContextVar[JobRequest | None] = contextvars.ContextVar("scope_job_request", default=None)


def slot_of(request_id: int) -> str:
    return f"request-{request_id}"


def _pending(job: str | None = None):
    query = select(JobRequest).where(JobRequest.picked_at.is_(None),
                                     JobRequest.requested_at > func.now() - LAPSE)
    return query.where(JobRequest.job == job) if job else query


def request_run(session: Session, job: str, requested_by: str) -> tuple[JobRequest | None, bool]:
    """Ask for a run of ``job``; returns (the request, whether it is new). A request
    still waiting, or a run in progress (then the newest request, if any), is answered
    as it is: no second run queues behind one that is already checking."""
    # Two people clicking at once: one request (the lock ends with the transaction).
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(job)})
    waiting = session.scalar(_pending(job).order_by(JobRequest.id.desc()).limit(1))
    if waiting is not None:
        return waiting, False
    if running_run(session, job) is not None:
        return latest_request(session, job), False
    request = JobRequest(job=job, requested_by=requested_by[:254])
    session.add(request)
    session.flush()
    session.refresh(request)  # requested_at, from the database's clock
    return request, True


def _lock_key(job: str) -> int:
    return int.from_bytes(hashlib.sha256(f"scope-job-request:{job}".encode()).digest()[:8], "big", signed=True)


def latest_request(session: Session, job: str) -> JobRequest | None:
    # populate_existing: the scheduler changes these rows behind a long-lived session's back.
    return session.scalar(select(JobRequest).where(JobRequest.job == job).order_by(JobRequest.id.desc()).limit(1)
                          .execution_options(populate_existing=True))


def running_run(session: Session, job: str) -> JobRun | None:
    """The run of ``job`` in progress (runs of one job never overlap: the runner's lock; a
    second one that lost the race shows "running" for a moment and then "skipped")."""
    return session.scalar(select(JobRun).where(JobRun.job == job, JobRun.status == "running")
                          .order_by(JobRun.id).limit(1).execution_options(populate_existing=True))


def status(session: Session, job: str, now: dt.datetime | None = None) -> dict:
    """What a page shows about ``job``'s on-demand run: state is "running" (with who asked,
    since when, and the job's progress), "waiting" (asked, not picked up yet), "late"
    (waiting longer than PICKUP_LATE_S: no scheduler is taking requests), "lapsed" (the
    newest request was never picked up) or "idle"."""
    now = now or session.scalar(select(func.now()))
    run = running_run(session, job)
    request = latest_request(session, job)
    asked = None if request is None else {"id": request.id, "by": request.requested_by, "at": request.requested_at}
    if run is not None:
        by = request.requested_by if request is not None and run.slot == slot_of(request.id) else run.triggered_by
        return {"state": "running", "by": by, "at": run.started_at, "progress": (run.detail or {}).get("progress"),
                "request": asked}
    if request is not None and request.picked_at is None:
        waited = (now - request.requested_at).total_seconds()
        if now - request.requested_at > LAPSE:
            return {"state": "lapsed", "by": request.requested_by, "at": request.requested_at, "request": asked}
        return {"state": "late" if waited > PICKUP_LATE_S else "waiting", "by": request.requested_by,
                "at": request.requested_at, "waited_s": int(waited), "request": asked}
    ended = None
    if request is not None:
        ran = session.scalar(select(JobRun).where(JobRun.job == job, JobRun.slot == slot_of(request.id))
                             .execution_options(populate_existing=True))
        if ran is None and (now - request.picked_at).total_seconds() < PICKUP_LATE_S:
            # Picked up a moment ago; the run's own row is about to appear.
            return {"state": "running", "by": request.requested_by, "at": request.picked_at, "progress": None,
                    "request": asked}
        if ran is not None:
            ended = {"status": ran.status, "error": ran.error, "at": ran.started_at, "by": request.requested_by}
    return {"state": "idle", "request": asked, "ended": ended}


# --- The scheduler's side -----------------------------------------------------

def take(factory: sessionmaker[Session]) -> list[JobRequest]:
    """Mark every pending request picked by this process and return them."""
    with factory() as session:
        requests = list(session.scalars(_pending().order_by(JobRequest.id).with_for_update(skip_locked=True)))
        if requests:
            session.execute(update(JobRequest).where(JobRequest.id.in_([r.id for r in requests]))
                            .values(picked_at=func.now(), picked_by=socket.gethostname()[:120]))
        for r in requests:
            session.expunge(r)  # kept as read, whatever the factory's expire_on_commit
        session.commit()
        return requests


def serve_request(factory: sessionmaker[Session], request: JobRequest, settings) -> dict | None:
    from jobs.runner import UnknownJob, run_job

    token = _serving.set(request)
    try:
        return run_job(factory, request.job, slot=slot_of(request.id), triggered_by=request.requested_by,
                       settings=settings)
    except UnknownJob:
        log.warning("request %s asks for unknown job %r; ignored", request.id, request.job)
    except Exception:  # one request's failure to start must not stop the others
        log.exception("request %s (%s) could not be run", request.id, request.job)
    finally:
        _serving.reset(token)
    return None


def poll_once(factory: sessionmaker[Session], settings, start=None) -> int:
    """Take the pending requests and start each (``start(fn)``: on a thread of its own)."""
    requests = take(factory)
    for request in requests:
        log.info("job %s asked for by %s (request %s)", request.job, request.requested_by, request.id)
        work = functools.partial(serve_request, factory, request, settings)
        if start is None:
            # Not a daemon: a run in progress finishes when the scheduler is asked to stop.
            threading.Thread(target=work, name=f"job-request-{request.id}").start()
        else:
            start(work)
    return len(requests)


def start_polling(factory: sessionmaker[Session], settings, stop: threading.Event | None = None) -> threading.Thread:
    """Poll for requests on a daemon thread until ``stop`` is set (or the process ends)."""
    stop = stop or threading.Event()

    def loop():
        while not stop.wait(POLL_S):
            try:
                poll_once(factory, settings)
            except Exception as exc:  # the database may be down for a while: say so once per minute at most
                now = time.monotonic()
                if now - getattr(loop, "last_error", -60) >= 60:
                    loop.last_error = now
                    log.error("could not read job requests: %s", str(exc).strip().splitlines()[0][:300])

    thread = threading.Thread(target=loop, name="job-requests", daemon=True)
    thread.start()
    return thread


# --- The job's side ---------------------------------------------------------------

def asked_by() -> str | None:
    """Who asked for the run this thread is serving, if a person did through a request."""
    request = _serving.get()
    return request.requested_by if request is not None else None


def progress_reporter(session: Session, job: str, every_s: float = PROGRESS_EVERY_S):
    """A ``progress(done, total)`` callable for a long job: writes {"progress": {...}} into
    the detail of its run (the runner replaces it with the outcome at the end) on a
    connection of its own, committed at once, so a page can show it while the job's
    own transaction is still open. At most once per ``every_s``."""
    engine = session.get_bind()
    request = _serving.get()
    slot = slot_of(request.id) if request is not None else None
    last = [0.0]

    def report(done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] < every_s and not (total and done >= total):
            return
        last[0] = now
        where = "job = :job AND status = 'running' AND " + ("slot = :slot" if slot else
                                                            "id = (SELECT min(id) FROM job_runs "
                                                            "WHERE job = :job AND status = 'running')")
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"UPDATE job_runs SET detail = jsonb_build_object('progress', "  # nosec B608
                                  f"jsonb_build_object('done', CAST(:done AS bigint), 'total', CAST(:total AS bigint)))"
                                  f" WHERE {where}"),
                             {"job": job, "slot": slot, "done": done, "total": total})
        except Exception as exc:  # progress is a nicety: the check itself goes on
            log.warning("could not record the progress of %s: %s", job, exc.__class__.__name__)

    return report
