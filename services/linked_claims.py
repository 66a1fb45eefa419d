"""Other claims that share a party identifier with this one (phone, email,
address, bank account, plate, VIN, provider id): a repeat claimant, a bank
account paid on several claims, the same car in two accidents.

Identifiers are stored normalised (services.parties), so equality in SQL is
the link, and each lookup is one partial-index probe. An identifier on more
than ``HUB_LIMIT`` other claims (``BUSINESS_HUB_LIMIT`` when only businesses
carry it here) is a hub: the phone of a body shop or a clinic links hundreds of
honest claims, so it is named as common, not listed.

Only claims the user may open are listed. Of other departments' claims an
adjuster learns how many are linked and how many of those were found
fraudulent (the fraud alert says as much: whoever works the claim needs to
know), never which; and that a hub is common: it is judged on all claims (a
clinic's few claims in one department would otherwise be listed), and it says
neither how many nor which.
Values are masked for roles without personal-data access (services.privacy).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Claim, Department, Party
from services.access import can_see_department
from services.parties import BUSINESS_ROLES, FIELD_LABELS, ID_FIELDS
from services.privacy import PERSONAL_PARTY_FIELDS, mask, sees_personal_data

HUB_LIMIT = 25          # more claims than this on one person's identifier: not listed
# A business (body shop, clinic) is on many honest claims by trade: past a handful,
# sharing one says nothing. A ring's own shop is usually on few claims besides the ring's.
BUSINESS_HUB_LIMIT = 10
MAX_IDENTIFIERS = 60    # a claim with hundreds of parties (a mass event) is probed on its first 60


@dataclass
class Shared:
    field: str                  # "bank account"
    who: str                    # "claimant / repair shop": its parties on this claim
    label: str                  # "claimant's bank account"
    value: str                  # masked unless the user may see personal data
    business: bool = False      # only business parties (shop, clinic) carry it on this claim


@dataclass
class LinkedClaim:
    claim_number: str
    status: str
    department: str | None
    color: str | None
    report_date: dt.date | None
    fraud_label: bool | None    # only for closed claims (a finding), else None
    shared: list[Shared] = field(default_factory=list)


@dataclass
class Links:
    claims: list[LinkedClaim] = field(default_factory=list)  # most identifiers shared first
    hubs: list[Shared] = field(default_factory=list)  # on too many claims to mean anything: not listed
    elsewhere: int = 0              # linked claims in departments the user may not open: counted only
    elsewhere_fraudulent: int = 0   # of those, closed with a fraud finding


def _identifiers(parties: list[Party]) -> list[tuple[str, str, list[str]]]:
    """(field, value, roles on this claim) per distinct identifier, in ID_FIELDS order."""
    seen: dict[tuple[str, str], list[str]] = {}
    for f in ID_FIELDS:
        for p in parties:
            value = getattr(p, f)
            if value:
                roles = seen.setdefault((f, value), [])
                if p.role not in roles:
                    roles.append(p.role)
    return [(f, v, roles) for (f, v), roles in list(seen.items())[:MAX_IDENTIFIERS]]


def linked_claims(session: Session, user, claim: Claim) -> Links:
    """Claims the user may open that share an identifier with this claim's parties,
    each with what it shares; identifiers on more than HUB_LIMIT claims as hubs."""
    parties = list(session.scalars(select(Party).where(Party.claim_id == claim.id).order_by(Party.id)))
    show = sees_personal_data(user)
    shared_by: dict[int, list[Shared]] = {}
    hidden: set[int] = set()
    out = Links()
    for f, value, roles in _identifiers(parties):
        column = getattr(Party, f)
        # No DISTINCT: it would read a hub's every row before the LIMIT applies.
        ids = list(dict.fromkeys(session.scalars(
            select(Party.claim_id).where(column == value, Party.claim_id != claim.id).limit(HUB_LIMIT * 20))))
        if not ids:
            continue
        business = set(roles) <= BUSINESS_ROLES
        who = " / ".join(r.replace("_", " ") for r in roles)
        shared = Shared(FIELD_LABELS[f], who, f"{who}'s {FIELD_LABELS[f]}",
                        value if show or f not in PERSONAL_PARTY_FIELDS else mask(f, value), business)
        # A hub by its size among all claims, not only those this user sees: an adjuster
        # of one department would otherwise get a clinic's few visible claims listed.
        # Shown: that it is on more than the limit's claims, not how many, nor which.
        if len(ids) > (BUSINESS_HUB_LIMIT if business else HUB_LIMIT):
            out.hubs.append(shared)
            continue
        visible = _visible(session, user, ids)
        for claim_id in visible:
            shared_by.setdefault(claim_id, []).append(shared)
        hidden.update(set(ids) - set(visible))
    if hidden:
        out.elsewhere = len(hidden)
        out.elsewhere_fraudulent = session.scalar(
            select(func.count()).select_from(Claim).where(Claim.id.in_(hidden), Claim.status == "closed",
                                                          Claim.fraud_label.is_(True)))
    if shared_by:
        departments = {d.id: d for d in session.scalars(select(Department))}
        rows = session.execute(
            select(Claim.id, Claim.claim_number, Claim.status, Claim.department_id, Claim.report_date,
                   Claim.fraud_label).where(Claim.id.in_(list(shared_by)))).all()
        for r in rows:
            dept = departments.get(r.department_id)
            out.claims.append(LinkedClaim(
                r.claim_number, r.status, dept.name if dept else None, dept.color if dept else None,
                r.report_date,
                # A finding belongs to a closed file; on an open one the flag is not an
                # outcome yet (the demo's generator even knows it from the start).
                r.fraud_label if r.status == "closed" else None,
                shared_by[r.id]))
        # Links through people first: a shared claimant's phone means more than a shared shop.
        out.claims.sort(key=lambda c: (-sum(not s.business for s in c.shared), -len(c.shared),
                                       -(c.report_date.toordinal() if c.report_date else 0),
                                       c.claim_number))
    return out


def _visible(session: Session, user, ids: list[int]) -> list[int]:
    rows = session.execute(select(Claim.id, Claim.department_id).where(Claim.id.in_(ids))).all()
    return [r.id for r in rows if can_see_department(user, r.department_id)]
