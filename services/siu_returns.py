"""Where a closed SIU case's claims go. Cleared claims go back to a line department;
claims found fraudulent come (back) into the SIU queue.

When a case closes with no fraud found (or inconclusive), the person closing it
may send its open claims still in the SIU queue back: each to the department it
was moved into SIU from, else (routed straight to SIU, or from Triage) to the
line department the router gave most after SIU, else to Triage for a person to
route. The move is an ordinary claim move (history, audit, version), with reason
SIU_CLEARED, so the final department the claim closes in is the training label.
When a case closes as confirmed fraud, its open claims outside the queue (sent
back by an earlier closing of a reopened case, or moved out since) come into it
with reason SIU_REFERRAL, whatever the closer ticked. Called by
services.siu_cases.close_case with the claims already locked; the case permission
covers these moves (SIU adjusters cannot use the Reassign board)."""
from __future__ import annotations

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from db.models import Claim, ClaimEvent, Department
from services import audit
from services.queues import OPEN_STATUSES

REASON = "SIU_CLEARED"

_ORIGINS = text("""
SELECT DISTINCT ON (claim_id) claim_id, from_department_id
FROM claim_events
WHERE claim_id = ANY(:ids) AND kind = 'moved' AND to_department_id = :siu
  AND from_department_id IS NOT NULL AND from_department_id <> :siu
ORDER BY claim_id, at DESC, id DESC
""")

_LATEST = text("""
SELECT DISTINCT ON (claim_id) claim_id, probabilities FROM routing_decisions
WHERE claim_id = ANY(:ids) ORDER BY claim_id, id DESC
""")


def destinations(session: Session, claims: list[Claim], siu: int) -> dict[int, int]:
    """Where each open claim of the SIU queue would go back to: {claim id: department id}."""
    waiting = [c for c in claims if c.department_id == siu and c.status in OPEN_STATUSES]
    if not waiting:
        return {}
    departments = {d.id: d for d in session.scalars(select(Department).where(Department.active))}
    by_code = {d.code: d.id for d in departments.values()}
    triage = next((d.id for d in departments.values() if d.is_triage), None)
    ids = [c.id for c in waiting]
    origins = dict(session.execute(_ORIGINS, {"ids": ids, "siu": siu}).all())
    latest = dict(session.execute(_LATEST, {"ids": ids}).all())
    out = {}
    for c in waiting:
        origin = origins.get(c.id)
        if origin in departments and not departments[origin].is_triage:
            out[c.id] = origin
            continue
        ranked = sorted(((p, code) for code, p in (latest.get(c.id) or {}).items()
                         if isinstance(p, (int, float)) and by_code.get(code) not in (None, siu, triage)),
                        reverse=True)
        target = by_code[ranked[0][1]] if ranked else triage
        if target is not None:
            out[c.id] = target
    return out


def _move(session: Session, user, c: Claim, to: int, reason: str, note: str) -> dict:
    """One locked claim to department ``to``, unassigned and new; its event row."""
    before = {"department_id": c.department_id, "adjuster_id": c.adjuster_id, "status": c.status,
              "version": c.version}
    session.execute(update(Claim).where(Claim.id == c.id).values(
        department_id=to, adjuster_id=None, status="new", version=Claim.version + 1)
        .execution_options(synchronize_session=False))
    audit.record(session, actor=user.email, actor_id=user.id, action="claim.reassign", target_type="claim",
                 target_id=c.id, before=before,
                 after={"department_id": to, "adjuster_id": None, "status": "new", "version": c.version + 1,
                        "reason": reason})
    return dict(claim_id=c.id, kind="moved", actor_id=user.id, from_department_id=c.department_id,
                to_department_id=to, from_status=c.status, to_status="new", reason=reason, note=note,
                data={"from_adjuster_id": c.adjuster_id, "to_adjuster_id": None})


def _apply(session: Session, user, claims: list[Claim], targets: dict[int, int], reason: str, note: str) -> dict:
    events = [_move(session, user, c, targets[c.id], reason, note) for c in claims if c.id in targets]
    if events:
        session.execute(insert(ClaimEvent), events)
        for c in claims:
            if c.id in targets:
                session.expire(c)
    return {c.claim_number: targets[c.id] for c in claims if c.id in targets}


def send_back(session: Session, user, claims: list[Claim], siu: int, note: str) -> dict[str, int]:
    """Move the open SIU claims among ``claims`` (locked by the caller) back to a line
    department, unassigned and new. Returns {claim number: department id}."""
    return _apply(session, user, claims, destinations(session, claims, siu), REASON, note)


def bring_in(session: Session, user, claims: list[Claim], siu: int, note: str) -> dict[str, int]:
    """Confirmed fraud: the open claims among ``claims`` (locked by the caller) that are
    outside the SIU queue (sent back by an earlier closing, or moved out since) come back
    into it, to be denied there rather than paid in a line queue."""
    targets = {c.id: siu for c in claims if c.department_id != siu and c.status in OPEN_STATUSES}
    return _apply(session, user, claims, targets, "SIU_REFERRAL", note)
