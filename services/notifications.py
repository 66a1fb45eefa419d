"""Email notifications: what each person wants mailed (their profile's choices over
defaults by role) and the two jobs that mail it.

* ``notify_alerts`` (every 5 minutes, after ``evaluate_alerts``): an email when an alert
  event opens, and when it resolves to those who were told it opened and still want it.
* ``siu_task_reminders`` (daily): to each assignee, their open tasks on open SIU cases due
  today or overdue; nothing due, no mail.

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

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from auth.permissions import ROLES, Perm, role_has
from db.models import (ALERT_SEVERITIES, AlertEvent, Department, NotificationPreference, NotificationSend, SiuCase,
                       SiuCaseTask, User, user_departments)
from services import audit
from services import notification_mail as wording
from services.access import AccessDenied
from services.mail import Mail, send as send_mail
from services.siu_cases import may_work, siu_id

log = logging.getLogger(__name__)

ALERT_OPENED, ALERT_RESOLVED, SIU_DIGEST = "alert_opened", "alert_resolved", "siu_digest"
SEVERITY_LEVEL = {"info": 0, "warning": 1, "critical": 2}
# The choices the profile offers, narrowest first.
SEVERITY_CHOICES = (("critical", "Critical only"), ("warning", "Warning and critical"),
                    ("info", "Every alert (info too)"))
ALERT_FIELDS = ("alert_emails", "alert_min_severity", "alert_resolved")
SIU_FIELDS = ("siu_digest",)
FIELDS = ALERT_FIELDS + SIU_FIELDS
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

    def wants_alert(self, severity: str) -> bool:
        return self.alert_emails and SEVERITY_LEVEL.get(severity, 0) >= SEVERITY_LEVEL[self.alert_min_severity]


def role_defaults(role: str | None) -> Preferences:
    # Admins and managers answer for the operation, so a critical alert is theirs to hear about;
    # viewers read alerts but are not on call, so they opt in. Everyone who works SIU cases gets
    # the digest: a task's due date is a promise to someone.
    on_call = role in ("admin", "manager")
    return Preferences(alert_emails=on_call, alert_min_severity="critical", alert_resolved=True, siu_digest=True)


def may_get_alerts(role: str | None) -> bool:
    """Alerts are mailed only to those who may open /alerts."""
    return role_has(role, Perm.VIEW_ALERTS)


def _effective(row: NotificationPreference | None, role: str | None) -> Preferences:
    base = role_defaults(role)
    if row is None:
        return base
    return Preferences(**{f: getattr(base, f) if getattr(row, f) is None else getattr(row, f) for f in FIELDS})


def _fields_for(session: Session, user) -> tuple[str, ...]:
    return (ALERT_FIELDS if may_get_alerts(user.role) else ()) + (SIU_FIELDS if may_work(session, user) else ())


# --- The profile ---------------------------------------------------------------------------


def settings_for(session: Session, user) -> dict:
    """What the profile's card shows: which kinds the user may get, their current choices,
    and whether mail can reach them at all."""
    account = session.get(User, user.id)
    prefs = _effective(session.get(NotificationPreference, user.id), user.role)
    fields = _fields_for(session, user)
    return {"alerts": ALERT_FIELDS[0] in fields, "siu": SIU_FIELDS[0] in fields, "prefs": asdict(prefs),
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
                                       "resolves", "siu_digest": "The SIU task digest"}[field])
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
        self.counts = {"sent": 0, "skipped": 0, "failed": 0}
        self.errors: list[str] = []

    def deliver(self, user_id: int, kind: str, ref: str, compose: Callable[[], Mail]) -> None:
        savepoint = self.session.begin_nested()
        claimed = self.session.scalar(
            insert(NotificationSend).values(user_id=user_id, kind=kind, ref=ref[:40])
            .on_conflict_do_nothing(constraint="uq_notification_sends_user_kind_ref").returning(NotificationSend.id))
        if claimed is None:  # sent by an earlier run or another scheduler
            savepoint.commit()
            self.counts["skipped"] += 1
            return
        try:
            self.sender(self.settings, compose())
        except Exception as exc:  # noqa: BLE001 - any failure: this one is not sent, the others go on
            savepoint.rollback()
            self.counts["failed"] += 1
            log.warning("%s mail %s to user %s not sent: %s", kind, ref, user_id, exc)
            self.errors.append(f"user {user_id}: {str(exc) or exc.__class__.__name__}")
            return
        savepoint.commit()
        self.counts["sent"] += 1

    def outcome(self, **detail) -> dict:
        result = {"rows": self.counts["sent"], "detail": {**self.counts, **detail}}
        if self.counts["failed"]:
            result["status"] = "failed"
            result["error"] = (f"{self.counts['failed']} email(s) not sent (they are tried again at the next run); "
                               f"first: {self.errors[0]}")
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
