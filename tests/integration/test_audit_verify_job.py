"""Verifying the audit chain as a job (verify_audit_chain), asked for from a page and
carried out by the scheduler process (jobs.on_demand): who asked is recorded, a broken
chain is a failed run whose finding is kept, progress shows while it runs, and a
request nobody picks up is told apart from one under way."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import select, text

from config import Settings
from db.models import AuditLog, JobRequest, JobRun
from db.session import make_engine, make_session_factory, normalise_url
from jobs import on_demand
from jobs.registry import JOBS
from jobs.runner import run_job
from tests import dbutil

JOB = "verify_audit_chain"


@pytest.fixture()
def db():
    url, admin = dbutil.create_database("scope_verify_job")
    dbutil.upgrade(url)
    engine = make_engine(normalise_url(url))
    yield url, make_session_factory(engine)
    engine.dispose()
    dbutil.drop_database(url, admin)


def _write(url: str, n: int) -> None:
    with psycopg.connect(dbutil.libpq(url), autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (actor, action, after) SELECT 't', 'test.event', "
                     "jsonb_build_object('i', g) FROM generate_series(1, %s) g", (n,))


def _last_verify(factory) -> AuditLog:
    with factory() as s:
        return s.scalar(select(AuditLog).where(AuditLog.action == "audit.verify").order_by(AuditLog.seq.desc()))


def test_the_job_is_registered_nightly_and_slow():
    job = JOBS[JOB]
    assert job.slow and job.schedule.split()[2:] == ["*", "*", "*"]  # once a day


def test_a_run_verifies_and_records_who_ran_it(db):
    url, factory = db
    _write(url, 30)
    result = run_job(factory, JOB, triggered_by="cli:ops", settings=Settings())
    assert result["status"] == "succeeded" and result["rows"] == 31  # and the runner's job.run entry
    row = _last_verify(factory)
    assert row.actor == "cli:ops" and row.after["ok"] is True and row.after["count"] == 31


def test_a_broken_chain_is_a_failed_run_and_the_finding_is_kept(db):
    url, factory = db
    _write(url, 5)
    with psycopg.connect(dbutil.libpq(url), autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_immutable")
        conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_immutable")
    result = run_job(factory, JOB, settings=Settings())
    assert result["status"] == "failed" and result["error"].startswith("BROKEN at row id")
    row = _last_verify(factory)
    assert row.actor == "scheduler" and row.after["ok"] is False and row.after["broken_seq"] == 3


def test_a_request_is_run_once_by_whichever_scheduler_takes_it(db):
    url, factory = db
    _write(url, 12)
    with factory() as s:
        request, new = on_demand.request_run(s, JOB, "admin@scope.example")
        again, new_again = on_demand.request_run(s, JOB, "other@scope.example")
        s.commit()
        assert new and not new_again and again.id == request.id  # a second click adds nothing
        assert on_demand.status(s, JOB)["state"] == "waiting"
    ran = []
    assert on_demand.poll_once(factory, Settings(), start=lambda work: ran.append(work())) == 1
    assert on_demand.poll_once(factory, Settings(), start=lambda work: ran.append(work())) == 0  # already taken
    assert ran[0]["status"] == "succeeded" and ran[0]["slot"] == f"request-{request.id}"
    row = _last_verify(factory)
    assert row.actor == "admin@scope.example" and row.after["count"] == 13  # with the job.run entry
    with factory() as s:
        run = s.scalar(select(JobRun).where(JobRun.slot == f"request-{request.id}"))
        assert run.triggered_by == "admin@scope.example"
        # The person who asked is in the trail from the moment the scheduler starts the run.
        assert s.scalar(select(AuditLog).where(AuditLog.action == "job.run", AuditLog.target_id == str(run.id))
                        ).actor == "admin@scope.example"
        state = on_demand.status(s, JOB)
        assert state["state"] == "idle" and state["ended"]["status"] == "succeeded"


def test_no_scheduler_is_told_apart_from_waiting_and_old_requests_lapse(db):
    _, factory = db
    with factory() as s:
        request, _ = on_demand.request_run(s, JOB, "admin@scope.example")
        s.execute(text("UPDATE job_requests SET requested_at = now() - interval '45 seconds' WHERE id = :i"),
                  {"i": request.id})
        s.commit()
        state = on_demand.status(s, JOB)
        assert state["state"] == "late" and state["waited_s"] >= 44
        s.execute(text("UPDATE job_requests SET requested_at = now() - interval '16 minutes' WHERE id = :i"),
                  {"i": request.id})
        s.commit()
        assert on_demand.status(s, JOB)["state"] == "lapsed"
        # A scheduler started now does not run a check asked for long ago; a new click asks again.
        assert on_demand.take(factory) == []
        fresh, new = on_demand.request_run(s, JOB, "admin@scope.example")
        s.commit()
        assert new and fresh.id != request.id


def test_progress_shows_while_the_job_runs(db):
    url, factory = db
    _write(url, 12_000)  # three batches of the verifier
    seen, release = [], threading.Event()
    original = on_demand.progress_reporter

    def slowed(session, job, every_s=0.0):
        report = original(session, job, every_s=0.0)

        def wrapped(done, total):
            report(done, total)
            if done:
                seen.append(done)
                release.wait(5)

        return wrapped

    on_demand.progress_reporter, thread = slowed, None
    try:
        thread = threading.Thread(target=run_job, args=(factory, JOB), kwargs={"settings": Settings()})
        thread.start()
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        with factory() as s:
            state = on_demand.status(s, JOB)
        assert state["state"] == "running" and state["by"] == "scheduler"
        assert state["progress"] == {"done": 5000, "total": 12_000}
    finally:
        release.set()
        on_demand.progress_reporter = original
        if thread is not None:
            thread.join(30)
    assert _last_verify(factory).after["count"] == 12_000


def test_the_scheduler_polls_and_runs_a_request(db):
    url, factory = db
    _write(url, 3)
    stop = threading.Event()
    old_poll = on_demand.POLL_S
    on_demand.POLL_S = 0.2
    try:
        on_demand.start_polling(factory, Settings(), stop)
        with factory() as s:
            request, _ = on_demand.request_run(s, JOB, "admin@scope.example")
            s.commit()
        deadline, run = time.monotonic() + 20, None
        while time.monotonic() < deadline:
            with factory() as s:
                run = s.scalar(select(JobRun).where(JobRun.slot == f"request-{request.id}"))
                if run is not None and run.status != "running":
                    break
            time.sleep(0.1)
    finally:
        stop.set()
        on_demand.POLL_S = old_poll
    assert run is not None and run.status == "succeeded" and run.rows == 4
    with factory() as s:
        picked = s.get(JobRequest, request.id)
        assert picked.picked_at is not None and picked.picked_by


def test_asking_while_a_check_runs_queues_nothing_behind_it(db):
    _, factory = db
    with factory() as s:
        s.add(JobRun(job=JOB, slot="2026-12-07T03:10Z", triggered_by="scheduler", status="running"))
        s.commit()
        request, new = on_demand.request_run(s, JOB, "admin@scope.example")
        s.commit()
        assert request is None and not new
        assert s.scalar(select(JobRequest.id)) is None
        state = on_demand.status(s, JOB)
        assert state["state"] == "running" and state["by"] == "scheduler"
