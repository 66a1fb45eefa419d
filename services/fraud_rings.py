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
components), from ``MIN_CLAIMS`` claims up. On the demo data the rule finds the
generator's injected rings with 99.5% precision (docs/fraud-rings.md).

The ``detect_rings`` job replaces the stored rings; pages read them and show a
user only the member claims they may open.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from db.models import Claim, Department, FraudRing
from services.access import can_see_department
from services.parties import BUSINESS_ROLES, FIELD_LABELS, ID_FIELDS
from services.privacy import PERSONAL_PARTY_FIELDS, mask, sees_personal_data

HUB_LIMIT = 25
MIN_CLAIMS = 3

# One row per shared identifier: its claims and the roles that carry it. The
# field names come from ID_FIELDS (constants), never from input.
_SHARED_SQL = " UNION ALL ".join(
    f"""SELECT '{f}' AS field, {f} AS value, array_agg(DISTINCT claim_id) AS claim_ids,
               array_agg(DISTINCT role) AS roles
        FROM parties WHERE {f} IS NOT NULL GROUP BY {f}
        HAVING count(DISTINCT claim_id) BETWEEN 2 AND :hub"""  # nosec B608: constant field names
    for f in ID_FIELDS)


def is_link(field_name: str, roles: list[str]) -> bool:
    """Whether an identifier shared by these party roles ties claims together."""
    people = [r for r in roles if r not in BUSINESS_ROLES]
    if not people:
        return False
    if field_name == "address" and len(people) == len(roles):
        return False
    return True


@dataclass
class DetectedRing:
    claim_ids: list[int]
    links: list[dict]


def detect(session: Session, *, min_claims: int = MIN_CLAIMS) -> list[DetectedRing]:
    rows = [r for r in session.execute(text(_SHARED_SQL), {"hub": HUB_LIMIT}) if is_link(r.field, r.roles)]
    if not rows:
        return []
    # Star edges (first claim to each other one) connect an identifier's claims.
    src = np.array([r.claim_ids[0] for r in rows for _ in r.claim_ids[1:]], dtype=np.int64)
    dst = np.array([c for r in rows for c in r.claim_ids[1:]], dtype=np.int64)
    nodes, index = np.unique(np.concatenate([src, dst]), return_inverse=True)
    n = len(nodes)
    graph = sp.coo_matrix((np.ones(len(src)), (index[:len(src)], index[len(src):])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    for claim_id, label in zip(nodes.tolist(), labels.tolist()):
        members.setdefault(label, []).append(claim_id)
    ring_of = {c: label for label, ids in members.items() if len(ids) >= min_claims for c in ids}
    links: dict[int, list[dict]] = {}
    for r in rows:
        label = ring_of.get(r.claim_ids[0])
        if label is not None:
            links.setdefault(label, []).append({"field": r.field, "value": r.value, "roles": sorted(r.roles),
                                                "claim_ids": sorted(r.claim_ids)})
    return [DetectedRing(sorted(members[label]), links[label]) for label in links]


def refresh(session: Session, *, now: dt.datetime | None = None) -> dict:
    """Replace the stored rings with a fresh detection (the job's transaction)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    rings = detect(session)
    numbers = dict(session.execute(select(Claim.id, Claim.claim_number)
                                   .where(Claim.id.in_([r.claim_ids[0] for r in rings]))).all()) if rings else {}
    session.execute(delete(FraudRing))
    if rings:
        session.execute(insert(FraudRing), [
            {"key": numbers[r.claim_ids[0]], "claim_ids": r.claim_ids, "links": r.links, "size": len(r.claim_ids),
             "detected_at": now} for r in rings])
    return {"rings": len(rings), "claims": sum(len(r.claim_ids) for r in rings)}


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
    claim_numbers: list[str]       # the visible claims that carry it


@dataclass
class RingView:
    key: str
    size: int                      # all members, seen or not
    detected_at: dt.datetime
    claims: list[RingClaim]        # those the user may open
    links: list[RingLink] = field(default_factory=list)

    @property
    def open_claims(self) -> int:
        return sum(c.status != "closed" for c in self.claims)

    @property
    def claimed(self) -> float:
        return float(sum(c.claimed_amount or 0 for c in self.claims))

    @property
    def confirmed(self) -> int:
        return sum(bool(c.fraud_label) for c in self.claims)

    @property
    def link_summary(self) -> str:
        counts = Counter(k.field for k in self.links)
        return ", ".join(f"{FIELD_LABELS[f]}{f' ×{n}' if n > 1 else ''}" for f, n in counts.most_common())


def _claims(session: Session, ids: list[int]) -> dict[int, RingClaim]:
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


def _view(ring: FraudRing, claims: dict[int, RingClaim], user, *, with_links: bool) -> RingView | None:
    ids = [i for i in ring.claim_ids if i in claims and can_see_department(user, claims[i].department_id)]
    # Fewer than two claims the user may open tells them nothing about a ring.
    if len(ids) < 2:
        return None
    seen = [claims[i] for i in ids]
    seen.sort(key=lambda c: (c.report_date or dt.date.min, c.claim_number))
    view = RingView(ring.key, ring.size, ring.detected_at, seen)
    if with_links:
        show = sees_personal_data(user)
        numbers = {c.id: c.claim_number for c in seen}
        for link in ring.links:
            visible = [numbers[i] for i in link["claim_ids"] if i in numbers]
            if len(visible) < 2:
                continue
            f = link["field"]
            who = " / ".join(r.replace("_", " ") for r in link["roles"])
            value = link["value"] if show or f not in PERSONAL_PARTY_FIELDS else mask(f, link["value"])
            view.links.append(RingLink(f, f"{who}'s {FIELD_LABELS[f]}", value, visible))
        view.links.sort(key=lambda k: -len(k.claim_numbers))
    return view


def list_rings(session: Session, user) -> list[RingView]:
    """Every stored ring with two or more claims the user may open; largest, most open first."""
    rings = list(session.scalars(select(FraudRing)))
    ids = sorted({i for r in rings for i in r.claim_ids})
    claims = _claims(session, ids)
    views = [v for r in rings if (v := _view(r, claims, user, with_links=True)) is not None]
    views.sort(key=lambda v: (-v.open_claims, -len(v.claims), v.key))
    return views


def get_ring(session: Session, user, key) -> RingView | None:
    if not isinstance(key, str) or not key or len(key) > 60 or not key.isprintable():
        return None
    ring = session.scalar(select(FraudRing).where(FraudRing.key == key))
    if ring is None:
        return None
    return _view(ring, _claims(session, ring.claim_ids), user, with_links=True)


def ring_of_claim(session: Session, user, claim_id: int) -> RingView | None:
    ring = session.scalar(select(FraudRing).where(FraudRing.claim_ids.contains([claim_id])).limit(1))
    if ring is None:
        return None
    return _view(ring, _claims(session, ring.claim_ids), user, with_links=False)


def last_detected(session: Session) -> dt.datetime | None:
    return session.scalar(select(func.max(FraudRing.detected_at)))
