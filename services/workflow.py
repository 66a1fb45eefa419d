"""Claim status workflow, assign-to-me and notes.

The allowed transitions live in ``TRANSITIONS`` and nowhere else: pages ask
``allowed_actions`` which buttons to show, and every write checks again here.
Writes take the claim version the caller saw; a different current version
raises ``ConflictError`` (no silent overwrite of someone else's change).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from auth.permissions import Perm
from db.models import Claim, ClaimEvent, FraudAlert
from services import audit
from services.access import AccessDenied, NotFound, OutsideDepartments, can_see_department

CLAIM_NUMBER_MAX = 40
NOTE_MAX = 5000
STATUS_LABELS = {"new": "New", "assigned": "Assigned", "in_review": "In review",
                 "awaiting_info": "Awaiting information", "closed": "Closed"}
# (from, to) -> permission needed. CHANGE_STATUS is day-to-day work on claims
# of one's own departments; reopening a closed claim is a manager's call.
TRANSITIONS: dict[tuple[str, str], Perm] = {
    ("new", "assigned"): Perm.CHANGE_STATUS,
    ("assigned", "in_review"): Perm.CHANGE_STATUS,
    ("in_review", "awaiting_info"): Perm.CHANGE_STATUS,
    ("awaiting_info", "in_review"): Perm.CHANGE_STATUS,
    ("in_review", "closed"): Perm.CHANGE_STATUS,
    ("closed", "in_review"): Perm.REASSIGN,
}
ACTION_LABELS = {("new", "assigned"): "Mark assigned", ("assigned", "in_review"): "Start review",
                 ("in_review", "awaiting_info"): "Awaiting information",
                 ("awaiting_info", "in_review"): "Information received",
                 ("in_review", "closed"): "Close claim", ("closed", "in_review"): "Reopen"}
ASSIGN_ME = "assign_me"


class WorkflowError(ValueError):
    """A request that is not allowed in the claim's current state (shown to the user)."""


class ConflictError(RuntimeError):
    """The claim changed since the caller looked at it."""

    def __init__(self, current: dict):
        self.current = current
        if current.get("rerouted"):
            super().__init__(f"Claim {current.get('claim_number')} was routed again since you opened it. Showing "
                             "its new decision; please check it and give your view again.")
            return
        label = STATUS_LABELS.get(current.get("status"), current.get("status"))
        # What it is now in a claims person's words: a version number told them nothing.
        who = f", with {current['adjuster']}" if current.get("adjuster") else ", unassigned"
        where = f" in {current['department_name']}" if current.get("department_name") else ""
        super().__init__(f"Claim {current.get('claim_number')} was changed by someone else since you opened it "
                         f"(now {label}{where}{who}). Showing the current state; please check it and try again.")


@dataclass(frozen=True)
class Action:
    key: str          # target status, or ASSIGN_ME
    label: str


def _state(claim: Claim) -> dict:
    return {"claim_number": claim.claim_number, "status": claim.status, "version": claim.version,
            "department": claim.department.code if claim.department else None,
            "adjuster": claim.adjuster.name if claim.adjuster else None}


def get_claim(session: Session, user, claim_number, *, lock: bool = False) -> Claim:
    """The claim the user may see, looked up from an untrusted claim number."""
    if not isinstance(claim_number, str) or not claim_number or len(claim_number) > CLAIM_NUMBER_MAX \
            or not claim_number.isprintable():  # NUL and control characters never name a claim
        raise NotFound("no such claim")
    stmt = select(Claim).where(Claim.claim_number == claim_number)
    if lock:
        # Serialise concurrent writers on this row; the version check below then sees the winner.
        stmt = stmt.with_for_update(of=Claim.__table__).execution_options(populate_existing=True)
    claim = session.scalar(stmt)
    if claim is None:
        raise NotFound(f"no claim {claim_number}")
    if not can_see_department(user, claim.department_id):
        raise OutsideDepartments("this claim is outside your departments")
    return claim


def can_act(user, claim: Claim, perm: Perm) -> bool:
    """Permission plus record access: adjusters act only within their own departments."""
    if not user.can(perm):
        return False
    if user.can(Perm.VIEW_ALL_DEPARTMENTS):
        return True
    return claim.department_id is not None and claim.department_id in user.department_ids


def _check_version(claim: Claim, expected) -> None:
    if isinstance(expected, bool) or not isinstance(expected, int):
        raise WorkflowError("The page did not say which version of the claim it showed; reload the page.")
    if claim.version != expected:
        raise ConflictError({**_state(claim), "department_name": claim.department.name if claim.department else None})


def _transition_problem(user, claim: Claim, to_status: str) -> str | None:
    perm = TRANSITIONS.get((claim.status, to_status))
    if perm is None:
        return (f"A claim cannot go from {STATUS_LABELS.get(claim.status, claim.status)} "
                f"to {STATUS_LABELS.get(to_status, to_status)}.")
    if not can_act(user, claim, perm):
        if perm is Perm.REASSIGN:
            return "Only managers can reopen a closed claim."
        if not user.can(perm):
            return "Your role cannot change a claim's status."
        return "You can change the status only of claims in your own departments."
    if to_status == "closed" and (claim.department is None or claim.department.is_triage):
        return "Route the claim to a department before closing it (it is still in Triage)."
    # "Mark assigned" included: on a new claim a manager gave to A, adjuster B must not
    # acknowledge it on A's behalf.
    if claim.adjuster_id not in (None, user.id) and not user.can(Perm.REASSIGN):
        return "This claim is assigned to someone else."
    if to_status == "closed" and has_open_fraud_alert(claim):
        # Closing withdrew the alert: a person's flag, or the signals, vanished unseen by any manager.
        return OPEN_ALERT_BLOCKS_CLOSING
    return None


OPEN_ALERT_BLOCKS_CLOSING = ("An open fraud alert waits on this claim: a manager refers it to SIU or dismisses it "
                             "before the claim can close.")


def has_open_fraud_alert(claim: Claim) -> bool:
    session = object_session(claim)
    return session is not None and session.scalar(
        select(FraudAlert.id).where(FraudAlert.claim_id == claim.id, FraudAlert.status == "open")) is not None


def closing_waits_on_alert(user, claim: Claim) -> bool:
    """Whether this user could close the claim now but for its open fraud alert."""
    return claim.status == "in_review" and _transition_problem(user, claim, "closed") == OPEN_ALERT_BLOCKS_CLOSING


def allowed_actions(user, claim: Claim) -> list[Action]:
    """The buttons this user may press on this claim right now."""
    actions = [Action(to, ACTION_LABELS[(frm, to)]) for (frm, to) in TRANSITIONS
               if frm == claim.status and _transition_problem(user, claim, to) is None]
    if _assign_problem(user, claim) is None:
        if claim.adjuster_id is None:
            # On an unassigned new claim "Mark assigned" would assign it to the
            # user too: two buttons doing one thing, so only "Assign to me" shows.
            actions = [a for a in actions if a.key != "assigned"]
        actions.insert(0, Action(ASSIGN_ME, "Assign to me"))
    return actions


def change_status(session: Session, user, claim_number, to_status, *, expected_version,
                  now: dt.datetime | None = None) -> Claim:
    if not isinstance(to_status, str) or to_status not in STATUS_LABELS:
        raise WorkflowError("Unknown status.")
    claim = get_claim(session, user, claim_number, lock=True)
    _check_version(claim, expected_version)
    problem = _transition_problem(user, claim, to_status)
    if problem:
        raise WorkflowError(problem)
    now = now or dt.datetime.now(dt.timezone.utc)
    before = _state(claim)
    from_status = claim.status
    claim.status = to_status
    if to_status == "assigned" and claim.adjuster_id is None:
        claim.adjuster_id = user.id
    if to_status == "closed":
        claim.closed_at = now
    elif from_status == "closed":
        claim.closed_at = None
    session.add(ClaimEvent(claim_id=claim.id, kind="status", actor_id=user.id, at=now,
                           from_status=from_status, to_status=to_status,
                           data={"version": claim.version + 1}))
    session.flush()  # the version column bumps here, guarded by WHERE version = seen
    audit.record(session, actor=user.email, actor_id=user.id, action="claim.status", target_type="claim",
                 target_id=claim.id, before=before, after=_state(claim))
    return claim


def _assign_problem(user, claim: Claim) -> str | None:
    if not can_act(user, claim, Perm.CHANGE_STATUS):
        return "You can take only claims in your own departments."
    if claim.status == "closed":
        return "This claim is closed."
    if claim.adjuster_id == user.id:
        return "This claim is already yours."
    if claim.adjuster_id is not None and not user.can(Perm.REASSIGN):
        return "This claim is assigned to someone else; ask a manager to reassign it."
    return None


def assign_to_me(session: Session, user, claim_number, *, expected_version,
                 now: dt.datetime | None = None) -> Claim:
    """Take the claim; a new claim becomes Assigned at the same time."""
    claim = get_claim(session, user, claim_number, lock=True)
    _check_version(claim, expected_version)
    problem = _assign_problem(user, claim)
    if problem:
        raise WorkflowError(problem)
    now = now or dt.datetime.now(dt.timezone.utc)
    before = _state(claim)
    from_adjuster = claim.adjuster_id
    claim.adjuster_id = user.id
    to_status = "assigned" if claim.status == "new" else claim.status
    session.add(ClaimEvent(claim_id=claim.id, kind="assigned", actor_id=user.id, at=now,
                           from_status=claim.status if to_status != claim.status else None,
                           to_status=to_status if to_status != claim.status else None,
                           data={"from_adjuster_id": from_adjuster, "to_adjuster_id": user.id}))
    claim.status = to_status
    session.flush()
    audit.record(session, actor=user.email, actor_id=user.id, action="claim.assign", target_type="claim",
                 target_id=claim.id, before=before, after=_state(claim))
    return claim


def add_note(session: Session, user, claim_number, text, *, now: dt.datetime | None = None) -> ClaimEvent:
    """Notes are appended, never edited, so they need no version check."""
    if text is not None and not isinstance(text, str):
        raise WorkflowError("The note must be text.")
    text = (text or "").strip()
    if not text:
        raise WorkflowError("Write the note.")
    if len(text) > NOTE_MAX:
        raise WorkflowError(f"A note can be at most {NOTE_MAX:,} characters (this one has {len(text):,}).")
    claim = get_claim(session, user, claim_number)
    if not can_act(user, claim, Perm.WRITE_NOTES):
        raise AccessDenied("you can add notes only to claims in your own departments")
    event = ClaimEvent(claim_id=claim.id, kind="note", actor_id=user.id, note=text,
                       at=now or dt.datetime.now(dt.timezone.utc))
    session.add(event)
    session.flush()
    audit.record(session, actor=user.email, actor_id=user.id, action="claim.note", target_type="claim",
                 target_id=claim.id, after={"event_id": event.id, "length": len(text)})
    return event


def status_segments(created_at: dt.datetime, events: list[tuple[dt.datetime, str | None, str | None]],
                    *, closed_now: bool, now: dt.datetime) -> list[dict]:
    """Consecutive (status, start, end, seconds) spans from status-changing events in time order."""
    segments: list[dict] = []
    status, start = "new", created_at
    for at, from_status, to_status in events:
        if not to_status or to_status == status and from_status is None:
            continue
        if from_status and not segments and from_status != status:
            status = from_status  # history that began before the first recorded change
        segments.append({"status": status, "start": start, "end": at})
        status, start = to_status, at
    segments.append({"status": status, "start": start, "end": None if closed_now and status == "closed" else now})
    for s in segments:
        s["seconds"] = None if s["end"] is None else max(0.0, (s["end"] - s["start"]).total_seconds())
    return segments


def cycle_times(session: Session, claim_id: int, *, now: dt.datetime | None = None) -> dict:
    """Seconds spent in each status (the current one counts up to now; Closed does not count)."""
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotFound("no such claim")
    rows = session.execute(
        select(ClaimEvent.at, ClaimEvent.from_status, ClaimEvent.to_status)
        .where(ClaimEvent.claim_id == claim_id, ClaimEvent.to_status.is_not(None))
        .order_by(ClaimEvent.at, ClaimEvent.id)).all()
    now = now or dt.datetime.now(dt.timezone.utc)
    segments = status_segments(claim.created_at, [tuple(r) for r in rows],
                               closed_now=claim.status == "closed", now=now)
    totals: dict[str, float] = {}
    for s in segments:
        if s["seconds"] is not None:
            totals[s["status"]] = totals.get(s["status"], 0.0) + s["seconds"]
    return {"totals": totals, "segments": segments, "current": claim.status}


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:  # from a day on, days and hours, as every other duration on the page reads
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


FRAUD_TITLES = {"fraud_flag": "Flagged for SIU review", "fraud_dismissed": "Fraud alert dismissed",
                "siu_case": "SIU case"}
DOCUMENT_TITLES = {"document": "Document attached", "document_removed": "Document removed"}
INTAKE_VIA = {"form": "entered on the New claim form", "api": "sent through the API"}


LOADED_LATER = dt.timedelta(hours=1)


def _decision_times(session: Session, routed_events: list) -> dict[int, dt.datetime]:
    ids = [i for i in ((ev.data or {}).get("decision_id") for ev in routed_events) if isinstance(i, int)]
    if not ids:
        return {}
    from db.models import RoutingDecision

    return dict(session.execute(select(RoutingDecision.id, RoutingDecision.decided_at)
                                .where(RoutingDecision.id.in_(ids))).all())


def _move_detail(ev, from_dept, to_dept, adjusters: dict) -> str | None:
    """"Property → Liability · assigned to James Carter · Misrouted": where it went, to whom
    and why (the board requires the reason; the history is where the next adjuster reads it)."""
    from services.reassignment import MOVE_REASON_LABELS

    data = ev.data or {}
    if from_dept is not None and to_dept is not None and from_dept.id == to_dept.id:
        where = f"within {to_dept.name}"
    else:
        where = " → ".join(d.name for d in (from_dept, to_dept) if d) or None
    to_adjuster = data.get("to_adjuster_id")
    if to_adjuster is not None:
        who = f"assigned to {adjusters.get(to_adjuster) or 'another adjuster'}"
    else:
        who = "unassigned" if data.get("from_adjuster_id") is not None else None
    why = MOVE_REASON_LABELS.get(ev.reason or "", None)
    return " · ".join(p for p in (where, who, why) if p) or None


def timeline(session: Session, claim: Claim, *, limit: int = 300) -> list[dict]:
    """Everything that happened to the claim, oldest first, as plain text for the page."""
    from db.models import Department, User

    depts = {d.id: d for d in session.scalars(select(Department))}
    rows = session.execute(
        select(ClaimEvent, User.name, User.email).outerjoin(User, User.id == ClaimEvent.actor_id)
        .where(ClaimEvent.claim_id == claim.id).order_by(ClaimEvent.at, ClaimEvent.id).limit(limit)).all()
    items: list[dict] = [{"at": claim.created_at, "kind": "intake", "actor": "SCOPE", "title": "Claim received",
                          "detail": None, "note": None}]
    decided = _decision_times(session, [ev for ev, _, _ in rows if ev.kind == "routed"])
    moved_to = {(ev.data or {}).get("to_adjuster_id") for ev, _, _ in rows if ev.kind == "moved"} - {None}
    adjusters = dict(session.execute(select(User.id, User.name).where(User.id.in_(
        [i for i in moved_to if isinstance(i, int)]))).all()) if moved_to else {}
    last_change = claim.created_at
    last_status = None
    for ev, name, email in rows:
        actor = name or email or "SCOPE"
        to_dept = depts.get(ev.to_department_id)
        from_dept = depts.get(ev.from_department_id)
        item = {"at": ev.at, "kind": ev.kind, "actor": actor, "title": ev.kind.replace("_", " ").capitalize(),
                "detail": None, "note": ev.note}
        if ev.kind == "feedback":
            from services.feedback import REASONS

            agrees = bool((ev.data or {}).get("agrees"))
            item["title"] = "Agreed with the routing" if agrees else "Disagreed with the routing"
            parts = [] if agrees else [REASONS.get(ev.reason or "", ev.reason or "")]
            if to_dept is not None:
                parts.append(f"suggests {to_dept.name}")
            item["detail"] = " · ".join(p for p in parts if p) or None
        elif ev.kind == "note":
            item["title"] = "Note"
        elif ev.kind in FRAUD_TITLES:
            item["title"] = FRAUD_TITLES[ev.kind]
        elif ev.kind in DOCUMENT_TITLES:  # services.claim_documents
            item["title"] = DOCUMENT_TITLES[ev.kind]
            item["detail"] = (ev.data or {}).get("filename")
        elif ev.kind in ("routed", "moved", "intake"):
            item["title"] = {"routed": "Routed", "moved": "Moved", "intake": "Intake"}[ev.kind]
            item["detail"] = " → ".join(d.name for d in (from_dept, to_dept) if d) or None
            if ev.kind == "intake":
                item["detail"] = INTAKE_VIA.get((ev.data or {}).get("via"), item["detail"])
            if ev.kind == "moved":
                item["detail"] = _move_detail(ev, from_dept, to_dept, adjusters)
            at = decided.get((ev.data or {}).get("decision_id")) if ev.kind == "routed" else None
            if at is not None and at - ev.at > LOADED_LATER:
                # A back catalogue (import, the demo) is queued as of each claim's arrival but
                # scored when loaded: say so, or the step reads as a decision made back then.
                item["detail"] = " · ".join(p for p in (item["detail"], f"scored {at:%Y-%m-%d %H:%M} UTC "
                                                        "when loaded into SCOPE, dated from its arrival") if p)
        elif ev.kind == "assigned" and not ev.to_status:
            to_self = (ev.data or {}).get("to_adjuster_id") == ev.actor_id
            item["title"] = "Assigned to " + actor if to_self else "Assigned"
        before = ev.from_status or "new"
        # Intake records the first status and a move keeps it: no step to show ("New → New").
        if ev.to_status and ev.to_status != before:
            step = f"{STATUS_LABELS.get(before, before)} → {STATUS_LABELS.get(ev.to_status, ev.to_status)}"
            spent = (ev.at - last_change).total_seconds()
            after = f"after {_duration(max(0.0, spent))} in {STATUS_LABELS.get(before, before)}"
            if ev.kind == "moved":
                # A move that unassigns also resets the status: the move is the news, the status a detail.
                item["detail"] = " · ".join(p for p in (item["detail"], f"{step} {after}") if p)
            else:
                item["title"], item["detail"] = step, after
            if ev.kind == "assigned":
                item["detail"] += f" · taken by {actor}"
            last_change = ev.at
        if ev.to_status:
            last_status = ev.to_status
        items.append(item)
    if claim.status == "closed" and claim.closed_at is not None and last_status != "closed":
        # Claims closed outside SCOPE's workflow (imports, the demo's past years) have no status
        # event: without this line their history never said that, or when, they were closed.
        items.append({"at": claim.closed_at, "kind": "status", "actor": None, "title": "Closed",
                      "detail": "date from the claim record", "note": None})
    if claim.status != "closed":
        spent = (dt.datetime.now(dt.timezone.utc) - last_change).total_seconds()
        items.append({"at": None, "kind": "now", "actor": None,
                      "title": f"{STATUS_LABELS.get(claim.status, claim.status)} "
                               f"for {_duration(max(0.0, spent))} so far",
                      "detail": None, "note": None})
    return items
