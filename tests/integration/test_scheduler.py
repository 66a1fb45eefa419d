"""The scheduler: cron schedules from the environment, slots at minute
precision, and a scheduled fire recorded once however many schedulers run."""
from __future__ import annotations

import datetime as dt

import pytest

from config import Settings
from jobs import scheduler
from jobs.registry import JOBS

UTC = dt.timezone.utc


def test_default_schedules_and_environment_overrides():
    assert scheduler.schedule_of("refresh_aggregates", {}) == "*/5 * * * *"
    assert scheduler.schedule_of("route_unscored", {}) == "*/2 * * * *"
    assert scheduler.schedule_of("retrain", {}) == "0 2 * * *"
    assert scheduler.schedule_of("retrain", {"SCOPE_SCHEDULE_RETRAIN": "30 3 * * 1"}) == "30 3 * * 1"


def test_build_registers_every_job_and_honours_off(session_factory):
    sched = scheduler.build(session_factory, Settings(), environ={"SCOPE_SCHEDULE_RETRAIN": "off"})
    assert {j.id for j in sched.get_jobs()} == set(JOBS) - {"retrain"}


def test_a_bad_cron_expression_is_a_clear_error(session_factory):
    with pytest.raises(ValueError, match="bad cron expression"):
        scheduler.build(session_factory, Settings(), environ={"SCOPE_SCHEDULE_ROUTE_UNSCORED": "every minute"})


def test_slot_is_the_scheduled_minute_even_when_the_fire_is_late():
    every_two = scheduler.trigger_for("*/2 * * * *")
    assert scheduler.slot_for(every_two, dt.datetime(2026, 3, 1, 10, 4, 0, 300, tzinfo=UTC)) == "2026-03-01T10:04Z"
    assert scheduler.slot_for(every_two, dt.datetime(2026, 3, 1, 10, 5, 40, tzinfo=UTC)) == "2026-03-01T10:04Z"
    nightly = scheduler.trigger_for("0 2 * * *")
    assert scheduler.slot_for(nightly, dt.datetime(2026, 3, 1, 2, 3, tzinfo=UTC)) == "2026-03-01T02:00Z"


def test_two_schedulers_firing_the_same_slot_record_one_run(session_factory, monkeypatch):
    from sqlalchemy import select

    from db.models import JobRun

    calls = []
    job = JOBS["refresh_aggregates"]
    monkeypatch.setitem(JOBS, "refresh_aggregates",
                        type(job)(job.name, lambda s, st: calls.append(1) or {"rows": 0}, job.schedule, ""))
    trigger = scheduler.trigger_for("*/5 * * * *")
    monkeypatch.setattr(scheduler, "slot_for", lambda trig, now: "2031-01-01T00:05Z")
    scheduler._fire(session_factory, "refresh_aggregates", trigger, Settings())
    scheduler._fire(session_factory, "refresh_aggregates", trigger, Settings())
    assert calls == [1]
    with session_factory() as session:
        runs = session.scalars(select(JobRun).where(JobRun.job == "refresh_aggregates",
                                                    JobRun.slot == "2031-01-01T00:05Z")).all()
    assert len(runs) == 1 and runs[0].triggered_by == "scheduler"


@pytest.mark.parametrize("field,weekdays", [
    ("0", {6}), ("7", {6}), ("1-5", {0, 1, 2, 3, 4}), ("1,3,5", {0, 2, 4}), ("*/2", {6, 1, 3, 5}),
    ("6-7", {5, 6}), ("1/2", {0, 2, 4, 6}), ("sun", {6}), ("mon-fri", {0, 1, 2, 3, 4}), ("*", set(range(7))),
])
def test_day_of_week_numbers_follow_standard_cron(field, weekdays):
    """0 and 7 are Sunday, as in crontab(5); APScheduler alone counts from Monday = 0."""
    trigger = scheduler.trigger_for(f"0 3 * * {field}")
    at, seen = dt.datetime(2026, 3, 1, tzinfo=UTC), set()   # a Sunday
    for _ in range(7):
        at = trigger.get_next_fire_time(None, at + dt.timedelta(minutes=1))
        seen.add(at.weekday())
    assert seen == weekdays and at.hour == 3


@pytest.mark.parametrize("field", ["8", "5-2", "mon-5", "*/x", "1-"])
def test_bad_day_of_week_is_a_clear_error(field):
    with pytest.raises(ValueError, match="bad cron expression"):
        scheduler.trigger_for(f"0 3 * * {field}")


# ---------------------------------------------------------------- a scheduler that stopped

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc)


def test_a_job_whose_scheduled_run_did_not_come_is_overdue_from_the_fire_it_missed():
    from jobs.scheduler import overdue_since

    last = NOW - dt.timedelta(minutes=30)
    # every 2 minutes, last scheduled run 30 minutes ago: the 11:32 fire never came
    assert overdue_since("*/2 * * * *", last, None, NOW) == dt.datetime(2026, 12, 7, 11, 32, tzinfo=dt.timezone.utc)
    # a run a few minutes late is not overdue yet
    assert overdue_since("*/2 * * * *", NOW - dt.timedelta(minutes=4), None, NOW) is None
    # nightly at 02:00, last ran this morning: not due again before tomorrow
    assert overdue_since("0 2 * * *", NOW.replace(hour=2), None, NOW) is None
    # ... last ran two nights ago: this morning's run is missing
    assert overdue_since("0 2 * * *", NOW.replace(hour=2) - dt.timedelta(days=2), None, NOW) == NOW.replace(
        hour=2) - dt.timedelta(days=1)


def test_a_fresh_installation_a_running_job_or_an_unscheduled_one_is_not_overdue():
    from jobs.scheduler import overdue_since

    started = NOW - dt.timedelta(hours=3)
    # never run by the scheduler: counted from the installation's first run
    assert overdue_since("0 2 * * *", None, started, NOW) is None
    assert overdue_since("*/5 * * * *", None, started, NOW) is not None
    assert overdue_since("*/5 * * * *", None, None, NOW) is None
    assert overdue_since("*/5 * * * *", started, None, NOW, running=True) is None
    assert overdue_since("off", started, None, NOW) is None
    assert overdue_since("not cron", started, None, NOW) is None


def test_the_jobs_page_names_the_overdue_jobs_and_the_scheduler(web_app, session_factory):
    from db.models import JobRun
    from jobs import scheduler
    from pages.admin_jobs import jobs_table
    from tests.webutil import component_texts

    with session_factory() as session:
        # A scheduled refresh an hour ago and nothing since: the scheduler stopped.
        session.add(JobRun(job="refresh_aggregates", slot=f"overdue-{NOW:%H%M%S%f}", triggered_by="scheduler",
                           status="succeeded", started_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=50),
                           finished_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=50)))
        session.flush()
        jobs = scheduler.overview(session, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
        session.rollback()
    late = {j["job"]: j["overdue_since"] for j in jobs}
    assert late["refresh_aggregates"] is not None
    text = " ".join(component_texts(jobs_table(jobs)))
    assert "Scheduled runs are missing" in text and "scope scheduler" in text and "refresh_aggregates" in text
    assert "overdue" in text
    # the last run's status comes right after the job's name (a phone shows the first columns)
    [table] = [c for c in jobs_table(jobs).children if c is not None and getattr(c, "id", None) == "jobs-table"]
    head = table.children[0].children.children
    assert [th.children for th in head][:2] == ["Job", "Last run (UTC)"]
    assert "Scheduled runs are missing" not in " ".join(
        component_texts(jobs_table([dict(j, overdue_since=None) for j in jobs])))


def test_a_job_an_upgrade_adds_is_overdue_only_once_a_fire_after_the_schedulers_start_is_missing(
        db_session, monkeypatch):
    """A job the scheduler had never started was overdue at once: counted from the first run of
    anything. The scheduler now says in the audit log when it starts and what it schedules."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from db.models import AuditLog, JobRun
    from jobs.registry import Job

    added = Job("added_by_upgrade", lambda session, settings: {"rows": 0}, "*/5 * * * *", "a job an upgrade adds")
    monkeypatch.setitem(JOBS, added.name, added)
    long_ago = dt.datetime.now(UTC) - dt.timedelta(days=3)
    db_session.add(JobRun(job="refresh_aggregates", slot="before-the-upgrade", triggered_by="scheduler",
                          status="succeeded", started_at=long_ago, finished_at=long_ago))
    db_session.flush()
    # The upgraded scheduler starts (serve), in this test's transaction.
    conn = db_session.connection()
    scheduler._record_start(lambda: Session(bind=conn, join_transaction_mode="create_savepoint"),
                            scheduler.build(None, Settings(), environ={}))
    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "scheduler.start")
                             .order_by(AuditLog.id.desc())).first()
    assert row.actor == "scheduler" and row.after["jobs"]["added_by_upgrade"] == "*/5 * * * *"
    assert set(row.after["jobs"]) == set(JOBS)

    def late(minutes: int) -> dict:
        return {j["job"]: j["overdue_since"] for j in scheduler.overview(db_session, now=row.at + dt.timedelta(
            minutes=minutes))}

    assert late(3)["added_by_upgrade"] is None
    first_fire = scheduler.trigger_for("*/5 * * * *").get_next_fire_time(
        None, row.at.replace(second=0, microsecond=0) + dt.timedelta(minutes=1))
    assert late(20)["added_by_upgrade"] == first_fire


def test_the_compose_scheduler_restarts_and_is_not_judged_by_the_web_healthcheck():
    """The image's HEALTHCHECK asks :8050/healthz, which the scheduler does not serve:
    inherited, it marked a healthy scheduler "unhealthy" for good."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "deploy" / "docker-compose.yml").read_text())["services"]
    assert compose["scheduler"]["command"] == ["scope", "scheduler"]
    assert compose["scheduler"]["healthcheck"] == {"disable": True}
    assert "8050/healthz" in (root / "Dockerfile").read_text()  # the check it must not inherit
    for name in ("web", "scheduler", "db"):
        assert compose[name].get("restart") == "unless-stopped", name
    # one environment for both: the Jobs page shows the schedules the web server reads
    assert compose["scheduler"]["environment"] == compose["web"]["environment"]


def test_an_unreachable_database_is_one_log_line_per_fire_not_a_stack_trace(caplog):
    from db.session import make_engine, make_session_factory

    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    factory = make_session_factory(engine)
    trigger = scheduler.trigger_for("*/2 * * * *")
    with caplog.at_level("ERROR", logger=scheduler.log.name):
        scheduler._fire(factory, "route_unscored", trigger, Settings(database_url="postgresql://x@127.0.0.1:1/none"))
    engine.dispose()
    [record] = [r for r in caplog.records if r.name == scheduler.log.name]
    assert record.getMessage().startswith("job route_unscored slot ")
    assert "not run: the database is unreachable (" in record.getMessage()
    assert record.exc_info is None  # no stack trace
