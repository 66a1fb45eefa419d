"""SIU cases: investigations of claims referred to Special Investigations.

A case groups claims in the SIU queue (a ring is investigated as a whole),
names a lead investigator, keeps its activity (notes, claims added or removed,
lead changes) and closes with a finding: confirmed fraud, no fraud, or
inconclusive, with the findings in words and what it saved. Closing records the
finding on its claims (``claims.fraud_label``: true / false; inconclusive leaves
it), so a confirmed claim, once closed, becomes a "linked to fraud" signal for
the claims that share its people, and counts on the dashboards.

Who: managers and admins, and adjusters who belong to Special Investigations
(``may_work``). Investigation notes are need-to-know: other adjusters and
viewers do not read cases; viewers see the totals. Reopening a closed case is a
manager's call (``Perm.DECIDE_FRAUD``), as reopening a claim is.

Every write locks the case row (claims first where claims change, the order
the claim workflow takes), checks the version the caller saw where the
decision depends on what they saw (lead, close, reopen), writes the case's
activity, the claims' history and the audit log, and never commits.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import (OPEN_STATUSES, Claim, ClaimEvent, Department, SiuCase, SiuCaseClaim, SiuCaseEvent, User,
                       user_departments)
from services import audit, siu_returns
from services.access import AccessDenied, NotFound

SIU = "SIU"
TITLE_MAX = 200
NOTE_MAX = 5000
MAX_CLAIMS = 200             # a case, not a book: rings are 3-25 claims
SAVED_MAX = Decimal("1e12")
KEY_RE = re.compile(r"C-\d{6,12}")
OUTCOME_LABELS = {"confirmed_fraud": "Confirmed fraud", "no_fraud": "No fraud found", "inconclusive": "Inconclusive"}
# What a finding records on the case's claims (inconclusive: nothing).
OUTCOME_LABEL_VALUE = {"confirmed_fraud": True, "no_fraud": False}
EVENT_TITLES = {"opened": "Case opened", "note": "Note", "claim_added": "Claim added", "claim_removed": "Claim removed",
                "lead": "Lead investigator", "closed": "Case closed", "reopened": "Case reopened"}


class CaseError(ValueError):
    """The request was refused; nothing changed (shown to the user)."""


class CaseConflict(CaseError):
    """The case changed since the caller loaded it."""


# --- Access ------------------------------------------------------------------


def siu_id(session: Session) -> int | None:
    return session.scalar(select(Department.id).where(Department.code == SIU))


def may_work(session: Session, user, siu: int | None = None) -> bool:
    """Whether the user reads and works cases: managers and admins, and SIU's adjusters."""
    if user is None or not user.can(Perm.WORK_SIU_CASES):
        return False
    if user.can(Perm.VIEW_ALL_DEPARTMENTS):
        return True
    siu = siu if siu is not None else siu_id(session)
    return siu is not None and siu in user.department_ids


def sees_cases_tab(session: Session, user) -> bool:
    """Who finds "Cases" beside Alerts and Rings: those who work cases, and those who
    read the dashboards (the totals, not the investigations)."""
    return may_work(session, user) or (user is not None and user.can(Perm.VIEW_DASHBOARDS))


def _require(session: Session, user) -> int | None:
    siu = siu_id(session)
    if not may_work(session, user, siu):
        raise AccessDenied("Only Special Investigations and managers work SIU cases.")
    return siu


def _text(value, *, what: str, required: bool, limit: int) -> str | None:
    if value is not None and not isinstance(value, str):
        raise CaseError(f"The {what} must be text.")
    value = (value or "").strip() or None
    if required and not value:
        raise CaseError(f"Write the {what}.")
    if value and len(value) > limit:
        raise CaseError(f"The {what} is too long (at most {limit:,} characters).")
    if value and "\x00" in value:
        raise CaseError(f"The {what} holds a character that cannot be stored.")
    return value


def _key(key) -> str:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key.strip().upper()):
        raise NotFound("No such case.")
    return key.strip().upper()


def _version(version) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 2**31:
        raise CaseConflict("This case changed since you opened it; reload and try again.")
    return version


_ANY = object()   # writes that do not depend on what the caller saw (notes, claims added or removed)


def _locked_case(session: Session, key, version=_ANY) -> SiuCase:
    case = session.scalar(select(SiuCase).where(SiuCase.key == _key(key)).with_for_update()
                          .execution_options(populate_existing=True))
    if case is None:
        raise NotFound("No such case.")
    # A decision needs the version the caller saw: a missing one is a stale (or tampered) page.
    if version is not _ANY and case.version != _version(version):
        raise CaseConflict(f"Case {case.key} changed since you opened it (someone added a claim, changed the "
                           "lead or decided it); reload and try again.")
    return case


def _touch(case: SiuCase) -> None:
    case.updated_at = dt.datetime.now(dt.timezone.utc)
    case.version += 1


def _case_event(session: Session, user, case: SiuCase, kind: str, note: str | None = None,
                data: dict | None = None) -> None:
    session.execute(insert(SiuCaseEvent), [dict(case_id=case.id, kind=kind, actor_id=user.id, note=note,
                                                data=data or {})])


def _claim_events(session: Session, user, claim_ids: list[int], note: str, data: dict) -> None:
    if claim_ids:
        session.execute(insert(ClaimEvent), [dict(claim_id=c, kind="siu_case", actor_id=user.id, note=note,
                                                  data=data) for c in claim_ids])


def _audit(session: Session, user, action: str, case: SiuCase, before=None, after=None) -> None:
    audit.record(session, actor=user.email, actor_id=user.id, action=action, target_type="siu_case",
                 target_id=case.key, before=before, after=after)


# --- Claims of a case ----------------------------------------------------------


def _lock_claims(session: Session, user, numbers_or_ids: list, siu: int | None) -> list[Claim]:
    """The claims, locked, each in the SIU queue and in no case; else CaseError naming them."""
    if not isinstance(numbers_or_ids, (list, tuple)) or not numbers_or_ids:
        raise CaseError("Name at least one claim.")
    if len(numbers_or_ids) > MAX_CLAIMS:
        raise CaseError(f"A case holds at most {MAX_CLAIMS} claims.")
    numbers = [v.strip() for v in numbers_or_ids if isinstance(v, str) and v.strip()]
    ids = [v for v in numbers_or_ids if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**63]
    if len(numbers) + len(ids) != len(numbers_or_ids) or any(len(n) > 40 or "\x00" in n for n in numbers):
        raise CaseError("A claim number is not valid.")
    claims = session.scalars(select(Claim).where(Claim.claim_number.in_(numbers) | Claim.id.in_(ids))
                             .order_by(Claim.id).with_for_update(of=Claim.__table__)
                             .execution_options(populate_existing=True)).all()
    found = {c.claim_number for c in claims} | {c.id for c in claims}
    missing = [str(v) for v in (*numbers, *ids) if v not in found]
    elsewhere = [c for c in claims if siu is None or c.department_id != siu]
    if not user.can(Perm.VIEW_ALL_DEPARTMENTS):
        # SIU's adjusters do not see other queues: such a claim reads exactly as an unknown one
        # (named as it was typed, in the order typed), so the answer tells nothing of other queues.
        hidden = {c.claim_number for c in elsewhere} | {c.id for c in elsewhere}
        missing = [str(v) for v in (*numbers, *ids) if v not in found or v in hidden]
        elsewhere = []
    if missing:
        raise CaseError(("No claim " if len(missing) == 1 else "No claims ") + ", ".join(missing[:5])
                        + " in the Special Investigations queue.")
    if elsewhere:
        # Claims reach SIU by a referral (a manager's move): a case does not pull them in.
        raise CaseError("Not in the Special Investigations queue: " + ", ".join(c.claim_number for c in elsewhere[:5])
                        + ". Refer a claim to SIU before adding it to a case.")
    taken = session.execute(select(Claim.claim_number, SiuCase.key, SiuCase.status)
                            .join(SiuCaseClaim, SiuCaseClaim.claim_id == Claim.id)
                            .join(SiuCase, SiuCase.id == SiuCaseClaim.case_id)
                            .where(Claim.id.in_([c.id for c in claims]))).all()
    if taken:
        # A claim stays with the case that investigated it, closed or not: a closed one is
        # investigated again by reopening that case, which keeps its record in one place.
        closed = sorted({k for _, k, status in taken if status == "closed"})
        hint = (f" To investigate again, a manager reopens {', '.join(closed[:5])}." if closed else "")
        raise CaseError("Already in a case: " + ", ".join(f"{n} ({k})" for n, k, _ in taken[:5]) + "." + hint)
    return claims


def _add(session: Session, user, case: SiuCase, claims: list[Claim]) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    session.execute(insert(SiuCaseClaim), [dict(case_id=case.id, claim_id=c.id, added_by=user.id, added_at=now)
                                           for c in claims])
    _claim_events(session, user, [c.id for c in claims], f"Added to SIU case {case.key}.", {"case": case.key})


def new_key(session: Session) -> str:
    number = session.scalar(text("SELECT nextval('siu_case_keys')"))
    return f"C-{number:06d}"


def open_case(session: Session, user, claims: list, title=None, note=None, *, ring_key: str | None = None) -> SiuCase:
    """Open a case on claims in the SIU queue that are in no case (numbers or ids);
    its lead is the opener when they belong to SIU."""
    siu = _require(session, user)
    note = _text(note, what="note", required=False, limit=NOTE_MAX)
    found = _lock_claims(session, user, claims, siu)
    first = found[0].claim_number
    title = _text(title, what="title", required=False, limit=TITLE_MAX) or (
        f"Possible ring {ring_key}" if ring_key else
        f"{first}" + (f" and {len(found) - 1} more" if len(found) > 1 else ""))
    lead = user.id if siu in user.department_ids else None
    case = SiuCase(key=new_key(session), title=title, status="open", lead_id=lead, opened_by=user.id,
                   ring_key=ring_key)
    session.add(case)
    session.flush()
    _add(session, user, case, found)
    _case_event(session, user, case, "opened", note, {"claims": [c.claim_number for c in found],
                                                      **({"ring": ring_key} if ring_key else {})})
    _audit(session, user, "siu_case.open", case, after={"title": title, "claims": [c.claim_number for c in found],
                                                        "lead_id": lead, "ring": ring_key})
    session.flush()
    return case


def _open_case_locked(session: Session, key, version=_ANY) -> SiuCase:
    case = _locked_case(session, key, version)
    if case.status != "open":
        raise CaseError(f"Case {case.key} is closed; a manager can reopen it.")
    return case


def add_claims(session: Session, user, key, claims: list) -> list[str]:
    """Add claims in the SIU queue to an open case. Returns the numbers added."""
    siu = _require(session, user)
    found = _lock_claims(session, user, claims, siu)   # claims, then the case
    case = _open_case_locked(session, key)
    if _claim_count(session, case.id) + len(found) > MAX_CLAIMS:
        raise CaseError(f"A case holds at most {MAX_CLAIMS} claims.")
    _add(session, user, case, found)
    numbers = [c.claim_number for c in found]
    _touch(case)
    _case_event(session, user, case, "claim_added", None, {"claims": numbers})
    _audit(session, user, "siu_case.add_claims", case, after={"claims": numbers})
    session.flush()
    return numbers


def remove_claim(session: Session, user, key, claim_number) -> str:
    """Take a claim out of an open case (wrongly linked); its finding is not touched."""
    _require(session, user)
    if not isinstance(claim_number, str) or not 0 < len(claim_number) <= 40 or "\x00" in claim_number:
        raise CaseError("No such claim in this case.")
    claim = session.scalar(select(Claim).where(Claim.claim_number == claim_number)
                           .with_for_update(of=Claim.__table__))
    case = _open_case_locked(session, key)
    link = session.get(SiuCaseClaim, (case.id, claim.id)) if claim is not None else None
    if link is None:
        raise CaseError(f"{claim_number:.40} is not in case {case.key}.")
    if _claim_count(session, case.id) == 1:
        raise CaseError("A case keeps at least one claim: close it instead.")
    session.delete(link)
    _touch(case)
    _case_event(session, user, case, "claim_removed", None, {"claims": [claim.claim_number]})
    _claim_events(session, user, [claim.id], f"Removed from SIU case {case.key}.", {"case": case.key})
    _audit(session, user, "siu_case.remove_claim", case, before={"claim": claim.claim_number})
    session.flush()
    return claim.claim_number


def add_note(session: Session, user, key, note) -> None:
    _require(session, user)
    note = _text(note, what="note", required=True, limit=NOTE_MAX)
    case = _locked_case(session, key)
    case.updated_at = dt.datetime.now(dt.timezone.utc)   # not the version: a note conflicts with nothing
    _case_event(session, user, case, "note", note)
    session.flush()


def lead_choices(session: Session) -> list[tuple[int, str]]:
    """Who may lead a case: the active adjusters and managers of Special Investigations."""
    siu = siu_id(session)
    rows = session.execute(select(User.id, User.name, User.email).join(
        user_departments, user_departments.c.user_id == User.id).where(
        user_departments.c.department_id == siu, User.is_active, User.role.in_(("adjuster", "manager")))
        .order_by(User.name)).all() if siu is not None else []
    return [(r.id, r.name or r.email) for r in rows]


def set_lead(session: Session, user, key, version, lead_id) -> SiuCase:
    _require(session, user)
    case = _open_case_locked(session, key, version)
    choices = dict(lead_choices(session))
    if lead_id is not None and (isinstance(lead_id, bool) or not isinstance(lead_id, int) or lead_id not in choices):
        raise CaseError("Choose a member of Special Investigations to lead the case.")
    if lead_id == case.lead_id:
        raise CaseError("That is already the case's lead.")
    before = case.lead_id
    case.lead_id = lead_id
    _touch(case)
    _case_event(session, user, case, "lead", None, {"from": before, "to": lead_id})
    _audit(session, user, "siu_case.lead", case, before={"lead_id": before}, after={"lead_id": lead_id})
    session.flush()
    return case


def _amount(value) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise CaseError("The amount saved must be a number.")
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise CaseError("The amount saved must be a number, e.g. 12500.00.") from None
    if not amount.is_finite() or amount < 0 or amount >= SAVED_MAX:
        raise CaseError("The amount saved must be zero or more, and less than a trillion.")
    amount = amount.quantize(Decimal("0.01"))   # then check again: 999999999999.995 rounds to a trillion
    if amount >= SAVED_MAX:
        raise CaseError("The amount saved must be zero or more, and less than a trillion.")
    return amount


def check_findings(findings, saved) -> None:
    """The closing form's findings and amount saved, checked as close_case checks them
    (for the page's confirmation before anything is written)."""
    _text(findings, what="findings", required=True, limit=NOTE_MAX)
    _amount(saved)


def close_case(session: Session, user, key, version, outcome, findings, saved=None, *,
               send_back: bool = False) -> SiuCase:
    """Close with a finding, recorded on every claim of the case (confirmed: found
    fraudulent; no fraud: not; inconclusive: unchanged). ``send_back`` (ignored for
    confirmed fraud) moves its open claims still in the SIU queue back to a line
    department; confirmed fraud brings its open claims outside the queue into it
    (services.siu_returns)."""
    _require(session, user)
    if not isinstance(outcome, str) or outcome not in OUTCOME_LABELS:
        raise CaseError("Choose the outcome of the investigation.")
    if not isinstance(send_back, bool):
        raise CaseError("Say whether the claims go back to their departments.")
    findings = _text(findings, what="findings", required=True, limit=NOTE_MAX)
    amount = _amount(saved)
    claims = _lock_case_claims(session, key)
    case = _open_case_locked(session, key, version)
    labels = {c.claim_number: c.fraud_label for c in claims}
    value = OUTCOME_LABEL_VALUE.get(outcome)
    if outcome in OUTCOME_LABEL_VALUE:
        for c in claims:
            c.fraud_label = value
    now = dt.datetime.now(dt.timezone.utc)
    case.status, case.outcome, case.findings, case.saved_amount = "closed", outcome, findings, amount
    case.closed_by, case.closed_at = user.id, now
    _touch(case)
    ids = {c.claim_number: c.id for c in claims}
    # The claims' history says what was found, not the findings: their later readers may be outside SIU.
    _claim_events(session, user, list(ids.values()),
                  f"SIU case {case.key} closed: {OUTCOME_LABELS[outcome].lower()}.", {"case": case.key,
                                                                                       "outcome": outcome})
    session.flush()
    closing = f"SIU case {case.key} closed: {OUTCOME_LABELS[outcome].lower()}."
    returned, brought = {}, {}
    if outcome == "confirmed_fraud":
        # Claims found fraudulent are denied by Special Investigations, never paid in a line queue.
        brought = siu_returns.bring_in(session, user, claims, siu_id(session), closing)
    elif send_back:
        returned = siu_returns.send_back(session, user, claims, siu_id(session), closing)
    # What the claims held before: reopening withdraws the finding and puts it back.
    _case_event(session, user, case, "closed", findings, {
        "outcome": outcome, "saved": str(amount) if amount is not None else None,
        "labels_before": {str(ids[n]): labels[n] for n in ids} if value is not None else {},
        "sent_back": sorted(returned), **({"brought_in": sorted(brought)} if brought else {})})
    _audit(session, user, "siu_case.close", case, before={"status": "open", "fraud_labels": labels},
           after={"status": "closed", "outcome": outcome, "saved": str(amount) if amount is not None else None,
                  "fraud_label": value, "sent_back": sorted(returned), "brought_in": sorted(brought)})
    session.flush()
    return case


def _lock_case_claims(session: Session, key) -> list[Claim]:
    """The case's claims, locked (before the case, the order every claim write takes)."""
    ids = list(session.scalars(select(SiuCaseClaim.claim_id).join(SiuCase, SiuCase.id == SiuCaseClaim.case_id)
                               .where(SiuCase.key == _key(key))))
    return session.scalars(select(Claim).where(Claim.id.in_(ids)).order_by(Claim.id)
                           .with_for_update(of=Claim.__table__).execution_options(populate_existing=True)
                           ).all() if ids else []


def reopen_case(session: Session, user, key, version, note) -> SiuCase:
    """A manager reopens a closed case (new evidence). That withdraws its finding:
    its claims get back what they held before it closed (unless changed since)."""
    _require(session, user)
    if not user.can(Perm.DECIDE_FRAUD):
        raise AccessDenied("Reopening a closed case is a manager's call.")
    note = _text(note, what="reason for reopening", required=True, limit=NOTE_MAX)
    claims = _lock_case_claims(session, key)
    case = _locked_case(session, key, version)
    if case.status != "closed":
        raise CaseError(f"Case {case.key} is open.")
    before = {"status": "closed", "outcome": case.outcome}
    closed = session.scalar(select(SiuCaseEvent.data).where(SiuCaseEvent.case_id == case.id,
                                                           SiuCaseEvent.kind == "closed")
                            .order_by(SiuCaseEvent.id.desc()).limit(1)) or {}
    found = OUTCOME_LABEL_VALUE.get(case.outcome)
    restored = {}
    for c in claims:
        old = (closed.get("labels_before") or {}).get(str(c.id), c.fraud_label)
        if found is not None and c.fraud_label is found and old is not found:
            c.fraud_label = old
            restored[c.claim_number] = old
    # The closing findings and amount stay in the case's activity; the open case has none.
    case.status, case.outcome, case.closed_by, case.closed_at = "open", None, None, None
    case.findings = case.saved_amount = None
    _touch(case)
    _case_event(session, user, case, "reopened", note, {"was": before["outcome"]})
    _audit(session, user, "siu_case.reopen", case, before=before,
           after={"status": "open", "note": note, "fraud_labels_restored": restored})
    session.flush()
    return case


def _claim_count(session: Session, case_id: int) -> int:
    return session.scalar(select(func.count()).select_from(SiuCaseClaim).where(SiuCaseClaim.case_id == case_id))


# --- A referral declined -------------------------------------------------------------


def send_back_claim(session: Session, user, claim_id, version, reason) -> str:
    """Special Investigations declines a referral: an open claim of its queue that no
    case holds goes back to a line department (services.siu_returns.destinations),
    with the reason in the claim's history for whoever handles it next. Returns the
    department's name."""
    siu = _require(session, user)
    reason = _text(reason, what="reason", required=True, limit=NOTE_MAX)
    if isinstance(claim_id, bool) or not isinstance(claim_id, int) or not 0 < claim_id < 2**63:
        raise NotFound("no such claim")
    claim = session.scalar(select(Claim).where(Claim.id == claim_id).with_for_update(of=Claim.__table__)
                           .execution_options(populate_existing=True))
    if claim is None or claim.department_id != siu:
        raise NotFound("no such claim in the Special Investigations queue")
    if claim.status not in OPEN_STATUSES:
        raise CaseError("Closed claims keep their final department.")
    if isinstance(version, bool) or claim.version != version:
        raise CaseConflict("This claim changed since you opened it; reload and try again.")
    key = session.scalar(select(SiuCase.key).join(SiuCaseClaim, SiuCaseClaim.case_id == SiuCase.id)
                         .where(SiuCaseClaim.claim_id == claim.id))
    if key is not None:
        raise CaseError(f"It is in case {key}: take it out of the case, or close the case, to send it back.")
    moved = siu_returns.send_back(session, user, [claim], siu, f"Sent back by Special Investigations: {reason}")
    if not moved:
        raise CaseError("There is no line department to send it back to; ask a manager to move it.")
    session.flush()
    return session.get(Department, next(iter(moved.values()))).name
