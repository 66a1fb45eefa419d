"""Email notifications: what each person wants mailed (their profile's choices over
defaults by role) and the two jobs that mail it.

* ``notify_alerts`` (every 5 minutes, after ``evaluate_alerts``): an email when an alert
  event opens, and when it resolves to those who were told it opened and still want it.
* ``siu_task_reminders`` (daily): to each assignee, their open tasks on open SIU cases due
  today or overdue; nothing due, no mail.
* ``notify_assignments`` (every 10 minutes): to each person, one email listing the open claims
  someone else gave them since the last one (claims they took themselves are not news).
* ``overdue_claims_digest`` (daily): to each person, their open claims past the department's
  service level (My work's red report dates); none, no mail.
* ``kpi_weekly_summary`` (Mondays): to those who read the dashboard, last week's headline figures
  against the week before, read from the rollups as the dashboard reads them.

Who may get a kind is decided from the role (and Special Investigations membership) when
the mail is sent, never from a stored choice: a demoted manager's old "email me alerts"
row mails nothing. Deactivated users and addresses not verified never get mail.

Each email is claimed first (INSERT ... ON CONFLICT DO NOTHING on ``notification_sends``'
unique (user, kind, ref)) in the job's transaction, then sent. A second scheduler running
the same job blocks on that uncommitted row until the first commits, then finds it taken:
nobody gets a mail twice. Jobs never commit (the runner does).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Callable

from sqlalchemy import String, and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from auth.permissions import ROLES, Perm, role_has
from db.models import (ALERT_SEVERITIES, OPEN_STATUSES, AlertEvent, AlertRule, Claim, ClaimEvent, Department,
                       NotificationPreference, NotificationSend, SiuCase, SiuCaseTask, User, user_departments)
from services import aggregates, audit
from services import notification_mail as wording
from services.access import AccessDenied
from services.mail import Mail, send as send_mail
from services.queues import past_service_level, reported_on
from services.reassignment import MOVE_REASON_LABELS, line_label
from services.siu_cases import may_work, siu_id

log = logging.getLogger(__name__)

ALERT_OPENED, ALERT_RESOLVED, SIU_DIGEST = "alert_opened", "alert_resolved", "siu_digest"
CLAIMS_ASSIGNED, OVERDUE_DIGEST = "claims_assigned", "overdue_digest"
KPI_WEEKLY = "kpi_weekly"
SEVERITY_LEVEL = {"info": 0, "warning": 1, "critical": 2}
# The choices the profile offers, narrowest first.
SEVERITY_CHOICES = (("critical", "Critical only"), ("warning", "Warning and critical"),
                    ("info", "Every alert (info too)"))
ALERT_FIELDS = ("alert_emails", "alert_min_severity", "alert_resolved")
SIU_FIELDS = ("siu_digest",)
CLAIM_FIELDS = ("claims_assigned", "overdue_digest")
KPI_FIELDS = ("kpi_weekly",)
FIELDS = ALERT_FIELDS + SIU_FIELDS + CLAIM_FIELDS + KPI_FIELDS
# Alerts older than this are history, not news: a scheduler that was down a weekend, or someone
# switching alert emails on, does not mail every alert of the past days.
LOOKBACK = dt.timedelta(hours=24)
OUT_OF_DATE = "Nothing was saved: this page is out of date. Reload it and choose again."


class NotificationError(ValueError):
    """The choices were refused; nothing was saved (the message is shown as is)."""


class NothingChanged(NotificationError):
    pass


@dataclass(frozen=True)
class Preferences:
    alert_emails: bool
    alert_min_severity: str
    alert_resolved: bool
    siu_digest: bool
    claims_assigned: bool
    overdue_digest: bool
    kpi_weekly: bool

    def wants_alert(self, severity: str) -> bool:
        return self.alert_emails and SEVERITY_LEVEL.get(severity, 0) >= SEVERITY_LEVEL[self.alert_min_severity]


def role_defaults(role: str | None) -> Preferences:
    # Admins and managers answer for the operation, so a critical alert is theirs to hear about;
    # viewers read alerts but are not on call, so they opt in. Everyone who works SIU cases gets
    # the digest: a task's due date is a promise to someone.
    # Adjusters are given their work, so new claims and late ones are theirs to hear about;
    # managers and admins hand work out and rarely hold claims, so they opt in.
    # The weekly summary is the dashboard's readers' Monday read; admins run the system and
    # read the dashboard when they choose to, so they opt in.
    on_call = role in ("admin", "manager")
    holder = role == "adjuster"
    return Preferences(alert_emails=on_call, alert_min_severity="critical", alert_resolved=True, siu_digest=True,
                       claims_assigned=holder, overdue_digest=holder, kpi_weekly=role in ("viewer", "manager"))


def may_get_alerts(role: str | None) -> bool:
    """Alerts are mailed only to those who may open /alerts."""
    return role_has(role, Perm.VIEW_ALERTS)


def may_hold_claims(role: str | None) -> bool:
    """Emails about one's claims go to the roles that have My work, where the links lead."""
    return role_has(role, Perm.GIVE_FEEDBACK)


def may_get_kpi_summary(role: str | None) -> bool:
    """The weekly summary goes to the roles that may open /dashboard, where its links lead."""
    return role_has(role, Perm.VIEW_DASHBOARDS)


def _effective(row: NotificationPreference | None, role: str | None) -> Preferences:
    base = role_defaults(role)
    if row is None:
        return base
    return Preferences(**{f: getattr(base, f) if getattr(row, f) is None else getattr(row, f) for f in FIELDS})


def _fields_for(session: Session, user) -> tuple[str, ...]:
    return ((ALERT_FIELDS if may_get_alerts(user.role) else ()) + (SIU_FIELDS if may_work(session, user) else ())
            + (CLAIM_FIELDS if may_hold_claims(user.role) else ())
            + (KPI_FIELDS if may_get_kpi_summary(user.role) else ()))


# --- The profile ---------------------------------------------------------------------------


def settings_for(session: Session, user) -> dict:
    """What the profile's card shows: which kinds the user may get, their current choices,
    and whether mail can reach them at all."""
    account = session.get(User, user.id)
    prefs = _effective(session.get(NotificationPreference, user.id), user.role)
    fields = _fields_for(session, user)
    return {"alerts": ALERT_FIELDS[0] in fields, "siu": SIU_FIELDS[0] in fields, "claims": CLAIM_FIELDS[0] in fields,
            "kpi": KPI_FIELDS[0] in fields, "prefs": asdict(prefs),
            "verified": account is not None and account.email_verified_at is not None}


def _bool(value, what: str) -> bool:
    if not isinstance(value, bool):
        raise NotificationError(f"{what} must be on or off.")
    return value


def parse(raw, fields: tuple[str, ...]) -> dict:
    """The choices as the page sent them: every field the role has, nothing else."""
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise NotificationError(OUT_OF_DATE)
    sent = set(raw)
    if sent & set(ALERT_FIELDS) and ALERT_FIELDS[0] not in fields:
        raise AccessDenied("Your role does not see alerts, so it gets no alert emails.")
    if sent & set(SIU_FIELDS) and SIU_FIELDS[0] not in fields:
        raise AccessDenied("Only those who work SIU cases get the SIU task digest.")
    if sent & set(CLAIM_FIELDS) and CLAIM_FIELDS[0] not in fields:
        raise AccessDenied("Your role holds no claims, so it gets no emails about them.")
    if sent & set(KPI_FIELDS) and KPI_FIELDS[0] not in fields:
        raise AccessDenied("Only those who see the dashboard get its weekly summary.")
    if sent != set(fields):
        raise NotificationError(OUT_OF_DATE)
    out = {}
    for field in fields:
        value = raw[field]
        if field == "alert_min_severity":
            if not isinstance(value, str) or value not in ALERT_SEVERITIES:
                raise NotificationError("Choose which alerts to get: critical only, warning and critical, or all.")
            out[field] = value
        else:
            out[field] = _bool(value, {"alert_emails": "Alert emails", "alert_resolved": "Emails when an alert "
                                       "resolves", "siu_digest": "The SIU task digest",
                                       "claims_assigned": "Emails about claims assigned to you",
                                       "overdue_digest": "The digest of your claims past their service level",
                                       "kpi_weekly": "The weekly summary"}[field])
    return out


def save(session: Session, user, raw) -> Preferences:
    """Save the signed-in user's choices (AccessDenied for a kind their role does not get);
    audited with before and after. Never commits."""
    fields = _fields_for(session, user)
    chosen = parse(raw, fields)
    if not chosen:
        raise AccessDenied("Your role gets no email notifications.")
    # Insert-then-lock: two tabs saving at once both end with one row, the later choice.
    session.execute(insert(NotificationPreference).values(user_id=user.id)
                    .on_conflict_do_nothing(index_elements=["user_id"]))
    row = session.scalar(select(NotificationPreference).where(NotificationPreference.user_id == user.id)
                         .with_for_update().execution_options(populate_existing=True))
    before = asdict(_effective(row, user.role))
    if all(before[f] == v for f, v in chosen.items()) and all(getattr(row, f) is not None for f in chosen):
        raise NothingChanged("Nothing changed: these are your settings already.")
    for field, value in chosen.items():
        setattr(row, field, value)
    row.updated_at = dt.datetime.now(dt.timezone.utc)
    session.flush()
    audit.record(session, actor=user.email, actor_id=user.id, action="account.notifications_change",
                 target_type="user", target_id=user.id, before={f: before[f] for f in chosen}, after=chosen)
    return _effective(row, user.role)


# --- Sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    id: int
    email: str
    name: str
    role: str
    prefs: Preferences


Sender = Callable[[object, Mail], None]
# A mail server that is down (or none configured) fails every send, each only after its timeout
# (services.mail: 10 s): a run mailing 30 people held its transaction, and the next run waiting on
# its claims, for minutes. After this many failures in a row a run tries no more; the next run does.
GIVE_UP_AFTER = 3


def _recipients(session: Session, roles: list[str]) -> dict[int, Recipient]:
    """Active users of these roles with a verified address, with their effective choices."""
    rows = session.execute(
        select(User.id, User.email, User.name, User.role, NotificationPreference)
        .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
        .where(User.is_active.is_(True), User.email_verified_at.is_not(None), User.role.in_(roles))
        .order_by(User.id)).all()
    return {uid: Recipient(uid, email, name, role, _effective(row, role)) for uid, email, name, role, row in rows}


class _Outbox:
    """Claim, send, count. A failed send rolls back its own claim (a savepoint), so it is not
    marked sent and the next run tries again, while the others' claims stay. Claiming after a
    successful send instead would let a second scheduler send the same mail in between; the
    price of claiming first is that a crash between the send and the runner's commit mails
    that person again at the next run (at least once, never twice in a normal run)."""

    def __init__(self, session: Session, settings, sender: Sender | None) -> None:
        self.session, self.settings = session, settings
        self.sender = sender or send_mail
        self.counts = {"sent": 0, "skipped": 0, "failed": 0, "not_tried": 0}
        self.errors: list[str] = []
        self.failing = 0  # failures in a row

    def deliver(self, user_id: int, kind: str, ref: str, compose: Callable[[], Mail]) -> None:
        self.deliver_many(user_id, kind, [ref], lambda _claimed: compose())

    def deliver_many(self, user_id: int, kind: str, refs: list[str], compose: Callable[[set[str]], Mail]) -> None:
        """One email about several things, each claimed on its own row: ``compose`` gets the refs
        this run claimed (those an earlier run or another scheduler took are left out of the
        email), and nothing is sent when it claimed none. Refs are claimed in the caller's order."""
        if self.failing >= GIVE_UP_AFTER:
            self.counts["not_tried"] += 1
            return
        savepoint = self.session.begin_nested()
        claimed = set(self.session.scalars(
            insert(NotificationSend).values([{"user_id": user_id, "kind": kind, "ref": ref[:40]} for ref in refs])
            .on_conflict_do_nothing(constraint="uq_notification_sends_user_kind_ref").returning(NotificationSend.ref)))
        if not claimed:  # sent by an earlier run or another scheduler
            savepoint.commit()
            self.counts["skipped"] += 1
            return
        ref = ",".join(refs)[:40]
        try:
            self.sender(self.settings, compose(claimed))
        except Exception as exc:  # noqa: BLE001 - any failure: this one is not sent, the others go on
            savepoint.rollback()
            self.counts["failed"] += 1
            self.failing += 1
            log.warning("%s mail %s to user %s not sent: %s", kind, ref, user_id, exc)
            self.errors.append(f"user {user_id}: {str(exc) or exc.__class__.__name__}")
            return
        savepoint.commit()
        self.counts["sent"] += 1
        self.failing = 0

    def outcome(self, **detail) -> dict:
        result = {"rows": self.counts["sent"], "detail": {**self.counts, **detail}}
        if self.counts["failed"]:
            result["status"] = "failed"
            result["error"] = (f"{self.counts['failed']} email(s) not sent (they are tried again at the next run); "
                               f"first: {self.errors[0]}")
            if self.counts["not_tried"]:
                result["error"] += (f"; {self.counts['not_tried']} more not tried after {GIVE_UP_AFTER} failures in "
                                    "a row")
        return result


def _facts(event: AlertEvent, departments: dict[int, str]) -> wording.AlertFacts:
    return wording.AlertFacts(event.id, event.rule_name, event.metric, event.comparison, event.threshold,
                              event.period, event.severity, departments.get(event.department_id),
                              event.opened_at, event.opened_value, event.last_value, event.worst_value,
                              event.resolved_at, event.resolution)


def notify_alerts(session: Session, settings, *, now: dt.datetime | None = None, sender: Sender | None = None) -> dict:
    """Mail alerts opened (still open) and resolved in the last ``LOOKBACK`` to those who want them."""
    now = now or dt.datetime.now(dt.timezone.utc)
    since = now - LOOKBACK
    events = session.scalars(select(AlertEvent).where(or_(
        and_(AlertEvent.resolved_at.is_(None), AlertEvent.opened_at >= since),
        AlertEvent.resolved_at >= since)).order_by(AlertEvent.id)).all()
    outbox = _Outbox(session, settings, sender)
    if not events:
        return outbox.outcome(events=0)
    recipients = _recipients(session, [r for r in ROLES if may_get_alerts(r)])
    departments = dict(session.execute(select(Department.id, Department.name)).all())
    told = set(session.execute(select(NotificationSend.user_id, NotificationSend.ref).where(
        NotificationSend.kind == ALERT_OPENED,
        NotificationSend.ref.in_([str(e.id) for e in events if e.resolved_at is not None]))).all())
    jobs = []
    for event in events:
        facts = _facts(event, departments)
        for r in recipients.values():
            if not r.prefs.wants_alert(event.severity):
                continue
            if event.resolved_at is None:
                jobs.append((r.id, ALERT_OPENED, str(event.id), r, facts))
            # An alert that opened and resolved before anyone was told is not news (the history
            # keeps it); a resolution goes to those told of the opening only.
            elif r.prefs.alert_resolved and (r.id, str(event.id)) in told:
                jobs.append((r.id, ALERT_RESOLVED, str(event.id), r, facts))
    # One order in every process: two schedulers claiming rows in different orders could
    # deadlock, and PostgreSQL would abort one of them after it had sent some mail.
    jobs.sort(key=lambda j: (j[0], j[1], int(j[2])))
    compose = {ALERT_OPENED: wording.alert_opened, ALERT_RESOLVED: wording.alert_resolved}
    for user_id, kind, ref, r, facts in jobs:
        outbox.deliver(user_id, kind, ref, lambda r=r, facts=facts, kind=kind: compose[kind](
            r.email, r.name, facts, base_url=settings.base_url, currency=settings.currency,
            severity_choice=r.prefs.alert_min_severity))
    return outbox.outcome(events=len(events))


def _siu_workers(session: Session, user_ids: list[int]) -> set[int]:
    """Of these users, those who work SIU cases (services.siu_cases.may_work): managers and
    admins, and adjusters of Special Investigations."""
    roles = dict(session.execute(select(User.id, User.role).where(User.id.in_(user_ids))).all())
    siu = siu_id(session)
    in_siu = set(session.scalars(select(user_departments.c.user_id).where(
        user_departments.c.department_id == siu, user_departments.c.user_id.in_(user_ids)))) if siu else set()
    return {uid for uid, role in roles.items() if role_has(role, Perm.WORK_SIU_CASES)
            and (role_has(role, Perm.VIEW_ALL_DEPARTMENTS) or uid in in_siu)}


def siu_task_reminders(session: Session, settings, *, today: dt.date | None = None,
                       sender: Sender | None = None) -> dict:
    """One digest per assignee per day of their open tasks on open cases due today or before."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    rows = session.execute(
        select(SiuCaseTask.assignee_id, SiuCase.key, SiuCase.title, SiuCaseTask.title, SiuCaseTask.due_date)
        .join(SiuCase, SiuCase.id == SiuCaseTask.case_id)
        .where(SiuCaseTask.status == "open", SiuCase.status == "open", SiuCaseTask.due_date <= today)
        .order_by(SiuCaseTask.assignee_id, SiuCaseTask.due_date, SiuCase.key, SiuCaseTask.id)).all()
    due: dict[int, list[wording.DueTask]] = defaultdict(list)
    for assignee, key, case_title, title, due_date in rows:
        due[assignee].append(wording.DueTask(key, case_title, title, due_date))
    outbox = _Outbox(session, settings, sender)
    recipients = _recipients(session, list(ROLES))
    workers = _siu_workers(session, list(due))
    not_mailed = 0
    for user_id in sorted(due):
        r = recipients.get(user_id)
        if r is None or user_id not in workers or not r.prefs.siu_digest:
            not_mailed += 1
            continue
        tasks = due[user_id]
        outbox.deliver(user_id, SIU_DIGEST, today.isoformat(), lambda r=r, tasks=tasks: wording.siu_digest(
            r.email, r.name, tasks, today=today, base_url=settings.base_url))
    return outbox.outcome(assignees=len(due), not_wanted=not_mailed, day=today.isoformat())


# --- One's claims ------------------------------------------------------------------------------


def _holders(session: Session, field: str) -> dict[int, Recipient]:
    """Active, verified people whose role holds claims and who want this kind (``field`` of Preferences)."""
    everyone = _recipients(session, [r for r in ROLES if may_hold_claims(r)])
    return {uid: r for uid, r in everyone.items() if getattr(r.prefs, field)}


def _in_my_work(user_ids):
    """Claims My work lists for their adjuster: those who see every department see all of
    theirs, the others only those in their own departments (services.queues.my_work)."""
    everywhere = [r for r in ROLES if role_has(r, Perm.VIEW_ALL_DEPARTMENTS)]
    own_department = select(user_departments.c.user_id).where(
        user_departments.c.user_id == Claim.adjuster_id, user_departments.c.department_id == Claim.department_id)
    wide = select(User.id).where(User.id == Claim.adjuster_id, User.role.in_(everywhere))
    return and_(Claim.adjuster_id.in_(user_ids), or_(wide.exists(), own_department.exists()))


def notify_assignments(session: Session, settings, *, now: dt.datetime | None = None,
                       sender: Sender | None = None) -> dict:
    """One email per person listing the open claims others gave them in the last ``LOOKBACK``
    and not mailed yet.

    The key of what was mailed is (person, kind, the claim event that gave them the claim):
    one row per claim listed, claimed together before the email goes (``deliver_many``).
    A re-run or a second scheduler finds those rows taken and mails nothing twice, and an
    event that arrives between two runs has an id of its own, so it is mailed at the next one.
    A high-water mark per person (the last event id mailed) would be one row per email, but
    two schedulers reading it at once would both mail the claims above it."""
    now = now or dt.datetime.now(dt.timezone.utc)
    outbox = _Outbox(session, settings, sender)
    recipients = _holders(session, "claims_assigned")
    if not recipients:
        return outbox.outcome(people=0, claims=0)
    # The latest assignment event of each claim decides who was given it and by whom: a claim
    # moved to A and on to B in the same ten minutes is B's news, not A's, and one a person took
    # back for themselves after a move is no longer "given" to them.
    latest = (select(ClaimEvent.id, ClaimEvent.claim_id, ClaimEvent.actor_id, ClaimEvent.at, ClaimEvent.reason,
                     ClaimEvent.note, ClaimEvent.data["to_adjuster_id"].as_integer().label("to_id"),
                     ClaimEvent.data["from_adjuster_id"].as_integer().label("from_id"))
              .where(ClaimEvent.kind.in_(("assigned", "moved")), ClaimEvent.at >= now - LOOKBACK)
              .ext(distinct_on(ClaimEvent.claim_id))
              .order_by(ClaimEvent.claim_id, ClaimEvent.at.desc(), ClaimEvent.id.desc())).subquery()
    actor = User.__table__.alias("actor")
    sent = select(NotificationSend.id).where(
        NotificationSend.user_id == latest.c.to_id, NotificationSend.kind == CLAIMS_ASSIGNED,
        NotificationSend.ref == func.cast(latest.c.id, String))
    rows = session.execute(
        select(latest.c.to_id, latest.c.id, latest.c.at, latest.c.reason, latest.c.note, Claim.claim_number,
               Claim.line_of_business, Claim.claimed_amount, Department.name, actor.c.name, actor.c.email)
        .join(Claim, Claim.id == latest.c.claim_id)
        .outerjoin(Department, Department.id == Claim.department_id)
        .outerjoin(actor, actor.c.id == latest.c.actor_id)
        .where(latest.c.to_id.in_(list(recipients)), Claim.adjuster_id == latest.c.to_id,
               Claim.status.in_(OPEN_STATUSES),
               # Taken by themselves (Assign to me, a manager moving claims to themselves) is not news,
               # nor a move to another department that kept the adjuster.
               latest.c.actor_id.is_distinct_from(latest.c.to_id), latest.c.from_id.is_distinct_from(latest.c.to_id),
               ~sent.exists())
        .order_by(latest.c.to_id, latest.c.at.desc(), latest.c.id.desc())).all()
    given: dict[int, list[tuple[str, wording.AssignedClaim]]] = defaultdict(list)
    for to_id, event_id, at, reason, note, number, line, amount, department, by_name, by_email in rows:
        given[to_id].append((str(event_id), wording.AssignedClaim(
            number, line_label(line), department, amount, by_name or by_email or "SCOPE", at,
            MOVE_REASON_LABELS.get(reason or "", reason), note)))
    for user_id in sorted(given):
        r, claims = recipients[user_id], given[user_id]
        # Claimed in event order (one order in every process, as for alerts), listed newest first.
        refs = sorted((ref for ref, _ in claims), key=int)
        outbox.deliver_many(user_id, CLAIMS_ASSIGNED, refs, lambda claimed, r=r, claims=claims: wording.claims_assigned(
            r.email, r.name, [c for ref, c in claims if ref in claimed], base_url=settings.base_url,
            currency=settings.currency))
    return outbox.outcome(people=len(given), claims=len(rows))


def overdue_claims_digest(session: Session, settings, *, today: dt.date | None = None,
                          sender: Sender | None = None) -> dict:
    """One digest per person per day of their open claims past the service level, oldest first."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    outbox = _Outbox(session, settings, sender)
    recipients = _holders(session, "overdue_digest")
    if not recipients:
        return outbox.outcome(people=0, day=today.isoformat())
    reported = reported_on()
    ranked = (select(Claim.adjuster_id, Claim.claim_number, Claim.line_of_business, Claim.claimed_amount,
                     Department.name.label("department"), Department.sla_days, reported.label("reported"),
                     func.row_number().over(partition_by=Claim.adjuster_id, order_by=(reported, Claim.id))
                     .label("n"),
                     func.count().over(partition_by=Claim.adjuster_id).label("total"))
              .join(Department, Department.id == Claim.department_id)
              .where(_in_my_work(list(recipients)), past_service_level(today))).subquery()
    rows = session.execute(select(ranked).where(ranked.c.n <= wording.DIGEST_SHOWN)
                           .order_by(ranked.c.adjuster_id, ranked.c.n)).all()
    late: dict[int, list[wording.LateClaim]] = defaultdict(list)
    totals: dict[int, int] = {}
    for row in rows:
        late[row.adjuster_id].append(wording.LateClaim(
            row.claim_number, line_label(row.line_of_business), row.department, row.claimed_amount, row.reported,
            row.reported + dt.timedelta(days=int(row.sla_days)), int(row.sla_days)))
        totals[row.adjuster_id] = row.total
    for user_id in sorted(late):
        r = recipients[user_id]
        outbox.deliver(user_id, OVERDUE_DIGEST, today.isoformat(), lambda r=r, user_id=user_id: wording.overdue_digest(
            r.email, r.name, late[user_id], totals[user_id], today=today, base_url=settings.base_url,
            currency=settings.currency))
    return outbox.outcome(people=len(late), claims=sum(totals.values()), day=today.isoformat())


# --- The weekly summary -------------------------------------------------------------------------


def last_full_week(today: dt.date) -> aggregates.Filters:
    """Monday to Sunday (UTC days) of the last week that has ended by ``today``."""
    monday = today - dt.timedelta(days=today.weekday() + 7)
    return aggregates.Filters(monday, monday + dt.timedelta(days=6))


def kpi_targets(session: Session) -> dict[str, wording.Target]:
    """Per figure, the target the enabled all-departments alert rules set (the product targets
    are seeded as rules: services.alerts.DEFAULT_RULES). Of several rules on one figure the
    mildest is the target (accuracy below 95% warns, below 90% is critical: the target is 95%)."""
    rules = session.execute(select(AlertRule.metric, AlertRule.comparison, AlertRule.threshold).where(
        AlertRule.enabled.is_(True), AlertRule.department_id.is_(None),
        AlertRule.metric.in_(wording.KPI_FIGURES))).all()
    out: dict[str, wording.Target] = {}
    for metric, comparison, threshold in rules:
        known = out.get(metric)
        milder = known is None or (known.comparison == comparison and (
            threshold > known.threshold if comparison == "below" else threshold < known.threshold))
        if milder:
            out[metric] = wording.Target(comparison, threshold)
    return out


def kpi_weekly_summary(session: Session, settings, *, now: dt.datetime | None = None,
                       sender: Sender | None = None) -> dict:
    """One email per person who wants it about the last full week against the week before:
    the dashboard's own figures (services.aggregates.kpis_with_previous, as /dashboard reads
    them for that period), with a word when the rollups are stale. No data for the week
    (the rollups are empty or end before it), no mail. The ref is the week's Monday."""
    now = now or dt.datetime.now(dt.timezone.utc)
    week = last_full_week(now.astimezone(dt.timezone.utc).date())
    outbox = _Outbox(session, settings, sender)
    everyone = _recipients(session, [r for r in ROLES if may_get_kpi_summary(r)])
    recipients = {uid: r for uid, r in everyone.items() if r.prefs.kpi_weekly}
    detail = {"people": len(recipients), "week": week.start.isoformat()}
    if not recipients:
        return outbox.outcome(**detail)
    bounds = aggregates.data_bounds(session)
    if bounds is None or bounds[1] < week.start or bounds[0] > week.end:
        return outbox.outcome(**detail, no_data=True)
    summary = wording.KpiWeek(week.start, week.end, aggregates.kpis_with_previous(session, week),
                              kpi_targets(session), aggregates.staleness(session, now),
                              bounds[1] if bounds[1] < week.end else None)
    for user_id in sorted(recipients):
        r = recipients[user_id]
        outbox.deliver(user_id, KPI_WEEKLY, week.start.isoformat(), lambda r=r: wording.kpi_weekly(
            r.email, r.name, summary, base_url=settings.base_url, currency=settings.currency))
    return outbox.outcome(**detail, stale=summary.stale is not None)


# Every job looks back at most a week (the weekly summary; the others a day): older rows guard nothing.
SENT_RETENTION_DAYS = 90


def purge_sent(session: Session, *, days: int = SENT_RETENTION_DAYS, now: dt.datetime | None = None) -> int:
    """Forget what was mailed more than ``days`` ago. Every job looks back at most a week
    (LOOKBACK, one digest a day, one summary a week), so old rows guard nothing; they only grew the table."""
    cutoff = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=days)
    return session.execute(delete(NotificationSend).where(NotificationSend.sent_at < cutoff)).rowcount or 0
