"""Possible fraud rings: groups of three or more claims tied together by the
identifiers of their parties (services.parties stores them normalised).

Which shared identifiers count as a link is a rule, not a model, so every ring
can show why it is one:
- an identifier on 2 to ``HUB_LIMIT`` claims (more: a call centre, a big shop);
- carried by a person on at least one of them (claimant, insured, driver,
  witness, payee). Identifiers only businesses carry (shops, clinics,
  attorneys) link honest claims by trade and are ignored;
- a person's *address* shared only among people is ignored too (households,
  blocks of flats); the same address on a person and a business counts.
Rings are the connected groups of claims over those links (SciPy's connected
components), from ``MIN_CLAIMS`` to ``MAX_CLAIMS`` claims: a bigger group is a
chain through common identifiers, not a ring, and is counted, not stored.

The ``detect_rings`` job replaces the stored rings. A ring's key ("R-000042")
comes from a sequence and passes to the new ring that overlaps it most, so a
ring keeps its address while it keeps most of its claims.

Who sees what: users who see every department see whole rings. Anyone else sees
a ring only through the claims they may open: the largest group of those that
the ring's identifiers tie together *among themselves*, if it has MIN_CLAIMS
claims; its size, links and roles are counted on those claims alone, so nothing
is learnt about claims outside their departments (as on the claim page).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from auth.permissions import Perm
from db.models import OPEN_STATUSES, Claim, Department, FraudRing, JobRun
from services.parties import BUSINESS_ROLES, FIELD_LABELS, ID_FIELDS
from services.privacy import PERSONAL_PARTY_FIELDS, mask, sees_personal_data

HUB_LIMIT = 25
MIN_CLAIMS = 3
MAX_CLAIMS = 100
JOB = "detect_rings"

_BUSINESS = ", ".join(f"'{r}'" for r in sorted(BUSINESS_ROLES))
# One row per shared identifier that links claims (the rule above, in SQL so a
# household's address never leaves the database): its claims and the roles each
# carries it in. Field names come from ID_FIELDS (constants), never from input.
_LINKS_SQL = " UNION ALL ".join(
    f"""SELECT '{f}' AS field, {f} AS value, array_agg(claim_id) AS claim_ids, array_agg(role) AS roles
        FROM parties WHERE {f} IS NOT NULL GROUP BY {f}
        HAVING count(DISTINCT claim_id) BETWEEN 2 AND :hub
           AND bool_or(role NOT IN ({_BUSINESS}))
           {"AND bool_or(role IN (" + _BUSINESS + "))" if f == "address" else ""}"""  # nosec B608 (field names are constants)
    for f in ID_FIELDS)


@dataclass
class DetectedRing:
    claim_ids: list[int]
    links: list[dict]           # {"field", "value", "claims": [[claim_id, [roles]], ...]}


def _components(pairs: list[tuple[int, int]]) -> dict[int, list[int]]:
    """Connected groups of claim ids over (claim, claim) edges, by group label."""
    src = np.array([a for a, _ in pairs], dtype=np.int64)
    dst = np.array([b for _, b in pairs], dtype=np.int64)
    nodes, index = np.unique(np.concatenate([src, dst]), return_inverse=True)
    n = len(nodes)
    graph = sp.coo_matrix((np.ones(len(src)), (index[:len(src)], index[len(src):])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for claim_id, label in zip(nodes.tolist(), labels.tolist()):
        groups.setdefault(label, []).append(claim_id)
    return groups


def shared_links(session: Session) -> list[dict]:
    """Every shared identifier that links claims under the rule above:
    {"field", "value", "claims": [[claim_id, [roles on it]], ...]} (claims by id)."""
    links = []
    for r in session.execute(text(_LINKS_SQL), {"hub": HUB_LIMIT}):
        roles: dict[int, list[str]] = {}
        for claim_id, role in zip(r.claim_ids, r.roles):
            if role not in roles.setdefault(claim_id, []):
                roles[claim_id].append(role)
        links.append({"field": r.field, "value": r.value,
                      "claims": [[c, sorted(roles[c])] for c in sorted(roles)]})
    return links


def detect(session: Session) -> tuple[list[DetectedRing], int]:
    """The rings, and how many groups were dropped as larger than MAX_CLAIMS."""
    links = shared_links(session)
    if not links:
        return [], 0
    # Star edges (first claim to each other one) connect an identifier's claims.
    groups = _components([(k["claims"][0][0], c) for k in links for c, _ in k["claims"][1:]])
    label_of = {c: label for label, ids in groups.items() for c in ids}
    too_big = {label for label, ids in groups.items() if len(ids) > MAX_CLAIMS}
    by_ring: dict[int, list[dict]] = {}
    for k in links:
        label = label_of[k["claims"][0][0]]
        if len(groups[label]) >= MIN_CLAIMS and label not in too_big:
            by_ring.setdefault(label, []).append(k)
    return [DetectedRing(sorted(groups[label]), by_ring[label]) for label in by_ring], len(too_big)


def _keys(session: Session, rings: list[DetectedRing]) -> list[str]:
    """Each new ring takes the key of the old ring it shares most claims with (largest
    overlaps first, each old key once); the others get new keys."""
    old = {c: key for key, ids in session.execute(select(FraudRing.key, FraudRing.claim_ids)) for c in ids}
    overlaps = []
    for i, ring in enumerate(rings):
        for key, n in Counter(old[c] for c in ring.claim_ids if c in old).items():
            overlaps.append((-n, key, i))
    keys: dict[int, str] = {}
    taken: set[str] = set()
    for _, key, i in sorted(overlaps):
        if i not in keys and key not in taken:
            keys[i] = key
            taken.add(key)
    new = [i for i in range(len(rings)) if i not in keys]
    numbers = session.scalars(text("SELECT nextval('fraud_ring_keys') FROM generate_series(1, :n)"),
                              {"n": len(new)}).all() if new else []
    keys.update({i: f"R-{n:06d}" for i, n in zip(new, numbers)})
    return [keys[i] for i in range(len(rings))]


def refresh(session: Session, *, now: dt.datetime | None = None) -> dict:
    """Replace the stored rings with a fresh detection (in the caller's transaction)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    rings, too_big = detect(session)
    keys = _keys(session, rings)
    claims = _claims(session, [c for r in rings for c in r.claim_ids])
    session.execute(delete(FraudRing))
    rows = []
    for key, ring in zip(keys, rings):
        members = [claims[c] for c in ring.claim_ids if c in claims]
        dates = [m.report_date for m in members if m.report_date]
        rows.append({
            "key": key, "claim_ids": ring.claim_ids, "links": ring.links, "size": len(ring.claim_ids),
            "department_ids": sorted({m.department_id for m in members if m.department_id is not None}),
            "open_claims": sum(m.status in OPEN_STATUSES for m in members),
            "confirmed": sum(bool(m.fraud_label) for m in members),
            "claimed_sum": sum((Decimal(str(m.claimed_amount)) for m in members if m.claimed_amount), Decimal(0)),
            "first_report": min(dates) if dates else None, "last_report": max(dates) if dates else None,
            "detected_at": now})
    if rows:
        session.execute(insert(FraudRing), rows)
    return {"rings": len(rings), "claims": sum(len(r.claim_ids) for r in rings), "too_large": too_big}


# --- Reading the stored rings ------------------------------------------------


@dataclass
class RingClaim:
    id: int
    claim_number: str
    status: str
    department_id: int | None
    department: str | None
    color: str | None
    report_date: dt.date | None
    claimed_amount: float | None
    fraud_label: bool | None       # a closed claim's finding; None while open


@dataclass
class RingLink:
    field: str
    label: str                     # "claimant / repair shop's bank account"
    value: str                     # masked unless the user may see personal data
    claim_numbers: list[str]       # the shown claims that carry it


@dataclass
class RingSummary:
    """A line of the Rings page."""
    key: str
    size: int
    open_claims: int
    confirmed: int
    claimed: float
    departments: list[tuple[str, str]]     # (name, colour)
    link_summary: str
    first_report: dt.date | None
    last_report: dt.date | None


@dataclass
class RingView:
    key: str
    detected_at: dt.datetime
    claims: list[RingClaim]        # the claims shown (for a user of some departments: theirs, tied)
    links: list[RingLink] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.claims)

    @property
    def open_claims(self) -> int:
        return sum(c.status in OPEN_STATUSES for c in self.claims)

    @property
    def claimed(self) -> float:
        return float(sum(c.claimed_amount or 0 for c in self.claims))

    @property
    def confirmed(self) -> int:
        return sum(bool(c.fraud_label) for c in self.claims)


def _link_summary(fields) -> str:
    counts = Counter(fields)
    return ", ".join(f"{FIELD_LABELS[f]}{f' ×{n}' if n > 1 else ''}" for f, n in counts.most_common())


def _claims(session: Session, ids: list[int]) -> dict[int, RingClaim]:
    if not ids:
        return {}
    departments = {d.id: d for d in session.scalars(select(Department))}
    out = {}
    for r in session.execute(select(Claim.id, Claim.claim_number, Claim.status, Claim.department_id,
                                    Claim.report_date, Claim.claimed_amount, Claim.fraud_label)
                             .where(Claim.id.in_(ids))):
        dept = departments.get(r.department_id)
        out[r.id] = RingClaim(r.id, r.claim_number, r.status, r.department_id, dept.name if dept else None,
                              dept.color if dept else None, r.report_date,
                              float(r.claimed_amount) if r.claimed_amount is not None else None,
                              r.fraud_label if r.status == "closed" else None)
    return out


def _sees_all(user) -> bool:
    return user.can(Perm.VIEW_ALL_DEPARTMENTS)


def _view(ring: FraudRing, claims: dict[int, RingClaim], user) -> RingView | None:
    """The ring as this user may see it, or None."""
    if _sees_all(user):
        shown = [c for c in ring.claim_ids if c in claims]
    else:
        mine = {c for c in ring.claim_ids if c in claims and claims[c].department_id in user.department_ids}
        # Links among the user's own claims only: hidden claims must not tie them together.
        pairs = []
        for link in ring.links:
            ids = [c for c, _ in link["claims"] if c in mine]
            pairs += [(ids[0], c) for c in ids[1:]]
        if not pairs:
            return None
        shown = max(_components(pairs).values(), key=len)
        if len(shown) < MIN_CLAIMS:
            return None
    shown_set = set(shown)
    members = sorted((claims[c] for c in shown), key=lambda c: (c.report_date or dt.date.min, c.claim_number))
    view = RingView(ring.key, ring.detected_at, members)
    show_values = sees_personal_data(user)
    numbers = {c.id: c.claim_number for c in members}
    for link in ring.links:
        on = [(c, roles) for c, roles in link["claims"] if c in shown_set]
        if len(on) < 2:
            continue
        f = link["field"]
        who = " / ".join(r.replace("_", " ") for r in sorted({r for _, roles in on for r in roles}))
        value = link["value"] if show_values or f not in PERSONAL_PARTY_FIELDS else mask(f, link["value"])
        view.links.append(RingLink(f, f"{who}'s {FIELD_LABELS[f]}", value, [numbers[c] for c, _ in on]))
    view.links.sort(key=lambda k: -len(k.claim_numbers))
    return view


def _summary(view: RingView) -> RingSummary:
    seen: dict[str, str] = {}
    for c in view.claims:
        if c.department:
            seen.setdefault(c.department, c.color)
    dates = [c.report_date for c in view.claims if c.report_date]
    return RingSummary(view.key, view.size, view.open_claims, view.confirmed, view.claimed, list(seen.items()),
                       _link_summary(k.field for k in view.links), min(dates, default=None),
                       max(dates, default=None))


def list_rings(session: Session, user, *, limit: int = 200) -> tuple[list[RingSummary], int]:
    """The rings the user may see, most open claims first, then largest: up to
    ``limit`` of them, and how many there are in all."""
    order = (FraudRing.open_claims.desc(), FraudRing.size.desc(), FraudRing.key)
    if _sees_all(user):
        total = session.scalar(select(func.count(FraudRing.id)))
        departments = {d.id: d for d in session.scalars(select(Department))}
        out = [RingSummary(r.key, r.size, r.open_claims, r.confirmed, float(r.claimed_sum),
                           [(departments[d].name, departments[d].color) for d in r.department_ids
                            if d in departments],
                           _link_summary(k["field"] for k in r.links), r.first_report, r.last_report)
               for r in session.scalars(select(FraudRing).order_by(*order).limit(limit))]
        return out, total
    mine = list(user.department_ids)
    if not mine:
        return [], 0
    # Only rings with MIN_CLAIMS of their claims in the user's departments can show (a
    # probe of the claims' primary key per member): at a million claims an adjuster's
    # departments touch ~1,300 rings, of which ~80 qualify.
    enough = (select(func.count()).select_from(Claim)
              .where(Claim.id == func.any(FraudRing.claim_ids), Claim.department_id.in_(mine))
              .correlate(FraudRing).scalar_subquery())
    rings = list(session.scalars(select(FraudRing).where(FraudRing.department_ids.overlap(mine),
                                                         enough >= MIN_CLAIMS)))
    claims = _claims(session, [c for r in rings for c in r.claim_ids])
    views = [v for r in rings if (v := _view(r, claims, user)) is not None]
    summaries = sorted((_summary(v) for v in views), key=lambda s: (-s.open_claims, -s.size, s.key))
    return summaries[:limit], len(summaries)


def get_ring(session: Session, user, key) -> RingView | None:
    if not isinstance(key, str) or not key or len(key) > 20 or not key.isprintable():
        return None
    ring = session.scalar(select(FraudRing).where(FraudRing.key == key))
    if ring is None:
        return None
    return _view(ring, _claims(session, ring.claim_ids), user)


def get_rings(session: Session, user, keys) -> dict[str, RingView | None]:
    """Several rings as this user may see them, in three queries whatever their number."""
    keys = sorted({k for k in keys if isinstance(k, str) and 0 < len(k) <= 20})
    if not keys:
        return {}
    rings = list(session.scalars(select(FraudRing).where(FraudRing.key.in_(keys))))
    claims = _claims(session, sorted({c for r in rings for c in r.claim_ids}))
    found = {r.key: _view(r, claims, user) for r in rings}
    return {k: found.get(k) for k in keys}


def ring_of_claim(session: Session, user, claim_id: int) -> RingView | None:
    """The ring this claim is shown in to this user, if any."""
    ring = session.scalar(select(FraudRing).where(FraudRing.claim_ids.contains([claim_id])).limit(1))
    if ring is None:
        return None
    view = _view(ring, _claims(session, ring.claim_ids), user)
    return view if view is not None and any(c.id == claim_id for c in view.claims) else None


def last_detected(session: Session) -> dt.datetime | None:
    """When the detect_rings job last finished well (an empty result included)."""
    return session.scalar(select(func.max(JobRun.finished_at)).where(JobRun.job == JOB,
                                                                      JobRun.status == "succeeded"))
