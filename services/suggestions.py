"""Hints for a manager moving claims: where else the model would have sent them,
and which adjusters of the target department are best placed to take them."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import Claim, Department, RoutingDecision, RoutingFeedback, User, user_departments
from services.queues import OPEN_STATUSES
from services.reassignment import ASSIGNABLE_ROLES, line_label

MAX_CLAIMS = 2000


@dataclass(frozen=True)
class DepartmentHint:
    code: str
    name: str
    color: str
    claims: int          # for how many of the selected claims this is the hint
    mean_probability: float


@dataclass(frozen=True)
class AdjusterHint:
    id: int
    name: str
    open_claims: int
    capacity: int
    score: float
    reason: str
    over_capacity: bool


MIN_HINT_PROBABILITY = 0.05  # "Auto Physical Damage (mean 0%)" beside a 99.9% Auto Glass claim said nothing


def second_choices(session: Session, claim_ids: list[int]) -> list[DepartmentHint]:
    """For each claim (its latest decision), the department the model ranks first among
    those it is not in now, tallied: for a claim in Triage that is the model's own best
    guess (its "second choice" pointed away from it), for a routed claim the runner-up.
    Alternatives under MIN_HINT_PROBABILITY are left out."""
    ids = [int(i) for i in claim_ids[:MAX_CLAIMS]]
    if not ids:
        return []
    latest = (select(func.max(RoutingDecision.id)).where(RoutingDecision.claim_id.in_(ids))
              .group_by(RoutingDecision.claim_id))
    counts: Counter[str] = Counter()
    probs: dict[str, float] = {}
    rows = session.execute(select(RoutingDecision.probabilities, Department.code)
                           .join(Claim, Claim.id == RoutingDecision.claim_id)
                           .outerjoin(Department, Department.id == Claim.department_id)
                           .where(RoutingDecision.id.in_(latest)))
    for probabilities, current in rows:
        ranked = sorted(((c, float(p)) for c, p in (probabilities or {}).items() if c != current),
                        key=lambda kv: kv[1], reverse=True)
        if not ranked or ranked[0][1] < MIN_HINT_PROBABILITY:
            continue
        code, p = ranked[0]
        counts[code] += 1
        probs[code] = probs.get(code, 0.0) + p
    return _hints(session, counts, probs)


def _hints(session: Session, counts: Counter, probs: dict[str, float] | None = None) -> list[DepartmentHint]:
    if not counts:
        return []
    depts = {d.code: d for d in session.scalars(select(Department).where(Department.code.in_(list(counts))))}
    return [DepartmentHint(code, depts[code].name, depts[code].color, n, (probs or {}).get(code, 0.0) / n)
            for code, n in counts.most_common() if code in depts]


def adjuster_suggestions(session: Session, claim_ids: list[int]) -> list[DepartmentHint]:
    """Where adjusters said the claims belong (each person's latest verdict naming a
    department), tallied once per claim and department: the Triage hand-off the claim
    page asks them for, which the board otherwise did not show."""
    ids = [int(i) for i in claim_ids[:MAX_CLAIMS]]
    if not ids:
        return []
    latest = (select(RoutingFeedback.claim_id, RoutingFeedback.suggested_department_id)
              .where(RoutingFeedback.claim_id.in_(ids))
              .ext(distinct_on(RoutingFeedback.claim_id, RoutingFeedback.user_id))
              .order_by(RoutingFeedback.claim_id, RoutingFeedback.user_id, RoutingFeedback.id.desc())).subquery()
    rows = session.execute(select(latest.c.claim_id, Department.code).distinct()
                           .join(Department, Department.id == latest.c.suggested_department_id))
    return _hints(session, Counter(code for _, code in rows))


def open_counts(session: Session, user_ids: list[int]) -> dict[int, int]:
    """Open claims per adjuster (uses the (adjuster_id, status) index)."""
    if not user_ids:
        return {}
    rows = session.execute(select(Claim.adjuster_id, func.count()).where(
        Claim.adjuster_id.in_(user_ids), Claim.status.in_(OPEN_STATUSES)).group_by(Claim.adjuster_id))
    return {a: n for a, n in rows}


def _share(wanted: list[str], have: list[str]) -> tuple[float, list[str]]:
    """Share of the wanted values covered by ``have`` (empty = no restriction) and the missing ones."""
    if not wanted or not have:
        return 1.0, []
    have_set = {h.lower() for h in have}
    missing = sorted({w for w in wanted if w.lower() not in have_set})
    return sum(1 for w in wanted if w.lower() in have_set) / len(wanted), missing


def _listing(values: list[str]) -> str:
    values = sorted(set(values))
    return ", ".join(values[:3]) + (f" +{len(values) - 3}" if len(values) > 3 else "")


def rank_adjusters(session: Session, department_id: int, claim_ids: list[int] | None = None,
                   *, limit: int = 10) -> list[AdjusterHint]:
    """Active adjusters/managers of the department, best placed first.

    Score (0–1): half spare capacity after taking the selection, a third
    skill match on the claims' lines of business, the rest licence match on
    their states. Going over capacity halves the score."""
    ids = [int(i) for i in (claim_ids or [])[:MAX_CLAIMS]]
    lines, states = [], []
    if ids:
        for lob, state in session.execute(select(Claim.line_of_business, Claim.state).where(Claim.id.in_(ids))):
            if lob:
                lines.append(lob)
            if state:
                states.append(state)
    people = list(session.scalars(
        select(User).join(user_departments, user_departments.c.user_id == User.id)
        .where(user_departments.c.department_id == department_id, User.is_active,
               User.role.in_(ASSIGNABLE_ROLES)).order_by(User.name)
    ))
    counts = open_counts(session, [p.id for p in people])
    n_new = len(ids)
    hints = []
    for p in people:
        open_now = counts.get(p.id, 0)
        capacity = max(int(p.capacity or 0), 0)
        after = open_now + n_new
        spare = max(capacity - after, 0) / capacity if capacity else 0.0
        skill, missing_lines = _share(lines, list(p.skills or []))
        licence, missing_states = _share(states, list(p.licensed_states or []))
        score = 0.5 * spare + (1 / 3) * skill + (1 / 6) * licence
        over = after > capacity
        if over:
            score /= 2
        parts = [f"{open_now} of {capacity} open"]
        if not p.skills:
            parts.append("handles any line")
        elif missing_lines:
            parts.append(f"does not handle {_listing([line_label(v) for v in missing_lines])}")
        elif lines:
            parts.append(f"handles {_listing([line_label(v) for v in lines])}")
        if not p.licensed_states:
            parts.append("no licence restriction")
        elif missing_states:
            parts.append(f"not licensed in {_listing(missing_states)}")
        elif states:
            parts.append(f"licensed in {_listing(states)}")
        if over and n_new:
            parts.append(f"would be over capacity with {n_new} more")
        elif over:
            parts.append("over capacity")
        hints.append(AdjusterHint(p.id, p.name, open_now, capacity, round(score, 3), ", ".join(parts), over))
    hints.sort(key=lambda h: (-h.score, h.open_claims, h.name))
    return hints[:limit]


def suggest(session: Session, user, claim_ids: list[int], department_code: str | None) -> dict:
    """Everything the board shows beside the target pickers for a selection.

    The adjusters are ranked for the target department, or for the selection's
    own department when no target is chosen and the claims share one."""
    from services.access import can_see_department

    ids = [i for i in claim_ids if isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63][:MAX_CLAIMS]
    if ids and not user.can(Perm.VIEW_ALL_DEPARTMENTS):
        # The ids come from the browser: hints only about claims the user may see.
        ids = list(session.scalars(select(Claim.id).where(
            Claim.id.in_(ids), Claim.department_id.in_(list(user.department_ids) or [-1]))))
    dept = None
    if isinstance(department_code, str) and department_code and len(department_code) <= 40:
        dept = session.scalar(select(Department).where(Department.code == department_code, Department.active))
    elif ids:
        current = set(session.scalars(select(Claim.department_id).where(Claim.id.in_(ids)).distinct().limit(2)))
        if len(current) == 1 and None not in current:
            dept = session.get(Department, current.pop())
    if dept is not None and not can_see_department(user, dept.id):
        dept = None
    return {
        "department": dept,
        "second_choices": second_choices(session, ids),
        "adjuster_suggestions": adjuster_suggestions(session, ids),
        "adjusters": rank_adjusters(session, dept.id, ids, limit=50) if dept is not None else [],
    }
