"""Reading SIU cases (services.siu_cases writes them): the list, one case with
its claims and activity, a claim's case, and the totals."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, distinct, func, select, true
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session, aliased

from db.models import OPEN_STATUSES, Claim, ClaimEvent, Department, SiuCase, SiuCaseClaim, SiuCaseEvent, SiuCaseTask, \
    User
from services.access import can_see_department
from services.siu_case_tasks import EVENT_TITLES as TASK_EVENT_TITLES
from services.siu_cases import EVENT_TITLES, KEY_RE, MAX_CLAIMS, OUTCOME_LABELS, may_work, siu_id

STATUS_LABELS = {"open": "Open", "closed": "Closed"}


@dataclass
class CaseSummary:
    id: int
    key: str
    title: str
    status: str
    outcome: str | None
    lead: str | None
    claims: int
    open_claims: int       # open and still in the Special Investigations queue
    claimed: float
    opened_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    saved: float | None
    ring_key: str | None
    open_tasks: int = 0
    overdue_tasks: int = 0     # open, due before today (UTC)

    @property
    def days_open(self) -> int:
        end = self.closed_at or dt.datetime.now(dt.timezone.utc)
        return max(0, (end - self.opened_at).days)


@dataclass
class CaseClaimView:
    claim_number: str
    status: str | None     # None: in a department the reader does not work
    department: str | None
    department_color: str | None
    adjuster: str | None
    claimed: float | None
    report_date: dt.date | None
    in_siu: bool           # a claim may leave the SIU queue (back to its line after "no fraud")
    may_open: bool = True  # sent back to a department the reader does not work: named, not linked
    # How it left the SIU queue (its latest move out): to which department, when, and whether
    # Special Investigations sent it back (reason SIU_CLEARED) or someone else moved it.
    left_to: str | None = None
    left_to_color: str | None = None
    left_at: dt.datetime | None = None
    sent_back: bool = False


@dataclass
class EventView:
    at: dt.datetime
    kind: str
    title: str
    actor: str
    note: str | None
    detail: str | None


@dataclass
class CaseView:
    summary: CaseSummary
    version: int
    lead_id: int | None
    findings: str | None
    opened_by: str | None
    closed_by: str | None
    claims: list[CaseClaimView] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)


def _summaries(ids, siu: int | None):
    """Summaries of the cases whose ids ``ids`` (a subquery) selects. Each case's claims are
    totalled on their own (LATERAL): a join to totals of every case read all case claims for
    a page of 50 (300-540 ms at 20,000 cases, bench/bench_siu_cases.py). "Open" counts the
    open claims still in the SIU queue: a claim sent back is its department's work, and
    whether it is still open there is not Special Investigations' to know."""
    lead = aliased(User)
    stats = (select(func.count().label("n"),
                    func.count().filter(Claim.status.in_(OPEN_STATUSES), Claim.department_id == siu).label("open_n"),
                    func.coalesce(func.sum(Claim.claimed_amount), 0).label("claimed"))
             .select_from(SiuCaseClaim).join(Claim, Claim.id == SiuCaseClaim.claim_id)
             .where(SiuCaseClaim.case_id == SiuCase.id).lateral())
    today = dt.datetime.now(dt.timezone.utc).date()
    todo = (select(func.count().label("open_t"), func.count().filter(SiuCaseTask.due_date < today).label("late_t"))
            .where(SiuCaseTask.case_id == SiuCase.id, SiuCaseTask.status == "open").lateral())
    return (select(SiuCase, lead.name, lead.email, stats.c.n, stats.c.open_n, stats.c.claimed, todo.c.open_t,
                   todo.c.late_t)
            .outerjoin(lead, lead.id == SiuCase.lead_id).join(stats, true()).join(todo, true())
            .where(SiuCase.id.in_(ids)))


def _summary(case: SiuCase, name, email, n, open_n, claimed, open_t=0, late_t=0) -> CaseSummary:
    return CaseSummary(case.id, case.key, case.title, case.status, case.outcome, name or email, n or 0, open_n or 0,
                       float(claimed or 0), case.opened_at, case.updated_at, case.closed_at,
                       float(case.saved_amount) if case.saved_amount is not None else None, case.ring_key,
                       open_t or 0, late_t or 0)


def list_cases(session: Session, user, *, status: str = "open", mine: bool = False, limit: int = 50,
               offset: int = 0) -> tuple[list[CaseSummary], int]:
    """Cases of one status (open: oldest first, as work; closed: latest first), and how many."""
    if not may_work(session, user):
        return [], 0
    status = status if status in STATUS_LABELS else "open"
    q = select(SiuCase.id).where(SiuCase.status == status)
    if mine:
        q = q.where(SiuCase.lead_id == user.id)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    order = (SiuCase.opened_at, SiuCase.id) if status == "open" else (SiuCase.closed_at.desc(), SiuCase.id.desc())
    # The page's ids first, then only their totals.
    page = q.order_by(*order).offset(offset).limit(limit).scalar_subquery()
    rows = session.execute(_summaries(page, siu_id(session)).order_by(*order)).all()
    return [_summary(*r) for r in rows], total


def _names(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    return {r.id: r.name or r.email for r in session.execute(
        select(User.id, User.name, User.email).where(User.id.in_(ids)))} if ids else {}


def _event_view(ev: SiuCaseEvent, names: dict[int, str]) -> EventView:
    data = ev.data or {}
    claims = data.get("claims") or []
    detail = None
    if ev.kind in ("opened", "claim_added", "claim_removed") and claims:
        detail = ", ".join(claims[:10]) + (f" and {len(claims) - 10} more" if len(claims) > 10 else "")
        if data.get("ring"):
            detail = f"from possible ring {data['ring']}: " + detail
    elif ev.kind == "lead":
        detail = f"{names.get(data.get('from'), 'nobody')} → {names.get(data.get('to'), 'nobody')}"
    elif ev.kind == "closed":
        detail = OUTCOME_LABELS.get(data.get("outcome"), data.get("outcome"))
        back = data.get("sent_back") or []
        brought = data.get("brought_in") or []
        if brought:
            detail += (f"; {len(brought)} open claim{'s' if len(brought) != 1 else ''} brought back into the "
                       "Special Investigations queue: " + ", ".join(brought[:10])
                       + (f" and {len(brought) - 10} more" if len(brought) > 10 else ""))
        if back:
            detail += (f"; {len(back)} open claim{'s' if len(back) != 1 else ''} sent back to "
                       f"{'their departments' if len(back) != 1 else 'its department'}: " + ", ".join(back[:10])
                       + (f" and {len(back) - 10} more" if len(back) > 10 else ""))
    elif ev.kind == "reopened" and data.get("was"):
        detail = "was " + OUTCOME_LABELS.get(data["was"], data["was"]).lower()
    elif ev.kind in TASK_EVENT_TITLES:
        detail = _task_detail(ev.kind, data, names)
    title = EVENT_TITLES.get(ev.kind) or TASK_EVENT_TITLES.get(ev.kind, ev.kind)
    return EventView(ev.at, ev.kind, title, names.get(ev.actor_id, "SCOPE"), ev.note, detail)


def _due_words(value) -> str:
    return f"due {value}" if value else "no due date"


def _task_detail(kind: str, data: dict, names: dict[int, str]) -> str:
    """A task's line in the activity: its title, and for an addition whose it is and when due;
    for an edit what changed, from and to."""
    title = f"\u201c{data.get('title') or 'a task'}\u201d"
    if kind == "task_added":
        return " · ".join([title, f"for {names.get(data.get('assignee'), 'someone')}", _due_words(data.get("due"))])
    if kind == "task_edited":
        changes = data.get("changes") or {}
        parts = []
        if "title" in changes:
            parts.append(f"{changes['title'][0]} → {changes['title'][1]}")
        else:
            parts.append(title)
        if "assignee" in changes:
            old, new = changes["assignee"]
            parts.append(f"{names.get(old, 'someone')} → {names.get(new, 'someone')}")
        if "due" in changes:
            old, new = changes["due"]
            parts.append(f"{_due_words(old)} → {_due_words(new)}")
        if changes.get("details") in ("added", "changed", "removed"):
            parts.append(f"details {changes['details']}")
        return " · ".join(parts)
    return title


def get_case(session: Session, user, key, *, events: int = 500) -> CaseView | None:
    """One case for a user who may work cases; None when unknown or not theirs to read."""
    if not isinstance(key, str) or not KEY_RE.fullmatch(key.strip().upper()) or not may_work(session, user):
        return None
    one = select(SiuCase.id).where(SiuCase.key == key.strip().upper()).scalar_subquery()
    siu = siu_id(session)
    row = session.execute(_summaries(one, siu)).first()
    if row is None:
        return None
    case = row[0]
    claims = session.execute(
        select(Claim.claim_number, Claim.status, Department.name, Department.color, User.name, User.email,
               Claim.claimed_amount, Claim.report_date, Claim.department_id, Claim.id)
        .join(SiuCaseClaim, and_(SiuCaseClaim.claim_id == Claim.id, SiuCaseClaim.case_id == case.id))
        .outerjoin(Department, Department.id == Claim.department_id).outerjoin(User, User.id == Claim.adjuster_id)
        .order_by(Claim.report_date, Claim.claim_number)).all()
    left = _moves_out(session, [r[9] for r in claims if r[8] != siu], siu)
    evs = session.scalars(select(SiuCaseEvent).where(SiuCaseEvent.case_id == case.id)
                          .order_by(SiuCaseEvent.id.desc()).limit(events)).all()
    ids = {e.actor_id for e in evs} | {case.opened_by, case.closed_by}
    ids |= {v for e in evs if e.kind == "lead" for v in ((e.data or {}).get("from"), (e.data or {}).get("to"))}
    ids |= {(e.data or {}).get("assignee") for e in evs if e.kind == "task_added"}
    ids |= {v for e in evs if e.kind == "task_edited"
            for v in ((e.data or {}).get("changes") or {}).get("assignee") or ()}
    names = _names(session, ids)
    return CaseView(
        _summary(*row), case.version, case.lead_id, case.findings, names.get(case.opened_by),
        names.get(case.closed_by), [_claim_view(user, r, siu, left.get(r[9])) for r in claims],
        [_event_view(e, names) for e in evs])


def _moves_out(session: Session, claim_ids: list[int], siu: int | None) -> dict[int, tuple]:
    """Each claim's latest move out of the SIU queue: {claim id: (department, colour, at, reason)}."""
    if not claim_ids or siu is None:
        return {}
    rows = session.execute(
        select(ClaimEvent.claim_id, Department.name, Department.color, ClaimEvent.at, ClaimEvent.reason)
        .outerjoin(Department, Department.id == ClaimEvent.to_department_id)
        .where(ClaimEvent.claim_id.in_(claim_ids), ClaimEvent.kind == "moved", ClaimEvent.from_department_id == siu,
               ClaimEvent.to_department_id.is_distinct_from(siu))
        .order_by(ClaimEvent.claim_id, ClaimEvent.at.desc(), ClaimEvent.id.desc())
        .ext(distinct_on(ClaimEvent.claim_id))).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def _claim_view(user, r, siu: int | None, left: tuple | None) -> CaseClaimView:
    """One row of a case's claims. A claim that left the SIU queue for a department the
    reader does not work is shown as it left (where to and when), not as it is now: its
    status, adjuster and later moves belong to that department (an SIU adjuster does not
    learn about other queues' claims)."""
    number, status, dept, color, name, email, claimed, report, dept_id, _ = r
    in_siu = dept_id == siu
    sees = in_siu or can_see_department(user, dept_id)
    view = CaseClaimView(number, status, dept, color, name or email, float(claimed) if claimed is not None else None,
                         report, in_siu, sees)
    if not in_siu and left is not None:
        view.left_to, view.left_to_color, view.left_at = left[0], left[1], left[2]
        view.sent_back = left[3] == "SIU_CLEARED"
    if not sees:
        view.status, view.adjuster = None, None
        view.department, view.department_color = view.left_to, view.left_to_color
    return view


@dataclass
class ClaimCase:
    key: str
    title: str
    status: str
    outcome: str | None
    lead: str | None


def case_of_claim(session: Session, user, claim_id: int) -> ClaimCase | None:
    """The claim's case, for those who may work cases."""
    if not may_work(session, user):
        return None
    row = session.execute(select(SiuCase, User.name, User.email).join(SiuCaseClaim, SiuCaseClaim.case_id == SiuCase.id)
                          .outerjoin(User, User.id == SiuCase.lead_id)
                          .where(SiuCaseClaim.claim_id == claim_id)).first()
    if row is None:
        return None
    case = row[0]
    return ClaimCase(case.key, case.title, case.status, case.outcome, row[1] or row[2])


def can_start_case(session: Session, user, claim) -> bool:
    """Whether the claim page offers "open a case / add to a case" for this claim."""
    siu = siu_id(session)
    return siu is not None and claim.department_id == siu and may_work(session, user, siu)


CASES_OFFERED = 500   # the claim page's pick-list; older open cases take claims on their own page


def open_cases_to_add(session: Session, user, *, limit: int = CASES_OFFERED) -> list[tuple[str, str]]:
    """(key, title) of the open cases a claim may be added to, most recently opened first:
    the claim page's "Add to case" list. Full cases are left out (services.siu_cases refuses them)."""
    if not may_work(session, user):
        return []
    full = select(SiuCaseClaim.case_id).group_by(SiuCaseClaim.case_id).having(func.count() >= MAX_CLAIMS)
    return [(k, t) for k, t in session.execute(
        select(SiuCase.key, SiuCase.title).where(SiuCase.status == "open", SiuCase.id.not_in(full))
        .order_by(SiuCase.opened_at.desc(), SiuCase.id.desc()).limit(limit))]


def open_cases_led(session: Session, user) -> int:
    """How many open cases the user leads (for their "My work")."""
    if not may_work(session, user):
        return 0
    return session.scalar(select(func.count()).select_from(SiuCase).where(SiuCase.lead_id == user.id,
                                                                          SiuCase.status == "open"))


def claims_awaiting_case(session: Session) -> int:
    """Open claims in the SIU queue that no case holds: SIU's intake still to organise."""
    siu = siu_id(session)
    if siu is None:
        return 0
    return session.scalar(select(func.count()).select_from(Claim).where(
        Claim.department_id == siu, Claim.status.in_(OPEN_STATUSES),
        ~select(SiuCaseClaim.claim_id).where(SiuCaseClaim.claim_id == Claim.id).exists()))


@dataclass
class AwaitingClaim:
    claim_number: str
    report_date: dt.date | None
    claimed: float | None
    adjuster: str | None


def claims_awaiting_case_list(session: Session, *, limit: int = 10) -> list[AwaitingClaim]:
    """The open claims in the SIU queue that no case holds, oldest report first: the intake an
    investigator opens cases from (the cases list names them; their pages open a case)."""
    siu = siu_id(session)
    if siu is None:
        return []
    rows = session.execute(
        select(Claim.claim_number, Claim.report_date, Claim.claimed_amount, User.name, User.email)
        .outerjoin(User, User.id == Claim.adjuster_id)
        .where(Claim.department_id == siu, Claim.status.in_(OPEN_STATUSES),
               ~select(SiuCaseClaim.claim_id).where(SiuCaseClaim.claim_id == Claim.id).exists())
        .order_by(Claim.report_date.asc().nulls_last(), Claim.id).limit(limit)).all()
    return [AwaitingClaim(r[0], r[1], float(r[2]) if r[2] is not None else None, r[3] or r[4]) for r in rows]


def ring_claims_for_case(session: Session, view) -> list:
    """The claims of a ring (as the user sees it) a case could take: in the SIU queue, in no case."""
    siu = siu_id(session)
    ids = [c.id for c in view.claims if c.department_id == siu]
    if not ids:
        return []
    taken = set(session.scalars(select(SiuCaseClaim.claim_id).where(SiuCaseClaim.claim_id.in_(ids))))
    return [c for c in view.claims if c.id in ids and c.id not in taken]


def open_case_for_ring(session: Session, view) -> str | None:
    """The open case already investigating a ring (as the user sees it): one opened from it, else
    one holding any of its claims; the oldest first. Its remaining claims join that case rather
    than open a second one: a ring is worked as one case."""
    ids = [c.id for c in view.claims]
    holds = select(SiuCaseClaim.case_id).where(SiuCaseClaim.claim_id.in_(ids)) if ids else None
    match = SiuCase.ring_key == view.key
    if holds is not None:
        match = match | SiuCase.id.in_(holds)
    return session.scalar(select(SiuCase.key).where(SiuCase.status == "open", match)
                          .order_by((SiuCase.ring_key == view.key).desc(), SiuCase.opened_at, SiuCase.id).limit(1))


def totals(session: Session, *, days: int = 90, now: dt.datetime | None = None) -> dict:
    """Open cases and their claims, and what the cases closed in the last ``days`` found and
    saved: whole UTC days up to today, as the dashboard counts its periods."""
    now = now or dt.datetime.now(dt.timezone.utc)
    first_day = now.date() - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first_day, dt.time(), dt.timezone.utc)
    open_row = session.execute(
        select(func.count(func.distinct(SiuCase.id)), func.count(SiuCaseClaim.claim_id),
               func.coalesce(func.sum(Claim.claimed_amount), 0))
        .select_from(SiuCase).outerjoin(SiuCaseClaim, SiuCaseClaim.case_id == SiuCase.id)
        .outerjoin(Claim, Claim.id == SiuCaseClaim.claim_id).where(SiuCase.status == "open")).one()
    closed = session.execute(
        select(SiuCase.outcome, func.count(), func.coalesce(func.sum(SiuCase.saved_amount), 0))
        .where(SiuCase.status == "closed", SiuCase.closed_at >= since).group_by(SiuCase.outcome)).all()
    by_outcome = {o: n for o, n, _ in closed}
    n_closed = sum(by_outcome.values())
    days_open = session.scalar(
        select(func.percentile_cont(0.5).within_group(
            func.extract("epoch", SiuCase.closed_at - SiuCase.opened_at) / 86400))
        .where(SiuCase.status == "closed", SiuCase.closed_at >= since))
    return {
        "open_cases": open_row[0], "open_claims": open_row[1], "open_claimed": float(open_row[2]),
        "days": days, "since": first_day, "closed": n_closed,
        "by_outcome": {o: by_outcome.get(o, 0) for o in OUTCOME_LABELS},
        "confirmed_share": by_outcome.get("confirmed_fraud", 0) / n_closed if n_closed else None,
        "saved": float(sum(s for _, _, s in closed)),
        "median_days": float(days_open) if days_open is not None else None,
    }


def period_results(session: Session, start: dt.date, end: dt.date, *, line: str | None = None) -> dict:
    """What Special Investigations did from ``start`` to ``end`` (whole UTC days): claims
    referred to it (moved into its queue by a person, by any channel), cases opened and
    closed, the share confirmed and what they saved; with ``line``, only cases and
    referrals with a claim of that line of business. For the dashboard."""
    lo = dt.datetime.combine(start, dt.time(), dt.timezone.utc)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    of_line = (select(SiuCaseClaim.case_id).join(Claim, Claim.id == SiuCaseClaim.claim_id)
               .where(Claim.line_of_business == line, SiuCaseClaim.case_id == SiuCase.id).exists()) \
        if line else None

    def cases(*where):
        q = select(SiuCase.outcome, func.count(), func.coalesce(func.sum(SiuCase.saved_amount), 0)).where(*where)
        return q.where(of_line) if of_line is not None else q

    opened = session.execute(cases(SiuCase.opened_at >= lo, SiuCase.opened_at < hi)
                             .with_only_columns(func.count())).scalar()
    closed = session.execute(cases(SiuCase.status == "closed", SiuCase.closed_at >= lo, SiuCase.closed_at < hi)
                             .group_by(SiuCase.outcome)).all()
    # Every channel (an alert, a ring, the Reassign board, a claim's page) is a move into the queue.
    referred = select(func.count(distinct(ClaimEvent.claim_id))).where(
        ClaimEvent.kind == "moved", ClaimEvent.to_department_id == siu_id(session),
        ClaimEvent.from_department_id.is_distinct_from(ClaimEvent.to_department_id),   # not between SIU's people
        ClaimEvent.at >= lo, ClaimEvent.at < hi)
    if line:
        referred = referred.join(Claim, Claim.id == ClaimEvent.claim_id).where(Claim.line_of_business == line)
    by_outcome = {o: n for o, n, _ in closed}
    n_closed = sum(by_outcome.values())
    return {"referred": session.scalar(referred), "opened": opened, "closed": n_closed,
            "confirmed": by_outcome.get("confirmed_fraud", 0),
            "confirmed_share": by_outcome.get("confirmed_fraud", 0) / n_closed if n_closed else None,
            "saved": float(sum(v for _, _, v in closed))}
