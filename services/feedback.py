"""People's verdicts on routing decisions: agree, or disagree with a reason.

Every verdict is a new row (history is kept); the latest row of a user for a
decision is their current verdict, and only that one counts in rates.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import ClaimEvent, Department, RoutingDecision, RoutingFeedback
from services import audit
from services.access import AccessDenied
from services.workflow import ConflictError, WorkflowError, can_act, get_claim

COMMENT_MAX = 2000
REASONS: dict[str, str] = {
    "WRONG_LOB": "Wrong line of business",
    "WRONG_DEPARTMENT": "Wrong department",
    "NEEDS_SIU": "Needs special investigation",
    "COVERAGE_QUESTION": "Coverage question",
    "OTHER": "Other",
}


class FeedbackError(WorkflowError):
    pass


def latest_decision(session: Session, claim_id: int) -> RoutingDecision | None:
    return session.scalar(select(RoutingDecision).where(RoutingDecision.claim_id == claim_id)
                          .order_by(RoutingDecision.id.desc()).limit(1))


def _validate(agrees, reason_code, suggested, comment) -> tuple[bool, str | None, str | None, str | None]:
    if not isinstance(agrees, bool):
        raise FeedbackError("Choose Agree or Disagree.")
    if comment is not None and not isinstance(comment, str):
        raise FeedbackError("The comment must be text.")
    comment = (comment or "").strip() or None
    if comment and len(comment) > COMMENT_MAX:
        raise FeedbackError(f"The comment can be at most {COMMENT_MAX:,} characters (this one has {len(comment):,}).")
    if suggested is not None and (not isinstance(suggested, str) or len(suggested) > 40):
        raise FeedbackError("Unknown suggested department.")
    suggested = suggested or None
    if agrees:
        return True, None, None, comment
    if not isinstance(reason_code, str) or reason_code not in REASONS:
        raise FeedbackError("Pick a reason when you disagree.")
    return False, reason_code, suggested, comment


def give_feedback(session: Session, user, claim_number, *, agrees, reason_code=None,
                  suggested_department=None, comment=None, decision_id=None,
                  now: dt.datetime | None = None) -> RoutingFeedback:
    """Record the user's verdict on the claim's latest decision. ``decision_id``
    is the decision the user was shown: if the claim was re-routed since, the
    verdict would be about a decision they never saw, so that is a conflict."""
    agrees, reason_code, suggested, comment = _validate(agrees, reason_code, suggested_department, comment)
    claim = get_claim(session, user, claim_number)
    if not can_act(user, claim, Perm.GIVE_FEEDBACK):
        raise AccessDenied("you can give feedback only on claims in your own departments")
    decision = latest_decision(session, claim.id)
    if decision is None:
        raise FeedbackError("This claim has no routing decision to give feedback on.")
    if decision_id is not None and decision_id != decision.id:
        raise ConflictError({"claim_number": claim.claim_number, "status": claim.status, "version": claim.version,
                             "decision_id": decision.id, "rerouted": True})
    suggested_id = None
    if suggested:
        suggested_id = session.scalar(select(Department.id).where(Department.code == suggested,
                                                                  Department.active.is_(True)))
        if suggested_id is None:
            raise FeedbackError("Unknown suggested department.")
    now = now or dt.datetime.now(dt.timezone.utc)
    row = RoutingFeedback(claim_id=claim.id, decision_id=decision.id, user_id=user.id, agrees=agrees,
                          reason_code=reason_code, suggested_department_id=suggested_id, comment=comment,
                          created_at=now)
    session.add(row)
    session.flush()
    session.add(ClaimEvent(claim_id=claim.id, kind="feedback", actor_id=user.id, at=now, reason=reason_code,
                           to_department_id=suggested_id, note=comment,
                           data={"decision_id": decision.id, "agrees": agrees, "feedback_id": row.id}))
    audit.record(session, actor=user.email, actor_id=user.id, action="routing.feedback", target_type="claim",
                 target_id=claim.id, after={"decision_id": decision.id, "agrees": agrees, "reason": reason_code,
                                            "suggested_department": suggested, "feedback_id": row.id})
    return row


def current_verdict(session: Session, user_id: int, decision_id: int) -> RoutingFeedback | None:
    return session.scalar(select(RoutingFeedback).where(RoutingFeedback.user_id == user_id,
                                                        RoutingFeedback.decision_id == decision_id)
                          .order_by(RoutingFeedback.id.desc()).limit(1))


def agreement_rate(session: Session, since: dt.datetime | None = None) -> dict:
    """Share of current verdicts (latest per user per decision) that agree."""
    latest = select(func.max(RoutingFeedback.id).label("id")).group_by(RoutingFeedback.user_id,
                                                                       RoutingFeedback.decision_id)
    if since is not None:
        latest = latest.where(RoutingFeedback.created_at >= since)
    latest = latest.subquery()
    given, agreed = session.execute(
        select(func.count(), func.count().filter(RoutingFeedback.agrees.is_(True)))
        .select_from(RoutingFeedback).join(latest, latest.c.id == RoutingFeedback.id)).one()
    return {"given": int(given), "agreed": int(agreed), "rate": (agreed / given) if given else None}
