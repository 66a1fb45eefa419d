"""Demo SIU cases, so the Cases page shows an investigation unit's work on a
first start: one case per possible ring with two or more claims in the SIU
queue, and single-claim cases. Closed cases were decided as the demo's ground
truth (``claims.fraud_label``) says, so they change no finding; about half of
the open SIU claims are left in no case, as referrals still to organise.
Deterministic; dated from the claims (opened after they were reported, closed
when they closed), with the leads of the SIU team."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import OPEN_STATUSES, Claim, ClaimEvent, FraudRing, SiuCase, SiuCaseClaim, SiuCaseEvent, SiuCaseTask, \
    User, user_departments
from services.siu_cases import OUTCOME_LABELS, new_key, siu_id

CLOSED_SINGLES = 14
DAY = dt.timedelta(days=1)
OPENED = ("Referred claims reviewed; file opened.", "Opened on the referral; requesting the police report and photos.",
          "File opened: identifiers shared with other claims.")
NOTES = ("Requested the police report and the repair photos.", "Recorded statement taken from the claimant.",
         "Prior-loss search: two earlier claims at the same address.", "Site inspection scheduled with the "
         "field adjuster.", "Medical bills requested from the clinic; treatment dates to be compared.")
FINDINGS = {
    "ring": "The claims share a bank account and phone numbers across claimants who say they do not know each "
            "other; the same clinic billed near-identical treatment plans. Claims denied; reported to the state "
            "fraud bureau.",
    "confirmed_fraud": "Statements of the claimant and the driver conflict on the time of loss, and the repair "
                       "estimate was inflated against the photos. Claim denied; reported to the state fraud bureau.",
    "no_fraud": "Loss verified against the police report and the repair shop's records; the shared phone number "
                "belongs to a fleet operator. No fraud; handled as an ordinary claim.",
    "inconclusive": "Documents are inconsistent, but the claimant's account could not be disproved. Paid under "
                    "reservation of rights; the file is noted for future claims.",
}


# An open case's to-do list (services.siu_case_tasks): the first done, some overdue, some undated.
TASKS = ("Pull the police report", "Request the claimant's bank statements", "Interview the repair shop",
         "Recorded statement from the driver", "Request the medical records from the clinic",
         "Prior-loss search on the claimant's address", "Compare the repair estimate with the photos",
         "Check the phone numbers against other claims", "Site inspection with the field adjuster")


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.timezone.utc)


def seed(session: Session, *, now: dt.datetime | None = None) -> dict:
    """Create the demo cases when there are none; returns what was made."""
    now = now or dt.datetime.now(dt.timezone.utc)
    siu = siu_id(session)
    if siu is None or session.scalar(select(func.count()).select_from(SiuCase)):
        return {}
    leads = list(session.scalars(select(User.id).join(user_departments, user_departments.c.user_id == User.id)
                                 .where(user_departments.c.department_id == siu, User.is_active,
                                        User.role == "adjuster").order_by(User.id)))
    if not leads:
        return {}
    claims = {r.id: r for r in session.execute(
        select(Claim.id, Claim.claim_number, Claim.status, Claim.fraud_label, Claim.claimed_amount, Claim.report_date,
               Claim.closed_at).where(Claim.department_id == siu).order_by(Claim.id))}
    plans: list[tuple[str | None, list]] = []
    taken: set[int] = set()
    for key, ids in session.execute(select(FraudRing.key, FraudRing.claim_ids).order_by(FraudRing.key)):
        members = [claims[i] for i in sorted(ids) if i in claims and i not in taken]
        if members and all(m.status == "closed" for m in members):
            # A closed case's finding is every claim's: a ring's claims the truth does not
            # bear out stay out of it (as an investigator would take them out).
            found = sum(bool(m.fraud_label) for m in members) * 2 > len(members)
            members = [m for m in members if bool(m.fraud_label) == found]
        if len(members) >= 2:
            plans.append((key, members))
            taken |= {m.id for m in members}
    since = now - dt.timedelta(days=150)
    closed = [c for c in claims.values() if c.id not in taken and c.status == "closed" and c.closed_at
              and c.closed_at >= since]
    # Mostly confirmed, as referrals that reach a case are, but not only.
    plans += [(None, [c]) for c in [c for c in closed if c.fraud_label][-(CLOSED_SINGLES - 4):]
              + [c for c in closed if not c.fraud_label][-4:]]
    still_open = [c for c in claims.values() if c.id not in taken and c.status in OPEN_STATUSES]
    plans += [(None, [c]) for i, c in enumerate(still_open) if i % 2 == 0]

    made = {"open": 0, "closed": 0}
    for n, (ring, members) in enumerate(plans):
        _case(session, n, ring, members, leads[n % len(leads)], now, leads[(n + 1) % len(leads)])
        made["closed" if all(m.status == "closed" for m in members) else "open"] += 1
    session.flush()
    return made


def _outcome(n: int, members) -> str:
    fraud = sum(bool(m.fraud_label) for m in members)
    if fraud * 2 > len(members):
        return "inconclusive" if len(members) == 1 and n % 5 == 4 else "confirmed_fraud"
    return "no_fraud"


def _tasks(session: Session, n: int, case_id: int, lead: int, colleague: int, opened: dt.datetime,
           now: dt.datetime) -> list[dict]:
    """Two to four tasks on an open case; returns their activity (added, done)."""
    events = []
    today = now.date()
    for i in range(2 + n % 3):
        title = TASKS[(n * 2 + i) % len(TASKS)]
        created = min(opened + dt.timedelta(hours=1 + i), now - dt.timedelta(minutes=30))
        who = colleague if i == 2 else lead
        done_at = None
        if i == 0:                                 # the first step is done
            due = (opened + 7 * DAY).date()
            done_at = min(created + (2 + n % 5) * DAY, now - dt.timedelta(minutes=10))
        elif i == 1:                               # every other case has one overdue
            due = today - (1 + n % 6) * DAY if n % 2 == 0 else today + (2 + n % 9) * DAY
        elif i == 2:
            due = None
        else:
            due = today + (10 + n % 20) * DAY
        task_id = session.scalar(insert(SiuCaseTask).values(
            case_id=case_id, title=title, assignee_id=who, due_date=due, status="done" if done_at else "open",
            created_by=lead, created_at=created, done_by=who if done_at else None, done_at=done_at)
            .returning(SiuCaseTask.id))
        events.append(dict(case_id=case_id, kind="task_added", actor_id=lead, at=created, note=None,
                           data={"task": task_id, "title": title, "assignee": who,
                                 "due": due.isoformat() if due else None}))
        if done_at:
            events.append(dict(case_id=case_id, kind="task_done", actor_id=who, at=done_at, note=None,
                               data={"task": task_id, "title": title}))
    return events


def _case(session: Session, n: int, ring: str | None, members, lead: int, now: dt.datetime,
          colleague: int | None = None) -> None:
    reported = [m.report_date for m in members if m.report_date] or [now.date() - 30 * DAY]
    earliest = _at(max(reported) + DAY, 9 + n % 7)   # after the last of its claims was reported
    opened = min(earliest, now - dt.timedelta(hours=2))
    done = all(m.status == "closed" for m in members)
    closed_at = None
    if done:
        closed_at = max([m.closed_at for m in members if m.closed_at] + [earliest + 3 * DAY])
        closed_at = min(closed_at, now - dt.timedelta(hours=1))
        # Investigations take one to four months, not the year a ring's claims may span.
        opened = min(max(earliest, closed_at - (40 + n * 7 % 80) * DAY), closed_at - dt.timedelta(hours=1))
    outcome = _outcome(n, members) if done else None
    saved = None
    if outcome == "confirmed_fraud":
        saved = sum((m.claimed_amount or Decimal(0)) for m in members if m.fraud_label) or None
    numbers = [m.claim_number for m in members]
    title = f"Possible ring {ring}" if ring else numbers[0]
    key = new_key(session)
    findings = FINDINGS["ring" if ring and outcome == "confirmed_fraud" else outcome] if outcome else None
    case_id = session.scalar(insert(SiuCase).values(
        key=key, title=title, status="closed" if done else "open", outcome=outcome,
        findings=findings,
        saved_amount=saved, lead_id=lead, ring_key=ring, opened_by=lead, opened_at=opened,
        closed_by=lead if done else None, closed_at=closed_at, updated_at=closed_at or opened).returning(SiuCase.id))
    events = [dict(case_id=case_id, kind="opened", actor_id=lead, at=opened, note=OPENED[n % len(OPENED)],
                   data={"claims": numbers, **({"ring": ring} if ring else {})})]
    end = closed_at or now
    for i in range(1 + n % 2):
        at = opened + (end - opened) * (i + 1) / (3 + n % 2)
        events.append(dict(case_id=case_id, kind="note", actor_id=lead, at=at, note=NOTES[(n + i) % len(NOTES)],
                           data={}))
    if done:
        events.append(dict(case_id=case_id, kind="closed", actor_id=lead, at=closed_at, note=findings,
                           data={"outcome": outcome, "saved": str(saved) if saved is not None else None}))
    else:
        events += _tasks(session, n, case_id, lead, colleague or lead, opened, now)
    # The activity reads newest id first: in the order they happened.
    session.execute(insert(SiuCaseEvent), sorted(events, key=lambda e: e["at"]))
    session.execute(insert(SiuCaseClaim), [dict(case_id=case_id, claim_id=m.id, added_by=lead, added_at=opened)
                                           for m in members])
    history = [dict(claim_id=m.id, kind="siu_case", actor_id=lead, at=opened, note=f"Added to SIU case {key}.",
                    data={"case": key}) for m in members]
    if done:
        history += [dict(claim_id=m.id, kind="siu_case", actor_id=lead, at=closed_at,
                         note=f"SIU case {key} closed: {OUTCOME_LABELS[outcome].lower()}.",
                         data={"case": key, "outcome": outcome}) for m in members]
    session.execute(insert(ClaimEvent), history)
