"""Job runs: one run per (job, slot), failures recorded, overlaps skipped, the
retraining loop's promotion rule, and the `scope jobs` command."""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from sqlalchemy import select, text

from config import Settings
from db.models import JobRun, ModelVersion
from jobs.registry import JOBS, Job
from jobs.runner import UnknownJob, lock_key, recent_runs, run_job
from services.retraining import retrain_all
from services.training import train_dataset
from tests.integration.test_cli import scope
from tests.integration import test_training_routing as tr

SETTINGS = Settings()


def _job(name, fn):
    return {name: Job(name, fn, "* * * * *", "test job")}


def test_two_runners_racing_on_one_slot_run_the_job_once(session_factory):
    name, executed = f"race-{uuid.uuid4().hex[:8]}", []

    def slow(session, settings):
        executed.append(1)
        time.sleep(0.5)
        return {"rows": 7}

    jobs, results = _job(name, slow), []
    threads = [threading.Thread(target=lambda: results.append(
        run_job(session_factory, name, slot="2026-01-01T02:00Z", settings=SETTINGS, jobs=jobs))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(executed) == 1
    assert sorted(r["status"] for r in results) == ["duplicate", "succeeded"]
    with session_factory() as session:
        runs = session.scalars(select(JobRun).where(JobRun.job == name)).all()
    assert len(runs) == 1 and runs[0].rows == 7 and runs[0].finished_at >= runs[0].started_at


def test_history_can_hide_idle_scheduled_runs_but_never_failures_or_manual_runs(session_factory):
    name = f"idle-{uuid.uuid4().hex[:8]}"
    outcomes = iter([{"rows": 0}, {"rows": 3}, RuntimeError("broken"), {"rows": 0}])

    def fn(session, settings):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    jobs = _job(name, fn)
    for minute, by in ((1, "scheduler"), (2, "scheduler"), (3, "scheduler"), (4, "admin@scope.example")):
        run_job(session_factory, name, slot=f"2026-01-01T02:0{minute}Z", settings=SETTINGS, jobs=jobs,
                triggered_by=by)
    with session_factory() as session:
        everything = recent_runs(session, job=name)
        shown = recent_runs(session, job=name, hide_idle=True)
    assert [(r["status"], r["rows"]) for r in everything][::-1] == [
        ("succeeded", 0), ("succeeded", 3), ("failed", None), ("succeeded", 0)]
    # the scheduled run that found nothing is left out; the admin's own idle run stays
    assert [(r["status"], r["rows"], r["triggered_by"]) for r in shown][::-1] == [
        ("succeeded", 3, "scheduler"), ("failed", None, "scheduler"), ("succeeded", 0, "admin@scope.example")]


def test_a_failing_job_is_recorded_and_does_not_raise(session_factory):
    name = f"fail-{uuid.uuid4().hex[:8]}"

    def boom(session, settings):
        session.execute(text("SELECT 1"))
        raise RuntimeError("disk on fire\nsecond line")

    result = run_job(session_factory, name, settings=SETTINGS, jobs=_job(name, boom), triggered_by="tester")
    assert result["status"] == "failed"
    assert result["error"] == "RuntimeError: disk on fire"
    assert result["triggered_by"] == "tester" and result["slot"].startswith("manual-")
    # The lock was released: the next run goes ahead.
    again = run_job(session_factory, name, settings=SETTINGS, jobs=_job(name, lambda s, st: {"rows": 1}))
    assert again["status"] == "succeeded"


def test_a_busy_lock_makes_the_run_skip(session_factory, engine):
    name, executed = f"busy-{uuid.uuid4().hex[:8]}", []
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(name)})
        holder.commit()
        result = run_job(session_factory, name, settings=SETTINGS,
                         jobs=_job(name, lambda s, st: executed.append(1)))
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
        holder.commit()
    assert result["status"] == "skipped" and executed == []
    assert "in progress" in result["detail"]["reason"]


def test_unknown_job_is_refused(session_factory):
    with pytest.raises(UnknownJob):
        run_job(session_factory, "no_such_job", settings=SETTINGS)


def test_retrain_keeps_an_equal_champion_and_promotes_a_better_model(db_session):
    # The claims of test_training_routing (its dataset, rolled back with db_session).
    tr.department_ids_cache.update(tr.department_ids(db_session))
    tr.ensure_dataset(db_session, tr.DATASET, tr.SPEC)
    db_session.add_all(tr._claims(300, closed=True, seed=1, start=tr.dt.date(2025, 1, 1), prefix="JBC"))
    db_session.flush()
    dataset = tr.DATASET
    first = train_dataset(db_session, dataset)
    assert first["promoted"]

    # Same labels: the candidate is no better, so the champion stays.
    [kept] = retrain_all(db_session, datasets=[dataset])
    assert kept["status"] == "kept champion" and kept["promoted"] is False
    champion = db_session.scalar(select(ModelVersion).where(ModelVersion.dataset == dataset,
                                                            ModelVersion.status == "champion"))
    assert champion.version == first["model_version"]

    # Managers move every AUTO_GLASS claim to PROPERTY and back the other way:
    # the final departments are the labels, the old champion is now wrong.
    ids = tr.department_ids_cache
    swap = {ids["AUTO_GLASS"]: ids["PROPERTY"], ids["PROPERTY"]: ids["AUTO_GLASS"]}
    for claim in db_session.scalars(select(tr.Claim).where(tr.Claim.dataset == dataset)):
        claim.department_id = swap.get(claim.department_id, claim.department_id)
    db_session.flush()
    [promoted] = retrain_all(db_session, datasets=[dataset])
    assert promoted["status"] == "promoted"
    assert promoted["macro_f1"] > promoted["champion_macro_f1"]
    champion = db_session.scalar(select(ModelVersion).where(ModelVersion.dataset == dataset,
                                                            ModelVersion.status == "champion"))
    assert champion.version == promoted["candidate"]


def test_retrain_records_a_dataset_that_cannot_train_and_goes_on(db_session):
    tr.ensure_dataset(db_session, "itest_empty_retrain", tr.SPEC)
    [outcome] = retrain_all(db_session, datasets=["itest_empty_retrain"])
    assert outcome["status"] == "failed" and "needs at least" in outcome["error"]


def test_cli_runs_a_job_and_prints_json(database_url):
    result = scope("jobs", "run", "route_unscored", database_url=database_url)
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["job"] == "route_unscored" and run["status"] == "succeeded"
    assert run["triggered_by"].startswith("cli:")
    listed = scope("jobs", "list", database_url=database_url)
    assert listed.returncode == 0, listed.stderr
    assert {j["job"] for j in json.loads(listed.stdout)} == set(JOBS)


def test_cli_unknown_job_is_one_line_error(database_url):
    result = scope("jobs", "run", "nope", database_url=database_url)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("scope: error: unknown job 'nope'")
    assert result.stderr.strip().count("\n") == 0


@pytest.fixture()
def run_key(web_app):
    # Dash suffixes duplicate outputs with a hash: take the key from the callback map.
    keys = [k for k in web_app.callback_map if k.startswith("..jobs-run-status.children")]
    assert len(keys) == 1
    return keys[0]


def _run_body(key: str, job, *, asked=True) -> dict:
    """Run now (a slow job's after its question) as the page's script posts it: the job in the
    card's "jobs-run-ask" store (assets/62-row-actions.js). ``asked=False``: the store as
    drawn, with nothing in it."""
    return {"output": key,
            "outputs": [{"id": "jobs-run-status", "property": "children"},
                        {"id": "jobs-list", "property": "children"}, {"id": "jobs-history", "property": "children"}],
            "inputs": [{"id": "jobs-run-ask", "property": "data", "value": {"job": job, "at": 1} if asked else None}],
            "state": [{"id": "jobs-history-job", "property": "value", "value": "all"},
                      {"id": "jobs-history-hide-idle", "property": "value", "value": True}],
            "changedPropIds": ["jobs-run-ask.data"]}


def test_retrain_runs_now_only_after_the_question_and_in_the_scheduler(client_for, run_key, monkeypatch, web_app):
    """Retraining takes minutes and may replace the champion: its Run now asks first, and the
    scheduler process runs it (a request it polls for), not a thread of the web worker."""
    from db.flask_db import independent_sessions
    from jobs import on_demand

    from tests.webutil import render_page

    ran = threading.Event()

    def fake_retrain(session, settings):
        ran.set()
        return {"rows": 0}

    monkeypatch.setitem(JOBS, "retrain", Job("retrain", fake_retrain, "0 2 * * *", "test retrain", slow=True))
    client = client_for("admin")
    status, body = render_page(client, "/admin/jobs")
    page = json.dumps(json.loads(body))
    # The question is asked in the browser before the button puts the job in the store.
    assert status == 200 and '"data-ask-confirm": "Retrain every dataset' in page
    assert "replaces it at once for new claims" in page
    # The store as drawn, or tampered: nothing runs
    for tampered in ({"job": "retrain"}, "retrain", {"job": ["retrain"], "at": 1}):
        response = client.post("/_dash-update-component", json={**_run_body(run_key, "retrain"), "inputs": [
            {"id": "jobs-run-ask", "property": "data", "value": tampered}]})
        assert response.status_code in (200, 204) and "started" not in response.get_data(as_text=True)
    response = client.post("/_dash-update-component", json=_run_body(run_key, "retrain", asked=False))
    assert response.status_code == 204 and not ran.wait(1)
    response = client.post("/_dash-update-component", json=_run_body(run_key, "retrain"))
    assert response.status_code == 200 and "asked the scheduler" in response.get_data(as_text=True)
    assert not ran.wait(1)  # nothing runs in the web process
    response = client.post("/_dash-update-component", json=_run_body(run_key, "retrain"))
    assert "no second run was queued" in response.get_data(as_text=True)
    # what the scheduler process does every 2 s (it takes every pending request: other tests'
    # may be waiting too, so run all it takes)
    with web_app.server.app_context():
        factory = independent_sessions()
    assert on_demand.poll_once(factory, web_app.server.config["SCOPE_SETTINGS"], start=lambda work: work()) >= 1
    assert ran.is_set()


def test_admin_sees_the_jobs_page_and_runs_a_job(client_for, run_key):
    from tests.webutil import render_page

    client = client_for("admin")
    status, body = render_page(client, "/admin/jobs")
    assert status == 200
    page = json.dumps(json.loads(body))  # undo Dash's escaping of "/"
    assert all(name in page for name in JOBS) and "Run now" in page and "*/2 * * * *" in page
    response = client.post("/_dash-update-component", json=_run_body(run_key, "route_unscored"))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    text_out = response.get_data(as_text=True)
    assert "route_unscored: succeeded" in text_out and "admin@scope.example" in text_out


def test_audit_rows_written_inside_a_callback_carry_the_client_address(client_for, run_key, web_app):
    from db.flask_db import read_session
    from db.models import AuditLog

    response = client_for("admin").post("/_dash-update-component", json=_run_body(run_key, "route_unscored"),
                                        environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 200
    with web_app.server.app_context():
        row = read_session().scalars(select(AuditLog).where(AuditLog.action == "job.run")
                                     .order_by(AuditLog.id.desc()).limit(1)).one()
    assert row.actor == "admin@scope.example" and row.ip == "203.0.113.7"


def test_admin_run_of_an_unknown_job_is_a_message_not_an_error(client_for, run_key):
    response = client_for("admin").post("/_dash-update-component", json=_run_body(run_key, "<script>x</script>"))
    assert response.status_code == 200 and "Unknown job." in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["manager", "adjuster", "viewer"])
def test_non_admins_are_not_allowed(client_for, run_key, role):
    from tests.webutil import render_page

    client = client_for(role)
    status, body = render_page(client, "/admin/jobs")
    assert status == 200 and "Not allowed" in body and "Run now" not in body
    assert client.post("/_dash-update-component", json=_run_body(run_key, "route_unscored")).status_code == 403


def test_refresh_aggregates_job_reports_rows_written(db_session):
    outcome = JOBS["refresh_aggregates"].fn(db_session, SETTINGS)
    assert outcome.get("status", "succeeded") == "succeeded" and isinstance(outcome["rows"], int)


def test_a_manual_run_is_audited_and_odd_detail_is_stored_as_text(session_factory):
    import datetime as dt

    from db.models import AuditLog

    name = f"audit-{uuid.uuid4().hex[:8]}"
    result = run_job(session_factory, name, settings=SETTINGS, triggered_by="admin@scope.example",
                     jobs=_job(name, lambda s, st: {"rows": 1, "detail": {"at": dt.date(2026, 1, 2)}}))
    assert result["status"] == "succeeded" and result["detail"] == {"at": "2026-01-02"}
    with session_factory() as session:
        entry = session.scalar(select(AuditLog).where(AuditLog.action == "job.run",
                                                      AuditLog.target_id == str(result["id"])))
    assert entry is not None and entry.actor == "admin@scope.example"


def _stale_run(session_factory, name: str, slot: str, minutes_ago: int = 5) -> int:
    import datetime as dt

    with session_factory() as session:
        run = JobRun(job=name, slot=slot, status="running", triggered_by="scheduler", detail={},
                     started_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago))
        session.add(run)
        session.commit()
        return run.id


def test_runs_left_running_by_a_killed_process_are_closed_as_abandoned(session_factory, engine):
    from jobs.runner import ABANDONED, close_abandoned

    dead, alive, young = (f"{k}-{uuid.uuid4().hex[:8]}" for k in ("dead", "alive", "young"))
    dead_id = _stale_run(session_factory, dead, "2026-01-01T02:00Z")
    alive_id = _stale_run(session_factory, alive, "2026-01-01T02:00Z")
    young_id = _stale_run(session_factory, young, "2026-01-01T02:00Z", minutes_ago=0)
    with engine.connect() as holder:  # a live run of `alive` holds its lock
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(alive)})
        holder.commit()
        assert close_abandoned(session_factory) >= 1
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(alive)})
        holder.commit()
    with session_factory() as session:
        runs = {r.id: r for r in session.scalars(select(JobRun).where(JobRun.id.in_([dead_id, alive_id, young_id])))}
    assert runs[dead_id].status == "failed" and runs[dead_id].error == ABANDONED
    assert runs[dead_id].finished_at is not None
    assert runs[alive_id].status == "running" and runs[alive_id].finished_at is None
    assert runs[young_id].status == "running"  # just claimed: its lock may be a moment away


def test_a_run_closes_its_jobs_abandoned_rows_before_running(session_factory):
    name = f"stale-{uuid.uuid4().hex[:8]}"
    stale_id = _stale_run(session_factory, name, "2026-01-01T03:00Z", minutes_ago=0)
    result = run_job(session_factory, name, settings=SETTINGS, jobs=_job(name, lambda s, st: {"rows": 2}))
    assert result["status"] == "succeeded"
    with session_factory() as session:
        stale = session.get(JobRun, stale_id)
    assert stale.status == "failed" and stale.error.startswith("abandoned")


def test_a_job_that_partly_failed_keeps_its_work_and_is_recorded_failed_with_its_error(session_factory):
    # retrain with one dataset failing and another trained: the trained one's version is kept
    # (committed), but the run is "failed" with the reason, not a green "succeeded".
    name = f"partial-{uuid.uuid4().hex[:8]}"

    def partly(session, settings):
        session.execute(text("SELECT 1"))
        return {"status": "failed", "rows": 2, "detail": {"datasets": []},
                "error": "retraining failed for 1 of 2 datasets: b: ValueError: too few labels"}

    result = run_job(session_factory, name, settings=SETTINGS, jobs=_job(name, partly))
    assert result["status"] == "failed" and result["rows"] == 2
    assert result["error"].startswith("retraining failed for 1 of 2 datasets")


def test_retrain_with_one_dataset_failing_is_a_failed_run(monkeypatch):
    import jobs.registry as registry

    monkeypatch.setattr(registry, "retrain_all", lambda session: [
        {"dataset": "a", "status": "kept champion", "promoted": False},
        {"dataset": "b", "status": "failed", "error": "ValueError: needs at least 50 closed claims"}])
    outcome = registry.retrain(None, SETTINGS)
    assert outcome["status"] == "failed"
    assert outcome["error"] == ("retraining failed for 1 of 2 datasets: b: ValueError: needs at least 50 "
                                "closed claims")
    assert [d["dataset"] for d in outcome["detail"]["datasets"]] == ["a", "b"]

    monkeypatch.setattr(registry, "retrain_all", lambda session: [
        {"dataset": "a", "status": "promoted", "promoted": True}])
    assert "status" not in registry.retrain(None, SETTINGS)


def test_no_callback_listens_to_the_jobs_buttons_redrawn_every_5_seconds(web_app, client_for):
    """Buttons with pattern-matching ids under the refreshed list were posted, every one, at
    each refresh: the buttons carry their job (data-ask) and the card's store is the input."""
    from tests.webutil import render_page

    assert not [k for k, entry in web_app.callback_map.items()
                if any("job-run" in str(i.get("id")) for i in entry["inputs"])]
    _, body = render_page(client_for("admin"), "/admin/jobs")
    page = json.dumps(json.loads(body))
    assert '"data-ask": "jobs-run-ask"' in page and '"data-ask-value": "{\\"job\\":\\"route_unscored\\"}"' in page
