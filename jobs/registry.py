"""The scheduled jobs, by name. A job is ``fn(session, settings) -> dict``
with optional keys rows, detail, status (default "succeeded") and error (with
status "failed": what went wrong, while what the job did is still committed); the runner
owns the transaction, so jobs never commit. All jobs are idempotent: running
one twice does no harm (route_unscored only touches claims without a
decision, retrain only promotes a strictly better model)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy.orm import Session

from services import aggregates, alerts, routing
from services.retraining import datasets_with_champion, retrain_all


@dataclass(frozen=True)
class Job:
    name: str
    fn: Callable[[Session, object], dict]
    schedule: str  # default cron expression (UTC), overridable with SCOPE_SCHEDULE_<NAME>
    description: str
    slow: bool = False  # the admin page runs slow jobs in the background


def retrain(session: Session, settings) -> dict:
    outcomes = retrain_all(session)
    promoted = sum(1 for o in outcomes if o.get("promoted"))
    failed = [o for o in outcomes if o["status"] == "failed"]
    detail = {"datasets": outcomes, "promoted": promoted}
    if failed and len(failed) == len(outcomes):
        raise RuntimeError(f"retraining failed for {', '.join(o['dataset'] for o in failed)}")
    if failed:
        # The other datasets' new versions are kept (committed), but the run is a failure:
        # the Jobs page shows it in red and scope_job_last_failure_timestamp_seconds moves,
        # so a dataset that stopped retraining does not hide behind a "succeeded".
        first = failed[0]
        return {"status": "failed", "rows": len(outcomes), "detail": detail,
                "error": f"retraining failed for {len(failed)} of {len(outcomes)} datasets: "
                         f"{first['dataset']}: {first.get('error', 'unknown error')}"}
    return {"rows": len(outcomes), "detail": detail}


def route_unscored(session: Session, settings) -> dict:
    per_dataset = {}
    for name in datasets_with_champion(session):
        per_dataset[name] = routing.route_unscored(session, name, threshold=settings.confidence_threshold,
                                                   shap_method="approx")
    return {"rows": sum(per_dataset.values()), "detail": {"routed": per_dataset}}


def refresh_aggregates(session: Session, settings) -> dict:
    return {"rows": aggregates.refresh(session)}


def evaluate_alerts(session: Session, settings) -> dict:
    counts = alerts.evaluate(session)
    return {"rows": counts["opened"] + counts["kept"] + counts["resolved"], "detail": counts}


def detect_rings(session: Session, settings) -> dict:
    from services import fraud_rings

    result = fraud_rings.refresh(session)
    return {"rows": result["rings"], "detail": result}


def raise_fraud_alerts(session: Session, settings) -> dict:
    from services import fraud_alerts

    result = fraud_alerts.refresh(session)
    return {"rows": result["raised"] + result["reopened"] + result["withdrawn"], "detail": result}


def purge_usage(session: Session, settings) -> dict:
    from services import usage

    result = usage.purge(session, days=usage.RETENTION_DAYS)
    return {"rows": result["events"] + result["clicks"] + result["ratings"], "detail": result}


def purge_notification_log(session: Session, settings) -> dict:
    from services import notifications

    return {"rows": notifications.purge_sent(session), "detail": {"days": notifications.SENT_RETENTION_DAYS}}


def verify_audit_chain(session: Session, settings) -> dict:
    from jobs import on_demand
    from services.audit_chain import verify_and_record

    name = "verify_audit_chain"
    # Who the result is attributed to: the person who asked through the audit page, else who
    # started this run (the scheduler, `scope jobs run`, Admin > Jobs). Runs of one job never
    # overlap (the runner's lock); only a second start in the same instant, about to be
    # "skipped", could be taken for this one.
    run = on_demand.running_run(session, name)
    actor = on_demand.asked_by() or (run.triggered_by if run is not None else "scheduler")
    report = verify_and_record(session, actor=actor, progress=on_demand.progress_reporter(session, name))
    if not report.ok:
        # The finding is recorded (committed with audit.verify); the run is red on the Jobs
        # page and in scope_job_last_failure_timestamp_seconds, so a broken chain alerts.
        return {"status": "failed", "rows": report.count, "detail": report.to_json(), "error": report.describe()}
    return {"rows": report.count, "detail": report.to_json()}


def notify_alerts(session: Session, settings) -> dict:
    from services import notifications

    return notifications.notify_alerts(session, settings)


def siu_task_reminders(session: Session, settings) -> dict:
    from services import notifications

    return notifications.siu_task_reminders(session, settings)


def notify_assignments(session: Session, settings) -> dict:
    from services import notifications

    return notifications.notify_assignments(session, settings)


def overdue_claims_digest(session: Session, settings) -> dict:
    from services import notifications

    return notifications.overdue_claims_digest(session, settings)


def kpi_weekly_summary(session: Session, settings) -> dict:
    from services import notifications

    return notifications.kpi_weekly_summary(session, settings)


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("refresh_aggregates", refresh_aggregates, "*/5 * * * *", "Refresh the dashboard aggregates"),
    Job("route_unscored", route_unscored, "*/2 * * * *", "Route open claims that have no routing decision yet"),
    # A minute after each refresh_aggregates slot, so rules see fresh rollups.
    Job("evaluate_alerts", evaluate_alerts, "1-59/5 * * * *", "Check the alert rules against the KPI rollups"),
    Job("retrain", retrain, "0 2 * * *", "Retrain each dataset's router; promote only a better model", slow=True),
    Job("purge_usage", purge_usage, "30 3 * * *", "Delete usage analytics older than 180 days"),
    Job("purge_notification_log", purge_notification_log, "40 3 * * *",
        "Forget which emails were sent more than 90 days ago"),
    Job("detect_rings", detect_rings, "20 * * * *", "Find groups of claims linked by their parties' identifiers"),
    # After detect_rings, so ring signals come from this hour's rings.
    Job("raise_fraud_alerts", raise_fraud_alerts, "25 * * * *",
        "Raise fraud alerts on open claims outside SIU (rings, links to fraud, router)"),
    # Minutes at millions of rows: from Admin > Audit log's Verify now it runs here too (jobs.on_demand).
    Job("verify_audit_chain", verify_audit_chain, "10 3 * * *", "Verify the audit log's hash chain", slow=True),
    # Two minutes after each evaluate_alerts slot, so an alert opened there is mailed the same cycle.
    Job("notify_alerts", notify_alerts, "3-59/5 * * * *",
        "Email the alerts that opened or resolved to those who want them"),
    # Days are UTC days in SCOPE (a task is overdue the UTC day after its due date); 07:00 is before work starts.
    Job("siu_task_reminders", siu_task_reminders, "0 7 * * *",
        "Email each SIU investigator their tasks due today or overdue"),
    # Often enough that a batch of claims reaches its adjuster the same morning; one email per batch, not per claim.
    Job("notify_assignments", notify_assignments, "*/10 * * * *",
        "Email each person the claims someone else assigned to them since the last email"),
    # After the SIU digest (07:00), so someone who gets both does not get them in the same minute.
    Job("overdue_claims_digest", overdue_claims_digest, "5 7 * * *",
        "Email each person their open claims past the department's service level"),
    # Monday after the daily digests (07:00, 07:05), so the week's last rollup refresh is long done. The day
    # is named: APScheduler and cron read weekday numbers differently (jobs.schedule_words).
    Job("kpi_weekly_summary", kpi_weekly_summary, "10 7 * * mon",
        "Email those who read the dashboard last week's figures against the week before"),
)}
