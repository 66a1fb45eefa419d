"""Fraud alerts: open claims outside Special Investigations that show signals of
fraud, for a manager to refer to SIU or dismiss.

Signals (each says why, so an alert is a lead with its reasons, not a score):
- ``ring``: the claim is in a possible fraud ring (services.fraud_rings);
- ``linked_fraud``: a person on it shares an identifier, under the rings' link
  rule, with a closed claim found fraudulent;
- ``model``: the router gives Special Investigations at least MODEL_THRESHOLD
  (its SIU referrals are learnt from red flags in the first-notice facts);
- ``flagged``: an adjuster or manager asked for an SIU review, with a note.

The hourly ``raise_fraud_alerts`` job (after detect_rings) raises and updates
them. One alert per claim: it is withdrawn when its signals are gone or the
claim closed or moved to SIU by other means; a dismissed or referred alert
comes back only for a kind of signal its decision did not see. A person's flag
reopens it at once. Referring moves the claim to the SIU queue through the
reassignment service (reason SIU_REFERRAL), so it is an ordinary, audited move
and a training label like any other.

Who sees what: users who see every department see every alert. Others see the
alerts of their departments' claims, and only the signals they could learn
elsewhere: a ring as the Rings page shows it to them, and the claims found
fraudulent it is linked to, named where they may open them and otherwise only
counted (whoever works the claim needs to know the link exists).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import OPEN_STATUSES, Claim, ClaimEvent, Department, FraudAlert, JobRun, User
from services import audit
from services.access import AccessDenied, NotFound, can_see_department
from services.fraud_rings import get_ring, get_rings, shared_links
from services.parties import FIELD_LABELS

SIU = "SIU"
JOB = "raise_fraud_alerts"
MODEL_THRESHOLD = 0.2
NOTE_MAX = 1000
DECIDED_WINDOW = 1000
KIND_LABELS = {"ring": "Possible ring", "linked_fraud": "Linked to fraud", "model": "Router",
               "flagged": "Flagged"}
STATUS_LABELS = {"open": "Open", "referred": "Referred to SIU", "dismissed": "Dismissed",
                 "withdrawn": "Withdrawn"}


class AlertError(ValueError):
    """The request was refused; nothing changed."""


class AlertConflict(AlertError):
    """Someone decided or changed the alert since it was loaded."""


# --- Raising alerts (the job) ------------------------------------------------


def _siu_id(session: Session) -> int | None:
    return session.scalar(select(Department.id).where(Department.code == SIU))


def _candidates_sql(siu_id: int | None) -> str:
    statuses = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
    not_siu = f" AND c.department_id IS DISTINCT FROM {int(siu_id)}" if siu_id is not None else ""
    return f"c.status IN ({statuses}){not_siu}"  # constants and an int: no input


def _latest_siu_probability(session: Session, siu_id: int | None, claim_ids: list[int] | None = None
                            ) -> dict[int, float]:
    """The latest routing decision's SIU probability of open claims outside SIU."""
    only = "AND c.id = ANY(:ids)" if claim_ids is not None else ""
    rows = session.execute(text(f"""
        SELECT DISTINCT ON (d.claim_id) d.claim_id, (d.probabilities ->> '{SIU}')::float AS p
        FROM routing_decisions d JOIN claims c ON c.id = d.claim_id
        WHERE {_candidates_sql(siu_id)} {only}
        ORDER BY d.claim_id, d.id DESC"""), {"ids": claim_ids or []})  # nosec B608 (constants only)
    return {r.claim_id: r.p for r in rows if r.p is not None}


def system_signals(session: Session) -> tuple[dict[int, list[dict]], dict[int, float]]:
    """{claim id: its signals} for open claims outside SIU, and every such claim's
    latest SIU probability."""
    siu_id = _siu_id(session)
    where = _candidates_sql(siu_id)
    signals: dict[int, list[dict]] = {}
    for r in session.execute(text(f"""
            SELECT c.id, r.key, r.size FROM fraud_rings r CROSS JOIN LATERAL unnest(r.claim_ids) AS m(id)
            JOIN claims c ON c.id = m.id WHERE {where}""")):  # nosec B608 (constants only)
        signals.setdefault(r.id, []).append({"kind": "ring", "ring": r.key, "size": r.size})

    links = shared_links(session)
    ids = sorted({c for k in links for c, _ in k["claims"]})
    fraud, candidate = set(), set()
    if ids:
        for r in session.execute(text(f"""
                SELECT c.id, (c.status = 'closed' AND c.fraud_label IS TRUE) AS fraud, ({where}) AS candidate
                FROM claims c WHERE c.id = ANY(:ids)"""), {"ids": ids}):  # nosec B608 (constants only)
            if r.fraud:
                fraud.add(r.id)
            elif r.candidate:
                candidate.add(r.id)
    linked: dict[int, dict[int, set[str]]] = {}
    for k in links:
        on = [c for c, _ in k["claims"]]
        found = [c for c in on if c in fraud]
        for c in on:
            if c in candidate:
                for f in found:
                    linked.setdefault(c, {}).setdefault(f, set()).add(k["field"])
    for c, others in linked.items():
        signals.setdefault(c, []).append({"kind": "linked_fraud", "claims": [
            [other, sorted(fields)] for other, fields in sorted(others.items())]})

    probabilities = _latest_siu_probability(session, siu_id)
    for c, p in probabilities.items():
        if p >= MODEL_THRESHOLD:
            signals.setdefault(c, []).append({"kind": "model", "probability": round(p, 4)})
    return signals, probabilities


def _kinds(signals: list[dict]) -> set[str]:
    return {s["kind"] for s in signals}


# Alerts rank by how many *kinds* of signal they have: three flags are one signal.
_KIND_COUNT = "(SELECT count(DISTINCT e ->> 'kind') FROM jsonb_array_elements({}) AS e)"


def refresh(session: Session, *, now: dt.datetime | None = None) -> dict:
    """Raise, update, reopen and withdraw alerts from the signals as they are now
    (in the caller's transaction; running it twice changes nothing)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    current, probabilities = system_signals(session)
    # Open alerts and those of claims with signals now: decided history is not read every hour.
    alerts = {a.claim_id: a for a in session.scalars(
        select(FraudAlert).where((FraudAlert.status == "open") | FraudAlert.claim_id.in_(list(current)))
        .with_for_update())}
    counts = {"raised": 0, "reopened": 0, "withdrawn": 0, "open": 0}
    new_rows = []
    for claim_id, found in current.items():
        alert = alerts.pop(claim_id, None)
        if alert is None:
            new_rows.append({"claim_id": claim_id, "status": "open", "signals": found,
                             "signal_count": len(_kinds(found)),
                             "siu_probability": probabilities.get(claim_id), "raised_at": now, "updated_at": now})
            counts["raised"] += 1
            continue
        signals = found + [s for s in alert.signals if s["kind"] == "flagged" and alert.status == "open"]
        reopen = (alert.status == "withdrawn"
                  or (alert.status in ("dismissed", "referred") and _kinds(found) - set(alert.dismissed_kinds)))
        if reopen:
            alert.status, alert.raised_at = "open", now
            counts["reopened"] += 1
        if alert.signals != signals or reopen or alert.siu_probability != probabilities.get(claim_id):
            alert.signals, alert.signal_count = signals, len(_kinds(signals))
            alert.siu_probability = probabilities.get(claim_id)
            alert.updated_at, alert.version = now, alert.version + 1
    # Open alerts without system signals now: a person's flag keeps one open while
    # its claim is still open and outside SIU; otherwise it is withdrawn.
    gone = [a for a in alerts.values() if a.status == "open"]
    still = set()
    if gone:
        still = set(session.scalars(text(f"SELECT c.id FROM claims c WHERE c.id = ANY(:ids) "  # nosec B608
                                         f"AND {_candidates_sql(_siu_id(session))}"),
                                    {"ids": [a.claim_id for a in gone]}))
    for alert in gone:
        flags = [s for s in alert.signals if s["kind"] == "flagged"]
        if flags and alert.claim_id in still:
            if alert.signals != flags:
                alert.signals, alert.signal_count, alert.updated_at = flags, 1, now
                alert.version += 1
            continue
        alert.status, alert.updated_at, alert.version = "withdrawn", now, alert.version + 1
        counts["withdrawn"] += 1
    if new_rows:
        # A person may flag one of these claims while this runs (flag() creates the row):
        # keep their flag beside the signals found, rather than fail the run.
        stmt = insert(FraudAlert)
        merged = stmt.excluded.signals.op("||")(FraudAlert.signals)
        session.execute(stmt.on_conflict_do_update(index_elements=["claim_id"], set_={
            "signals": merged, "status": "open", "siu_probability": stmt.excluded.siu_probability,
            "signal_count": text(_KIND_COUNT.format("excluded.signals || fraud_alerts.signals")),
            "updated_at": stmt.excluded.updated_at, "version": FraudAlert.version + 1}), new_rows)
    session.flush()
    counts["open"] = session.scalar(select(func.count(FraudAlert.id)).where(FraudAlert.status == "open"))
    return counts


def claim_number_of(session: Session, alert: FraudAlert) -> str:
    return session.scalar(select(Claim.claim_number).where(Claim.id == alert.claim_id))


def last_raised(session: Session) -> dt.datetime | None:
    return session.scalar(select(func.max(JobRun.finished_at)).where(JobRun.job == JOB,
                                                                      JobRun.status == "succeeded"))


# --- Flagging and deciding ---------------------------------------------------


def _note(note, *, required: bool, what: str) -> str | None:
    if note is not None and not isinstance(note, str):
        raise AlertError("The note must be text.")
    note = (note or "").strip() or None
    if required and not note:
        raise AlertError(f"Say why you {what} (a short note).")
    if note and len(note) > NOTE_MAX:
        raise AlertError(f"The note is too long (at most {NOTE_MAX} characters).")
    return note


def _event(session: Session, user, claim: Claim, kind: str, note: str | None, data: dict | None = None) -> None:
    session.execute(insert(ClaimEvent), [dict(claim_id=claim.id, kind=kind, actor_id=user.id, note=note,
                                              data=data or {})])


def flag(session: Session, user, claim_id, note) -> FraudAlert:
    """Ask for an SIU review of an open claim outside SIU: raises or reopens its alert."""
    if user is None or not user.can(Perm.FLAG_FRAUD):
        raise AccessDenied("Your role cannot flag claims for SIU review.")
    if isinstance(claim_id, bool) or not isinstance(claim_id, int) or not 0 < claim_id < 2**63:
        raise NotFound("No such claim.")
    note = _note(note, required=True, what="are flagging it")
    claim = session.scalar(select(Claim).where(Claim.id == claim_id).with_for_update(of=Claim.__table__)
                           .execution_options(populate_existing=True))
    if claim is None or not can_see_department(user, claim.department_id):
        raise NotFound("No such claim.")
    siu_id = _siu_id(session)
    if claim.status not in OPEN_STATUSES:
        raise AlertError("Closed claims cannot be flagged for SIU review.")
    if siu_id is not None and claim.department_id == siu_id:
        raise AlertError("This claim is already with Special Investigations.")
    now = dt.datetime.now(dt.timezone.utc)
    session.execute(insert(FraudAlert).values(claim_id=claim.id, status="withdrawn", signals=[],
                                                 signal_count=0, raised_at=now, updated_at=now)
                    .on_conflict_do_nothing(index_elements=["claim_id"]))
    alert = session.scalar(select(FraudAlert).where(FraudAlert.claim_id == claim.id)
                           .with_for_update().execution_options(populate_existing=True))
    mark = {"kind": "flagged", "by": user.id, "at": now.isoformat(timespec="seconds"), "note": note}
    # One flag per person (their latest note). A closed alert's old signals may be stale:
    # it reopens with the flag alone, and the hourly check adds what holds now.
    kept = [s for s in alert.signals if not (s["kind"] == "flagged" and s.get("by") == user.id)] \
        if alert.status == "open" else []
    before = {"status": alert.status, "signals": sorted(_kinds(alert.signals))}
    if alert.status != "open":
        alert.raised_at = now
    alert.status, alert.signals = "open", kept + [mark]
    alert.signal_count = len(_kinds(alert.signals))
    alert.siu_probability = _latest_siu_probability(session, siu_id, [claim.id]).get(claim.id)
    alert.updated_at, alert.version = now, alert.version + 1
    _event(session, user, claim, "fraud_flag", note)
    audit.record(session, actor=user.email, actor_id=user.id, action="fraud_alert.flag", target_type="claim",
                 target_id=claim.id, before=before, after={"status": "open", "note": note})
    session.flush()
    return alert


def _locked(session: Session, user, alert_id, version) -> tuple[FraudAlert, Claim]:
    if user is None or not user.can(Perm.DECIDE_FRAUD):
        raise AccessDenied("Your role cannot decide fraud alerts.")
    if isinstance(alert_id, bool) or not isinstance(alert_id, int) or not 0 < alert_id < 2**63:
        raise NotFound("No such fraud alert.")
    if isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 2**31:
        raise AlertError("The alert is malformed (version missing); reload the page.")
    # The claim first, then the alert: the order flag() takes them in, so the two never deadlock.
    claim_id = session.scalar(select(FraudAlert.claim_id).where(FraudAlert.id == alert_id))
    claim = session.scalar(select(Claim).where(Claim.id == claim_id).with_for_update(of=Claim.__table__)
                           .execution_options(populate_existing=True)) if claim_id is not None else None
    alert = session.scalar(select(FraudAlert).where(FraudAlert.id == alert_id).with_for_update()
                           .execution_options(populate_existing=True)) if claim is not None else None
    if alert is None or claim is None or not can_see_department(user, claim.department_id):
        raise NotFound("No such fraud alert.")
    if alert.version != version:
        raise AlertConflict(f"Someone changed the alert on {claim.claim_number} since you loaded it "
                            f"(it is now {STATUS_LABELS[alert.status].lower()}); reload and decide again.")
    if alert.status != "open":
        raise AlertError(f"The alert on {claim.claim_number} is {STATUS_LABELS[alert.status].lower()}, "
                         "not open.")
    # The list may be an hour old: the claim may have closed or reached SIU since.
    if claim.status not in OPEN_STATUSES:
        raise AlertError(f"{claim.claim_number} is closed; the alert will be withdrawn at the next check.")
    if claim.department_id == _siu_id(session):
        raise AlertError(f"{claim.claim_number} is already with Special Investigations; the alert will be "
                         "withdrawn at the next check.")
    return alert, claim


def _decided(alert: FraudAlert, user, status: str, note: str | None) -> None:
    alert.status, alert.decided_by, alert.decision_note = status, user.id, note
    alert.decided_at = alert.updated_at = dt.datetime.now(dt.timezone.utc)
    alert.dismissed_kinds = sorted(_kinds(alert.signals))
    alert.version += 1


def dismiss(session: Session, user, alert_id, version, note) -> FraudAlert:
    """Close the alert without a referral; the same kinds of signal will not raise it again."""
    note = _note(note, required=True, what="dismiss it")
    alert, claim = _locked(session, user, alert_id, version)
    _decided(alert, user, "dismissed", note)
    _event(session, user, claim, "fraud_dismissed", note, {"signals": alert.dismissed_kinds})
    audit.record(session, actor=user.email, actor_id=user.id, action="fraud_alert.dismiss",
                 target_type="fraud_alert", target_id=alert.id, before={"status": "open"},
                 after={"status": "dismissed", "note": note, "claim_id": claim.id})
    session.flush()
    return alert


def refer(session: Session, user, alert_id, version, note=None) -> FraudAlert:
    """Move the claim to the SIU queue (unassigned) with the alert's signals as the comment."""
    from services.reassignment import move_claims

    note = _note(note, required=False, what="refer it")
    alert, claim = _locked(session, user, alert_id, version)
    # Not the signals: the claim's history is read by people the alert hides some of them from.
    comment = f"Referred from a fraud alert. {note}" if note else "Referred from a fraud alert."
    move_claims(session, user, [{"claim_id": claim.id, "version": claim.version}], department_code=SIU,
                reason="SIU_REFERRAL", comment=comment[:1000])
    _decided(alert, user, "referred", note)
    audit.record(session, actor=user.email, actor_id=user.id, action="fraud_alert.refer",
                 target_type="fraud_alert", target_id=alert.id, before={"status": "open"},
                 after={"status": "referred", "note": note, "claim_id": claim.id})
    session.flush()
    return alert


def referred_by_move(session: Session, user, claim_ids, note: str | None = None) -> int:
    """Mark the open alerts of claims just moved to SIU as referred by ``user``, in the
    caller's transaction: the hourly check would withdraw them, but until then the lists
    offered a decision that was then refused. Claims must be locked first (the order
    flag() takes)."""
    if not claim_ids:
        return 0
    alerts = session.scalars(select(FraudAlert).where(FraudAlert.claim_id.in_(list(claim_ids)),
                                                      FraudAlert.status == "open").with_for_update()).all()
    for alert in alerts:
        _decided(alert, user, "referred", note)
    session.flush()
    return len(alerts)


def ring_claims_to_refer(session: Session, view) -> list:
    """The claims of a ring (as a user sees it) that a referral would move: open, outside SIU."""
    siu_id = _siu_id(session)
    return [c for c in view.claims if c.status in OPEN_STATUSES and c.department_id != siu_id]


def refer_ring(session: Session, user, key, note=None) -> list[str]:
    """Move every open claim of a possible ring outside SIU to the SIU queue in one
    move (a ring is investigated as a whole); their open alerts become referred.
    Returns the claim numbers moved."""
    from services.reassignment import move_claims

    if user is None or not user.can(Perm.DECIDE_FRAUD):
        raise AccessDenied("Your role cannot refer claims to SIU.")
    note = _note(note, required=False, what="refer it")
    view = get_ring(session, user, key)
    if view is None:
        raise NotFound("No such ring.")
    ids = [c.id for c in ring_claims_to_refer(session, view)]
    # Claims first, then their alerts: the order flag() and the single decisions take.
    claims = session.scalars(select(Claim).where(Claim.id.in_(ids), Claim.status.in_(OPEN_STATUSES),
                                                 Claim.department_id.is_distinct_from(_siu_id(session)))
                             .with_for_update(of=Claim.__table__).execution_options(populate_existing=True)
                             ).all() if ids else []
    if not claims:
        raise AlertError(f"No open claim of ring {view.key} is outside Special Investigations.")
    comment = f"Referred with possible fraud ring {view.key}." + (f" {note}" if note else "")
    alerts = session.scalars(select(FraudAlert).where(FraudAlert.claim_id.in_([c.id for c in claims]),
                                                      FraudAlert.status == "open").with_for_update()).all()
    move_claims(session, user, [{"claim_id": c.id, "version": c.version} for c in claims], department_code=SIU,
                reason="SIU_REFERRAL", comment=comment[:1000])
    for alert in alerts:  # the move settled them with its comment; the decision keeps the note alone
        _decided(alert, user, "referred", note)
    numbers = sorted(c.claim_number for c in claims)
    audit.record(session, actor=user.email, actor_id=user.id, action="fraud_ring.refer", target_type="fraud_ring",
                 target_id=view.key, after={"claims": numbers, "note": note})
    session.flush()
    return numbers


# --- Reading -----------------------------------------------------------------


@dataclass
class SignalView:
    kind: str
    label: str                     # "Possible ring"
    text: str                      # "In ring R-000021 (4 claims)"
    href: str | None = None
    claims: list[tuple[str, str]] = field(default_factory=list)   # (claim number, href) it names
    more: int = 0                                                  # claims it counts but does not name


@dataclass
class AlertView:
    id: int
    version: int
    status: str
    claim_id: int
    claim_number: str
    claim_status: str
    department: str | None
    department_color: str | None
    report_date: dt.date | None
    claimed: float | None
    siu_probability: float | None
    raised_at: dt.datetime
    signals: list[SignalView]
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision_note: str | None = None
    # A referred claim's SIU case (key, status, outcome), for those who read cases: what became of it.
    case: tuple[str, str, str | None] | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def kinds(self) -> int:
        """How many kinds of signal this user reads on it (what open alerts rank by)."""
        return len({s.kind for s in self.signals})


def _claim_href(number: str) -> str:
    from urllib.parse import quote

    return f"/claims/{quote(number, safe='')}"


class _Reader:
    """Turns stored signals into what one user may read (caches rings and claims)."""

    def __init__(self, session: Session, user):
        self.session, self.user = session, user
        self.all = user.can(Perm.VIEW_ALL_DEPARTMENTS)
        self._rings: dict[str, object] = {}
        self._names: dict[int, str] = {}

    def prepare(self, alerts: list[FraudAlert]) -> None:
        linked = {c for a in alerts for s in a.signals if s["kind"] == "linked_fraud" for c, _ in s["claims"]}
        self._claims = {r.id: r for r in self.session.execute(
            select(Claim.id, Claim.claim_number, Claim.department_id).where(Claim.id.in_(linked)))} if linked else {}
        if not self.all:
            # Every ring the list names, as this user may see it, in one go (not a query per ring).
            self._rings = get_rings(self.session, self.user,
                                    {s["ring"] for a in alerts for s in a.signals if s["kind"] == "ring"})
        people = {s["by"] for a in alerts for s in a.signals if s["kind"] == "flagged"}
        people |= {a.decided_by for a in alerts if a.decided_by}
        self._names = dict(self.session.execute(select(User.id, User.name).where(User.id.in_(people)))
                           .all()) if people else {}

    def name(self, user_id) -> str:
        return self._names.get(user_id) or "someone"

    def signal(self, claim_id: int, s: dict) -> SignalView | None:
        kind = s["kind"]
        if kind == "ring":
            if self.all:
                size = s["size"]
            else:
                # The ring as the Rings page shows it to this user, and only if it shows this claim.
                view = self._rings.get(s["ring"])
                if view is None or all(c.id != claim_id for c in view.claims):
                    return None
                size = view.size
            return SignalView(kind, KIND_LABELS[kind], f"In possible fraud ring {s['ring']} ({size} claims)",
                              f"/rings?ring={s['ring']}")
        if kind == "linked_fraud":
            linked = [(self._claims[c], fields) for c, fields in s["claims"] if c in self._claims]
            if not linked:
                return None
            # Whoever works the claim needs to know the link exists; only the claims it links to
            # are need-to-know, so those in departments the user cannot open are counted, not named.
            shown = [r for r, _ in linked if can_see_department(self.user, r.department_id)]
            what = ", ".join(FIELD_LABELS.get(f, f) for f in sorted({f for _, fs in linked for f in fs}))
            n, hidden = len(linked), len(linked) - len(shown)
            text_ = f"Shares {what} with {n} claim{'s' if n > 1 else ''} found fraudulent"
            if hidden == n:
                text_ += " in departments you do not work" if n > 1 else " in a department you do not work"
            elif hidden:
                text_ += f" ({hidden} in departments you do not work)"
            named = [(r.claim_number, _claim_href(r.claim_number)) for r in shown[:5]]
            # "and N more" counts only claims the reader could open; the others are said above.
            return SignalView(kind, KIND_LABELS[kind], text_, None, named, len(shown) - len(named))
        if kind == "model":
            return SignalView(kind, KIND_LABELS[kind],
                              f"The router gives Special Investigations {s['probability']:.0%}")
        if kind == "flagged":
            when = s.get("at", "")[:10]
            return SignalView(kind, KIND_LABELS[kind], f"Flagged by {self.name(s.get('by'))} on {when}: "
                              f"“{s.get('note') or ''}”")
        return None


def _views(session: Session, user, rows) -> list[AlertView]:
    reader = _Reader(session, user)
    reader.prepare([a for a, *_ in rows])
    out = []
    for alert, claim, dept in rows:
        signals = [v for s in alert.signals if (v := reader.signal(claim.id, s)) is not None]
        if not signals:
            continue  # nothing this user may read: not even that there was an alert
        out.append(AlertView(
            alert.id, alert.version, alert.status, claim.id, claim.claim_number, claim.status,
            dept.name if dept else None, dept.color if dept else None, claim.report_date,
            float(claim.claimed_amount) if claim.claimed_amount is not None else None,
            alert.siu_probability, alert.raised_at, signals,
            reader.name(alert.decided_by) if alert.decided_by else None, alert.decided_at, alert.decision_note))
    return out


def _base(user):
    q = (select(FraudAlert, Claim, Department).join(Claim, Claim.id == FraudAlert.claim_id)
         .outerjoin(Department, Department.id == Claim.department_id))
    if not user.can(Perm.VIEW_ALL_DEPARTMENTS):
        q = q.where(Claim.department_id.in_(list(user.department_ids) or [-1]))
    return q


def list_alerts(session: Session, user, *, status: str = "open", claim_number: str | None = None,
                limit: int = 50, offset: int = 0) -> tuple[list[AlertView], int]:
    """Alerts of one status the user may see (optionally one claim's): open ones
    most signals first, then by SIU probability; decided ones newest first. Up to
    ``limit``, and the total."""
    if status not in STATUS_LABELS:
        status = "open"
    q = _base(user).where(FraudAlert.status == status)
    if claim_number is not None:
        if not isinstance(claim_number, str) or not 0 < len(claim_number) <= 40 or not claim_number.isprintable():
            return [], 0  # (PostgreSQL refuses NUL in text: no claim number holds one)
        q = q.where(Claim.claim_number == claim_number)
    if status == "open":
        q = q.order_by(FraudAlert.signal_count.desc(), FraudAlert.siu_probability.desc().nulls_last(),
                       FraudAlert.raised_at, FraudAlert.id)
    else:
        q = q.order_by(func.coalesce(FraudAlert.decided_at, FraudAlert.updated_at).desc(), FraudAlert.id)
    if user.can(Perm.VIEW_ALL_DEPARTMENTS):
        total = session.scalar(q.with_only_columns(func.count(FraudAlert.id)).order_by(None))
        views = _views(session, user, session.execute(q.offset(offset).limit(limit)).all())
        return (_with_cases(session, user, views) if status == "referred" else views), total
    # Signals are filtered per user, so the count is of what remains. Open alerts are few
    # (claims outside SIU with signals now) and all read; decided ones pile up: the latest
    # DECIDED_WINDOW of the user's departments are read and counted.
    rows = session.execute(q if status == "open" else q.limit(DECIDED_WINDOW)).all()
    views = _views(session, user, rows)
    if status == "open":
        views.sort(key=lambda v: (-v.kinds, -(v.siu_probability or 0), v.raised_at, v.id))
    page = views[offset:offset + limit]
    return (_with_cases(session, user, page) if status == "referred" else page), len(views)


def open_totals(session: Session, user) -> tuple[float, int]:
    """Claimed on, and alerts with two or more kinds of signal among, all the open alerts
    the user sees: the list shows one page, and the money at stake is the whole list's."""
    q = _base(user).where(FraudAlert.status == "open")
    if user.can(Perm.VIEW_ALL_DEPARTMENTS):
        claimed, multi = session.execute(q.with_only_columns(
            func.coalesce(func.sum(Claim.claimed_amount), 0),
            func.count(FraudAlert.id).filter(FraudAlert.signal_count > 1)).order_by(None)).one()
        return float(claimed), int(multi)
    views = _views(session, user, session.execute(q).all())  # their signals as this user may read them
    return float(sum(v.claimed or 0 for v in views)), sum(v.kinds > 1 for v in views)


def _with_cases(session: Session, user, views: list[AlertView]) -> list[AlertView]:
    """Referred alerts with their claims' SIU cases, for those who read cases."""
    from db.models import SiuCase, SiuCaseClaim
    from services.siu_cases import may_work

    if not views or not may_work(session, user):
        return views
    cases = {r.claim_id: (r.key, r.status, r.outcome) for r in session.execute(
        select(SiuCaseClaim.claim_id, SiuCase.key, SiuCase.status, SiuCase.outcome)
        .join(SiuCase, SiuCase.id == SiuCaseClaim.case_id)
        .where(SiuCaseClaim.claim_id.in_([v.claim_id for v in views])))}
    for v in views:
        v.case = cases.get(v.claim_id)
    return views


# Which of the user's alerts each tab lists, with what decides whether the user may read one: a
# router signal or a flag always shows, a link to fraud shows while a claim it names exists, and a
# ring only as the Rings page shows it to the user (checked in Python, for alerts with no other signal).
# Decided tabs read the latest DECIDED_WINDOW, as list_alerts does. Constants and bound values only.
_TAB_ALERTS_SQL = f"""
    SELECT status, claim_id,
           EXISTS (SELECT 1 FROM jsonb_array_elements(signals) AS s
                   WHERE s ->> 'kind' IN ('model', 'flagged')
                      OR (s ->> 'kind' = 'linked_fraud' AND EXISTS (
                          SELECT 1 FROM jsonb_array_elements(s -> 'claims') AS l
                          JOIN claims f ON f.id = (l ->> 0)::bigint))) AS readable,
           ARRAY(SELECT DISTINCT s ->> 'ring' FROM jsonb_array_elements(signals) AS s
                 WHERE s ->> 'kind' = 'ring') AS rings
    FROM (SELECT a.status, a.claim_id, a.signals,
                 row_number() OVER (PARTITION BY a.status
                                    ORDER BY coalesce(a.decided_at, a.updated_at) DESC, a.id) AS n
          FROM fraud_alerts a JOIN claims c ON c.id = a.claim_id
          WHERE c.department_id = ANY(:departments)) AS mine
    WHERE status = 'open' OR n <= {int(DECIDED_WINDOW)}"""  # nosec B608 (constants only)


def counts(session: Session, user) -> dict[str, int]:
    """How many alerts of each status the user may see: the total each tab's list gives.
    A user of some departments counts the alerts of their departments that show them a
    signal (list_alerts' rules), read in SQL rather than built as the list builds them."""
    if user.can(Perm.VIEW_ALL_DEPARTMENTS):
        q = _base(user).with_only_columns(FraudAlert.status, func.count(FraudAlert.id)).group_by(FraudAlert.status)
        found = dict(session.execute(q).all())
        return {s: found.get(s, 0) for s in STATUS_LABELS}
    tally = dict.fromkeys(STATUS_LABELS, 0)
    departments = list(user.department_ids)
    if not departments:
        return tally
    rings_only = []
    for status, claim_id, readable, rings in session.execute(text(_TAB_ALERTS_SQL), {"departments": departments}):
        if readable:
            tally[status] = tally.get(status, 0) + 1
        elif rings:
            rings_only.append((status, claim_id, rings))
    if rings_only:
        views = get_rings(session, user, {k for _, _, rings in rings_only for k in rings})
        for status, claim_id, rings in rings_only:
            if any((v := views.get(k)) is not None and any(c.id == claim_id for c in v.claims) for k in rings):
                tally[status] = tally.get(status, 0) + 1
    return tally


def can_flag(session: Session, user, claim: Claim) -> bool:
    """Whether the claim page offers this user the flag form for this claim."""
    return (user.can(Perm.FLAG_FRAUD) and claim.status in OPEN_STATUSES
            and can_see_department(user, claim.department_id) and claim.department_id != _siu_id(session))


def alert_of_claim(session: Session, user, claim_id: int) -> AlertView | None:
    """The claim's alert as this user may read it (None if none, or nothing to show)."""
    rows = session.execute(_base(user).where(FraudAlert.claim_id == claim_id)).all()
    views = _views(session, user, rows)
    if not views or (views[0].status == "withdrawn"):
        return None
    return views[0]
