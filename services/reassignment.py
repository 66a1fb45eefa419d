"""Managers move claims between departments and adjusters.

A move is all-or-nothing: every claim and the target are validated first, the
claims are locked (``FOR UPDATE``) and updated in one statement guarded by the
version each claim had when the manager looked at it. Closed claims are never
moved, so a closed claim's department (the router's training label) only
changes through the normal close workflow.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import Claim, ClaimEvent, Department, User, user_departments
from services import audit, fraud_alerts
from services.access import AccessDenied, can_see_department
from services.departments import SIU
from services.queues import OPEN_STATUSES
from services.workflow import STATUS_LABELS

REASON_CODES: dict[str, str] = {
    "MISROUTED": "Misrouted by the model or at intake",
    "WORKLOAD_BALANCE": "Balancing workload",
    "SPECIALIST_NEEDED": "Needs a specialist",
    "SIU_REFERRAL": "Referral to Special Investigations",
    "LICENSING": "Adjuster licensing",
    "OTHER": "Other (explain in the comment)",
}
# Moves made as part of another decision, not chosen on the board (services.siu_returns).
OTHER_MOVE_REASONS = {"SIU_CLEARED": "Cleared by Special Investigations"}
MOVE_REASON_LABELS = {**REASON_CODES, **OTHER_MOVE_REASONS}
MAX_BULK = 500
BOARD_MAX = 2000
COMMENT_MAX = 1000
CLAIM_NUMBER_MAX = 40
ASSIGNABLE_ROLES = ("adjuster", "manager")


def line_label(code: str | None) -> str:
    """A line of business as managers read it elsewhere (dashboard, claim page): 'Workers Comp', not 'workers_comp'."""
    return code.replace("_", " ").title() if code else ""


def status_label(code: str | None) -> str:
    return STATUS_LABELS.get(code, code or "")


class ReassignError(ValueError):
    """The move was refused; nothing changed. ``problems`` lists the offending claims."""

    def __init__(self, message: str, problems: list[dict] | None = None, headline: str | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []
        # The message without the per-claim list, for a page that lists ``problems`` itself.
        self.headline = headline or message


class ConflictError(ReassignError):
    """Someone changed some of the claims since they were loaded. ``current``
    holds those claims' state now, so the caller can show it."""

    def __init__(self, message: str, problems: list[dict], current: list[dict], headline: str | None = None):
        super().__init__(message, problems, headline)
        self.current = current


@dataclass(frozen=True)
class MoveTarget:
    department_id: int | None
    department_code: str | None
    adjuster_id: int | None
    adjuster_name: str | None
    department_name: str | None = None


@dataclass
class MoveResult:
    moved: int
    claim_numbers: list[str]
    target: MoveTarget
    versions: dict[int, int] = field(default_factory=dict)  # claim id -> new version
    unassigned: int = 0  # claims that had an adjuster and have none now

    def summary(self) -> str:
        where = self.target.department_name or self.target.department_code or "their current department"
        who = f", assigned to {self.target.adjuster_name}" if self.target.adjuster_name else ""
        noun = "claim" if self.moved == 1 else "claims"
        # "Leave unassigned" reads as "leave the adjuster alone": say that it took them off.
        if self.unassigned and self.moved == 1:
            lost = " It no longer has an adjuster and is back to New."
        elif self.unassigned:
            lost = f" {self.unassigned:,} of them had an adjuster: now unassigned and back to New."
        else:
            lost = ""
        return f"Moved {self.moved} {noun} to {where}{who}.{lost}"


def _clean_items(items) -> list[tuple[str, int | str, int]]:
    """[(key kind, key, version)] from untrusted input; raises on anything malformed."""
    if not isinstance(items, (list, tuple)) or not items:
        raise ReassignError("Select at least one claim to move.")
    if len(items) > MAX_BULK:
        raise ReassignError(f"At most {MAX_BULK} claims can be moved at once; {len(items)} were selected. "
                            "Narrow the selection and move them in several batches.")
    cleaned, seen = [], set()
    for item in items:
        if not isinstance(item, dict):
            raise ReassignError("The selection is malformed; reload the page.")
        version = item.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 2**31:
            raise ReassignError("The selection is malformed (claim version missing); reload the page.")
        claim_id, number = item.get("claim_id"), item.get("claim_number")
        if isinstance(claim_id, int) and not isinstance(claim_id, bool) and 0 < claim_id < 2**63:
            key = ("id", claim_id)
        elif isinstance(number, str) and 0 < len(number.strip()) <= CLAIM_NUMBER_MAX:
            key = ("number", number.strip())
        else:
            raise ReassignError("The selection is malformed (claim id missing); reload the page.")
        if key in seen:
            continue
        seen.add(key)
        cleaned.append((key[0], key[1], version))
    return cleaned


def _resolve_target(session: Session, user, department_code, adjuster_id) -> MoveTarget:
    if department_code in ("", None):
        department_code = None
    if adjuster_id in ("", None):
        adjuster_id = None
    if department_code is None and adjuster_id is None:
        raise ReassignError("Choose a target department, an adjuster, or both.")
    dept = None
    if department_code is not None:
        if not isinstance(department_code, str) or len(department_code) > 40:
            raise ReassignError("Unknown target department.")
        dept = session.scalar(select(Department).where(Department.code == department_code))
        if dept is None:
            raise ReassignError(f"Unknown target department {department_code!r}.")
        if not dept.active:
            raise ReassignError(f"The {dept.name} department is inactive.")
        if not can_see_department(user, dept.id):
            raise AccessDenied(f"You cannot move claims into {dept.name}.")
    adjuster = None
    if adjuster_id is not None:
        if isinstance(adjuster_id, bool) or not isinstance(adjuster_id, int) or not 0 < adjuster_id < 2**31:
            raise ReassignError("Unknown adjuster.")
        adjuster = session.get(User, adjuster_id)
        if adjuster is None:
            raise ReassignError("Unknown adjuster.")
        if not adjuster.is_active:
            raise ReassignError(f"{adjuster.name} is not active.")
        if adjuster.role not in ASSIGNABLE_ROLES:
            raise ReassignError(f"{adjuster.name} is a {adjuster.role} and cannot hold claims.")
        if dept is not None and dept.id not in {d.id for d in adjuster.departments}:
            raise ReassignError(f"{adjuster.name} does not work in {dept.name}.")
    return MoveTarget(dept.id if dept else None, dept.code if dept else None,
                      adjuster.id if adjuster else None, adjuster.name if adjuster else None,
                      dept.name if dept else None)


def _lock_claims(session: Session, items: list[tuple[str, int | str, int]]) -> dict:
    ids = [k for kind, k, _ in items if kind == "id"]
    numbers = [k for kind, k, _ in items if kind == "number"]
    conds = []
    if ids:
        conds.append(Claim.id.in_(ids))
    if numbers:
        conds.append(Claim.claim_number.in_(numbers))
    # Lock in id order so two bulk moves over overlapping claims cannot deadlock.
    rows = session.execute(
        select(Claim.id, Claim.claim_number, Claim.status, Claim.department_id, Claim.adjuster_id, Claim.version)
        .where(or_(*conds)).order_by(Claim.id).with_for_update()
    ).all()
    return {"id": {r.id: r for r in rows}, "number": {r.claim_number: r for r in rows}}


def current_state(session: Session, claim_ids: list[int]) -> list[dict]:
    """The claims as they are now, in the shape of the board's rows."""
    if not claim_ids:
        return []
    return _board_query(session, Claim.id.in_(claim_ids), limit=len(claim_ids))


def move_claims(session: Session, user, items, *, department_code: str | None = None,
                adjuster_id: int | None = None, reason: str, comment: str | None = None) -> MoveResult:
    """Move the claims to the target department and/or adjuster, or change nothing."""
    if user is None or not user.can(Perm.REASSIGN):
        raise AccessDenied("Your role cannot reassign claims.")
    if not isinstance(reason, str) or reason not in REASON_CODES:
        raise ReassignError("Choose a reason for the move.")
    if comment is not None and not isinstance(comment, str):
        raise ReassignError("The comment must be text.")
    comment = (comment or "").strip() or None
    if comment and len(comment) > COMMENT_MAX:
        raise ReassignError(f"The comment is too long (at most {COMMENT_MAX} characters).")
    if reason == "OTHER" and not comment:
        raise ReassignError("Explain an 'Other' move in the comment.")
    cleaned = _clean_items(items)
    target = _resolve_target(session, user, department_code, adjuster_id)

    found = _lock_claims(session, cleaned)
    problems, stale, chosen = [], [], {}
    adjuster_depts = None
    if target.adjuster_id is not None and target.department_id is None:
        adjuster_depts = set(session.scalars(select(user_departments.c.department_id)
                                             .where(user_departments.c.user_id == target.adjuster_id)))
    for kind, key, version in cleaned:
        row = found[kind].get(key)
        label = str(key) if kind == "number" else f"#{key}"
        if row is None:
            problems.append({"claim": label, "problem": "no such claim"})
            continue
        label = row.claim_number
        if not can_see_department(user, row.department_id):
            problems.append({"claim": label, "problem": "outside your departments"})
        elif row.status not in OPEN_STATUSES:
            problems.append({"claim": label, "problem": "closed claims keep their final department"})
        elif row.version != version:
            stale.append(row.id)
            problems.append({"claim": label, "problem": "changed by someone else since you loaded it"})
        elif adjuster_depts is not None and row.department_id not in adjuster_depts:
            problems.append({"claim": label, "problem": f"{target.adjuster_name} does not work in its department"})
        elif (target.department_id in (None, row.department_id) and target.adjuster_id == row.adjuster_id):
            # A move that changes nothing would still bump the version and write history and audit.
            who = f"with {target.adjuster_name}" if target.adjuster_name else "unassigned"
            where = f" in {target.department_name}" if target.department_name else ""
            problems.append({"claim": label, "problem": f"already {who}{where}"})
        chosen[row.id] = (row, version)
    if stale:
        raise ConflictError(_message("changed since you loaded them", problems), problems,
                            current_state(session, stale), _headline("changed since you loaded them", problems))
    if problems:
        raise ReassignError(_message("cannot be moved", problems), problems, _headline("cannot be moved", problems))

    new_status = "assigned" if target.adjuster_id is not None else "new"
    values = {"adjuster_id": target.adjuster_id, "status": new_status, "version": Claim.version + 1}
    if target.department_id is not None:
        values["department_id"] = target.department_id
    pairs = [(row.id, version) for row, version in chosen.values()]
    result = session.execute(
        update(Claim).where(tuple_(Claim.id, Claim.version).in_(pairs), Claim.status.in_(OPEN_STATUSES))
        .values(**values).execution_options(synchronize_session=False)
    )
    if result.rowcount != len(pairs):
        # Cannot happen while the rows are locked; refuse rather than half-move.
        raise ConflictError("Some claims changed while moving; nothing was moved.", [],
                            current_state(session, [p[0] for p in pairs]))

    events, entries = [], []
    for row, version in chosen.values():
        to_dept = target.department_id if target.department_id is not None else row.department_id
        before = {"department_id": row.department_id, "adjuster_id": row.adjuster_id,
                  "status": row.status, "version": version}
        after = {"department_id": to_dept, "adjuster_id": target.adjuster_id,
                 "status": new_status, "version": version + 1}
        events.append(dict(claim_id=row.id, kind="moved", actor_id=user.id, from_department_id=row.department_id,
                           to_department_id=to_dept, from_status=row.status, to_status=new_status,
                           reason=reason, note=comment,
                           data={"from_adjuster_id": row.adjuster_id, "to_adjuster_id": target.adjuster_id}))
        entries.append(dict(actor=user.email, actor_id=user.id, action="claim.reassign", target_type="claim",
                            target_id=row.id, before=before,
                            after={**after, "claim_number": row.claim_number, "reason": reason, "comment": comment}))
    session.execute(insert(ClaimEvent), events)
    audit.record_many(session, entries)  # one batch: a bulk move's entries cost the same per row at any size
    moved_ids = set(chosen)
    if target.department_code == SIU:
        # A claim that reaches SIU by any route has been referred: its open fraud alert says so now.
        fraud_alerts.referred_by_move(session, user, moved_ids, comment)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Claim) and obj.id in moved_ids:
            session.expire(obj)
    session.flush()
    return MoveResult(len(chosen), [row.claim_number for row, _ in chosen.values()], target,
                      {row.id: version + 1 for row, version in chosen.values()},
                      unassigned=0 if target.adjuster_id is not None else
                      sum(row.adjuster_id is not None for row, _ in chosen.values()))


def _headline(what: str, problems: list[dict]) -> str:
    noun = "claim" if len(problems) == 1 else "claims"
    return f"Nothing was moved: {len(problems)} {noun} {what}."


def _message(what: str, problems: list[dict]) -> str:
    shown = "; ".join(f"{p['claim']}: {p['problem']}" for p in problems[:8])
    more = f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""
    return f"{_headline(what, problems)} {shown}{more}"


# ---- the board's rows -------------------------------------------------------

def parse_claim_numbers(text) -> list[str]:
    """Claim numbers pasted one per line, or separated by commas or spaces."""
    if not isinstance(text, str):
        return []
    tokens = text.replace(",", " ").replace(";", " ").split()
    seen: dict[str, None] = {}
    for token in tokens[:BOARD_MAX]:
        if len(token) <= CLAIM_NUMBER_MAX and token.isprintable():  # NUL and control characters name no claim
            seen.setdefault(token, None)
    return list(seen)


def board_rows(session: Session, user, *, department_code: str | None = None, status: str | None = None,
               line: str | None = None, claim_numbers: list[str] | None = None,
               adjuster_id: int | None = None) -> tuple[list[dict], int]:
    """Open claims for the reassignment board (at most BOARD_MAX) and how many matched:
    pasted claim numbers, or a department's queue and/or one adjuster's claims (to
    rebalance someone over capacity)."""
    if user is None or not user.can(Perm.REASSIGN):
        raise AccessDenied("Your role cannot reassign claims.")
    if isinstance(adjuster_id, bool) or not isinstance(adjuster_id, int) or not 0 < adjuster_id < 2**31:
        adjuster_id = None
    conds = [Claim.status.in_(OPEN_STATUSES)]
    if claim_numbers:
        conds.append(Claim.claim_number.in_(claim_numbers[:BOARD_MAX]))
    elif department_code or adjuster_id:
        if department_code:
            dept = session.scalar(select(Department).where(Department.code == department_code))
            if dept is None:
                raise ReassignError(f"Unknown department {department_code!r}.")
            if not can_see_department(user, dept.id):
                raise AccessDenied(f"No access to {dept.name}.")
            conds.append(Claim.department_id == dept.id)
        if adjuster_id:
            conds.append(Claim.adjuster_id == adjuster_id)
            if not user.can(Perm.VIEW_ALL_DEPARTMENTS):
                conds.append(Claim.department_id.in_(list(user.department_ids) or [-1]))
    else:
        return [], 0
    if isinstance(status, str) and status in OPEN_STATUSES:
        conds.append(Claim.status == status)
    if isinstance(line, str) and line and len(line) <= 40:
        conds.append(Claim.line_of_business == line)
    total = session.scalar(select(func.count()).select_from(Claim).where(*conds)) or 0
    rows = _board_query(session, and_(*conds), limit=BOARD_MAX)
    rows = [r for r in rows if can_see_department(user, r["department_id"])]
    return rows, total


def board_adjusters(session: Session, user) -> list[tuple[int, str]]:
    """(id, name) of the active adjusters and managers the board can list claims of."""
    if user is None or not user.can(Perm.REASSIGN):
        return []
    people = session.scalars(select(User).where(User.is_active, User.role.in_(ASSIGNABLE_ROLES)).order_by(User.name))
    return [(p.id, p.name) for p in people
            if user.can(Perm.VIEW_ALL_DEPARTMENTS) or any(can_see_department(user, d.id) for d in p.departments)]


def _board_query(session: Session, where, *, limit: int) -> list[dict]:
    Adjuster = User.__table__.alias("adjuster")
    rows = session.execute(
        select(Claim.id, Claim.claim_number, Claim.version, Claim.status, Claim.line_of_business, Claim.state,
               Claim.report_date, Claim.department_id, Claim.adjuster_id, Claim.routing_confidence,
               Department.code.label("department"), Department.name.label("department_name"),
               Adjuster.c.name.label("adjuster"))
        .outerjoin(Department, Department.id == Claim.department_id)
        .outerjoin(Adjuster, Adjuster.c.id == Claim.adjuster_id)
        .where(where).order_by(Claim.report_date.desc().nulls_last(), Claim.id.desc()).limit(limit)
    ).all()
    return [{
        "id": r.id, "claim_number": r.claim_number, "version": r.version, "status": r.status,
        "status_label": status_label(r.status), "line_of_business": r.line_of_business,
        "line_label": line_label(r.line_of_business), "state": r.state,
        "report_date": r.report_date.isoformat() if r.report_date else None,
        "department_id": r.department_id, "department": r.department, "department_name": r.department_name,
        "adjuster_id": r.adjuster_id,
        "adjuster": r.adjuster, "confidence": None if r.routing_confidence is None else r.routing_confidence,
    } for r in rows]


def lines_of_business(session: Session) -> list[str]:
    """Lines the departments declare (a scan of the claims would be slow at a million rows)."""
    lines = set()
    for values in session.scalars(select(Department.lines_of_business).where(Department.active)):
        lines.update(values or [])
    return sorted(lines)
