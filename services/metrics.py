"""What an operator watches SCOPE by, read from the database when Prometheus scrapes
(``api/metrics.py`` turns it into the exposition format; the request timings are
counted there, per process).

The database is the only place that knows everything: the scheduler runs in a
process of its own and serves no metrics, so its health shows here as the last
success and failure of each job. The product plan's targets (routing accuracy,
manual reassignments, adjuster agreement) are the dashboard's own figures
(``aggregates.kpis``) over the last 7 days, the window of the default alert rules;
open claims past their service level are Operations' count (``operations.open_past_sla``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session

from db.models import AlertEvent, Department, FraudAlert, JobRun, ModelVersion, RoutingDecision, SiuCase
from services import aggregates, operations
from services.departments import TRIAGE

KPI_WINDOW_DAYS = 7
JOB_LABELS = ("scheduled_job",)
# Labels Prometheus attaches to every scraped series: an exported label of the same name
# would be renamed exported_<name> and every rule naming it would silently match nothing.
RESERVED_LABELS = frozenset({"job", "instance"})
ROUTING_WINDOW = dt.timedelta(hours=24)
# Dashboard key -> metric name: the product plan's targets.
TARGET_KPIS = {
    "routing_accuracy": ("scope_routing_accuracy_ratio_7d",
                         "Closed claims whose first routed department was their final one, last 7 days "
                         "(target > 0.95)."),
    "reassignment_rate": ("scope_reassignment_ratio_7d",
                          "Routed claims a person moved to another department, last 7 days (target < 0.05)."),
    "agreement_rate": ("scope_adjuster_agreement_ratio_7d",
                       "Adjuster verdicts agreeing with the routing decision, last 7 days (target > 0.90)."),
    "auto_routed_share": ("scope_auto_routed_ratio_7d",
                          "Routed claims placed by the model without a person (not sent to Triage), last 7 days."),
}


@dataclass
class Family:
    """One gauge: its name, help text, label names and (label values, value) samples."""
    name: str
    help: str
    labels: tuple[str, ...] = ()
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    def add(self, value: float | None, *labels: str) -> None:
        if value is not None:
            self.samples.append((tuple(labels), float(value)))


def _ts(moment: dt.datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def job_families(session: Session, jobs: Iterable[str]) -> list[Family]:
    """Per job, its newest success and failure: each one row read backwards from an index
    (a year of runs every two minutes is ~260,000 rows per job)."""
    # The label is "scheduled_job", not "job": Prometheus sets "job" (and "instance") on every
    # scraped series itself and renames a clashing label to "exported_job", so rules written
    # against {job="route_unscored"} would never match.
    success = Family("scope_job_last_success_timestamp_seconds",
                     "When each scheduled job last finished successfully (Unix time); absent if it never did.",
                     JOB_LABELS)
    duration = Family("scope_job_last_duration_seconds", "How long each job's last successful run took.",
                      JOB_LABELS)
    failure = Family("scope_job_last_failure_timestamp_seconds",
                     "When each job last failed (Unix time); absent if it never failed.", JOB_LABELS)
    running = Family("scope_job_running", "Runs of each job in progress now.", JOB_LABELS)

    def newest(job: str, status: str):
        return session.execute(select(JobRun.started_at, JobRun.finished_at)
                               .where(JobRun.job == job, JobRun.status == status)
                               .order_by(JobRun.started_at.desc()).limit(1)).first()

    for job in sorted(jobs):
        ok = newest(job, "succeeded")
        if ok is not None:
            success.add(_ts(ok.finished_at or ok.started_at), job)
            if ok.finished_at is not None:
                duration.add((ok.finished_at - ok.started_at).total_seconds(), job)
        failed = newest(job, "failed")
        if failed is not None:
            failure.add(_ts(failed.finished_at or failed.started_at), job)
        running.add(session.scalar(select(func.count()).select_from(JobRun)
                                   .where(JobRun.job == job, JobRun.status == "running")), job)
    return [success, failure, running, duration]


def model_families(session: Session) -> list[Family]:
    info = Family("scope_model_champion_info", "The champion router of each dataset (value 1).",
                  ("dataset", "version"))
    promoted = Family("scope_model_champion_promoted_timestamp_seconds",
                      "When each dataset's champion was promoted (Unix time).", ("dataset",))
    accuracy = Family("scope_model_champion_holdout_accuracy",
                      "The champion's accuracy on its time-ordered holdout when it was trained.", ("dataset",))
    for dataset, version, promoted_at, created_at, metrics in session.execute(
            select(ModelVersion.dataset, ModelVersion.version, ModelVersion.promoted_at,
                   ModelVersion.created_at, ModelVersion.metrics)
            .where(ModelVersion.status == "champion").order_by(ModelVersion.dataset)):
        info.add(1, dataset, version)
        promoted.add(_ts(promoted_at or created_at), dataset)
        value = (metrics or {}).get("accuracy")
        if isinstance(value, (int, float)):
            accuracy.add(value, dataset)
    return [info, promoted, accuracy]


def routing_families(session: Session, now: dt.datetime) -> list[Family]:
    """Decisions of the last 24 hours: a drop in volume is intake broken, a rise in the
    Triage share or a fall in confidence is the model drifting from what arrives."""
    triage = select(Department.id).where(Department.code == TRIAGE).scalar_subquery()
    count, to_triage, confidence = session.execute(
        select(func.count(), func.count().filter(RoutingDecision.routed_department_id == triage),
               func.avg(cast(RoutingDecision.confidence, Float)))
        .where(RoutingDecision.decided_at > now - ROUTING_WINDOW)).one()
    decisions = Family("scope_routing_decisions_24h", "Routing decisions stored in the last 24 hours.")
    decisions.add(count)
    share = Family("scope_routing_triage_ratio_24h",
                   "Share of the last 24 hours' decisions sent to Triage for a person (confidence under "
                   "the threshold); absent without decisions.")
    share.add(to_triage / count if count else None)
    mean = Family("scope_routing_confidence_mean_24h",
                  "Mean confidence of the last 24 hours' decisions; absent without decisions.")
    mean.add(confidence)
    return [decisions, share, mean]


def claims_families(session: Session, today: dt.date) -> list[Family]:
    open_claims = Family("scope_claims_open", "Open claims per department (open-claims rollup, refreshed "
                         "every 5 minutes).", ("department",))
    past = Family("scope_claims_open_past_sla", "Open claims older than their department's service level "
                  "(as on the Operations page).", ("department",))
    for dept_id, code in session.execute(select(Department.id, Department.code).order_by(Department.code)):
        n_open, n_past = operations.open_past_sla(session, today=today, department_id=dept_id)
        if n_open:
            open_claims.add(n_open, code)
            past.add(n_past, code)
    return [open_claims, past]


def kpi_families(session: Session, today: dt.date) -> list[Family]:
    start = today - dt.timedelta(days=KPI_WINDOW_DAYS - 1)
    figures = aggregates.kpis(session, aggregates.Filters(start, today))
    out = []
    for key, (name, text) in TARGET_KPIS.items():
        family = Family(name, text + " Absent when the period has nothing to measure.")
        family.add(figures[key])
        out.append(family)
    backlog = Family("scope_backlog_claims", "Claims open at the end of today, as the dashboard counts them.")
    backlog.add(figures["backlog"])
    return out + [backlog]


def alert_families(session: Session) -> list[Family]:
    family = Family("scope_alerts_open", "Open SCOPE alerts (threshold rules on the KPIs) by severity.",
                    ("severity",))
    counts = dict(session.execute(select(AlertEvent.severity, func.count())
                                  .where(AlertEvent.resolved_at.is_(None)).group_by(AlertEvent.severity)).all())
    for severity in ("critical", "warning", "info"):
        family.add(counts.get(severity, 0), severity)
    # SIU's intake backlog: fraud alerts no manager has referred or dismissed yet.
    fraud = Family("scope_fraud_alerts_open", "Fraud alerts waiting for a manager to refer or dismiss them.")
    fraud.add(session.scalar(select(func.count(FraudAlert.id)).where(FraudAlert.status == "open")))
    # SIU's caseload: investigations not closed yet.
    cases = Family("scope_siu_cases_open", "SIU cases open (investigations not closed yet).")
    cases.add(session.scalar(select(func.count(SiuCase.id)).where(SiuCase.status == "open")))
    return [family, fraud, cases]


def snapshot(session: Session, *, jobs: Iterable[str] = (), now: dt.datetime | None = None) -> list[Family]:
    """Every database-backed gauge, read in the caller's transaction (read-only);
    ``jobs``: the scheduler's job names (jobs.registry, which imports services, not
    the other way round)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    today = now.date()
    return (job_families(session, jobs) + model_families(session) + routing_families(session, now)
            + claims_families(session, today) + kpi_families(session, today) + alert_families(session))
