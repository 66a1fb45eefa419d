"""First-start set-up for the run command: each step is skipped when done,
so a second start is up in seconds. Each step is its own transaction."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from db.models import Claim
from services.demo_team import assign_open_claims, ensure_team
from services.departments import ensure_standard_departments
from services.users import create_user, get_by_email

log = logging.getLogger(__name__)
DEMO_DATASET = "synthetic"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    departments: tuple[str, ...] = ()
    name: str = ""
    label: str = ""   # what the run command prints for it, when not the role

    @property
    def shown_as(self) -> str:
        return self.label or self.role


DEMO_LOGINS = (
    # People's names, not role names: the navbar shows the name beside a role badge.
    DemoLogin("admin", "admin@scope.example", "scope-demo-admin", name="Dana Whitfield"),
    DemoLogin("manager", "manager@scope.example", "scope-demo-manager", name="Marcus Reyes"),
    DemoLogin("adjuster", "adjuster@scope.example", "scope-demo-adjuster", ("AUTO_PD", "AUTO_GLASS", "TRIAGE"),
              name="Chris Ng"),
    DemoLogin("viewer", "viewer@scope.example", "scope-demo-viewer", name="Elena Fischer"),
    # An adjuster of Special Investigations: works SIU cases (no role of its own; the department decides).
    DemoLogin("adjuster", "investigator@scope.example", "scope-demo-investigator", ("SIU",), name="Sofia Marin",
              label="SIU adjuster"),
)


def ensure_demo_users(session: Session) -> int:
    created = 0
    for login in DEMO_LOGINS:
        if get_by_email(session, login.email) is None:
            create_user(session, email=login.email, role=login.role, password=login.password, name=login.name,
                        department_codes=list(login.departments), actor="bootstrap", email_verified=True)
            created += 1
    return created


def run(factory: sessionmaker, settings: Settings, *, demo_claims: int = 20_000, seed: int = 42,
        demo_end: dt.date | None = None, say=print) -> None:
    """``demo_end`` is the demo claims' last day: the run command passes today; the
    default, the generator's fixed date, keeps test databases the same on any day.
    Everything after the load (history model, moves, verdicts) dates itself from the claims."""
    from services import aggregates, alerts, routing, training
    from services.demo_data import END_DATE, load_demo_data
    from services import demo_data_history

    with factory.begin() as session:
        ensure_standard_departments(session)
        if ensure_demo_users(session):
            say("created demo users")
    with factory.begin() as session:
        has_claims = session.scalar(select(func.count()).select_from(select(Claim.id).limit(1).subquery()))
        loaded = not has_claims
        if loaded:
            end = demo_end or END_DATE
            say(f"loading {demo_claims:,} synthetic demo claims (seed {seed}, up to {end})...")
            summary = load_demo_data(session, demo_claims, seed, end=end)
            say(f"  loaded {summary['claims']:,} claims and {summary['parties']:,} parties")
    with factory.begin() as session:
        if not routing.has_champion(session, DEMO_DATASET):
            say("training the first router model (about a minute)...")
            result = training.train_dataset(session, DEMO_DATASET)
            m = result["metrics"]
            say(f"  {result['model_version']}: accuracy {m['accuracy']:.1%}, macro-F1 {m['macro_f1']:.3f}, "
                f"promoted={result['promoted']}")
    with factory.begin() as session:
        # Claims just loaded waited in their queue since they arrived; a later start
        # routes claims that arrived meanwhile, at the real time.
        if routing.has_champion(session, DEMO_DATASET):
            n = routing.route_unscored(session, DEMO_DATASET, threshold=settings.confidence_threshold,
                                       shap_method="exact", at_arrival=loaded)
            if n:
                say(f"  routed {n:,} open claims")
    with factory.begin() as session:
        if ensure_team(session):
            n = assign_open_claims(session)
            say(f"created the demo claims team; assigned {n:,} open claims")
    history = False
    with factory.begin() as session:
        # Routing history (decisions, moves, verdicts) so routing-quality figures are not empty.
        if routing.has_champion(session, DEMO_DATASET) and not demo_data_history.has_history(session, DEMO_DATASET):
            h = demo_data_history.build_history(session, DEMO_DATASET, threshold=settings.confidence_threshold,
                                                seed=seed)
            history = bool(h.get("decisions"))
            if history:
                say(f"  routing history: {h['decisions']:,} decisions by {h['model_version']} "
                    f"(accuracy {h['accuracy']:.1%}), {h['moves']:,} moves, {h['verdicts']:,} verdicts")
    with factory() as session:
        empty = aggregates.data_bounds(session) is None
    if history or empty:
        # The scheduler refreshes the rollups every few minutes; fill them now so the dashboard
        # is not empty on a first start, through the runner so the dashboard can say when.
        from jobs.runner import run_job

        run = run_job(factory, "refresh_aggregates", triggered_by="first start", settings=settings)
        if run.get("status") == "succeeded":
            say("computed the dashboard figures")
        else:  # the scheduler retries within minutes; say so rather than start silently without figures
            why = run.get("error") or (run.get("detail") or {}).get("reason") or "see scope jobs list"
            say(f"the dashboard figures were not computed ({run.get('status')}: {why}); "
                "the scheduler tries again within 5 minutes")
    if loaded:
        # Hourly by the scheduler; now, so the Rings page has something on a first start. Through
        # the job runner: its lock keeps a scheduled run from overlapping, and the run is recorded.
        from jobs.runner import run_job

        run = run_job(factory, "detect_rings", triggered_by="first start", settings=settings)
        detail = run.get("detail") or {}
        if run.get("status") == "succeeded":
            say(f"found {detail.get('rings', 0):,} possible fraud rings ({detail.get('claims', 0):,} claims)")
    from services import fraud_alerts

    with factory.begin() as session:
        never = fraud_alerts.last_raised(session) is None
    if never:
        # Also on an upgraded database: the alerts list should not wait for the hourly run.
        from jobs.runner import run_job

        run = run_job(factory, fraud_alerts.JOB, triggered_by="first start", settings=settings)
        if run.get("status") == "succeeded":
            say(f"raised {(run.get('detail') or {}).get('open', 0):,} fraud alerts")
    if loaded:
        from services import demo_cases

        with factory.begin() as session:
            made = demo_cases.seed(session)
        if made:
            say(f"opened {made['open'] + made['closed']:,} demo SIU cases ({made['closed']:,} closed)")
        from services import demo_documents

        # After the cases: every claim of a demo case gets a claim file, as an investigation has.
        with factory.begin() as session:
            made = demo_documents.seed(session, seed=seed)
        if made:
            say(f"attached {made['documents']:,} demo documents to {made['claims']:,} claims")
    with factory.begin() as session:
        if alerts.ensure_default_rules(session):
            say("created the default alert rules")
