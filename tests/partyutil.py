"""Users and claims with parties, for the tests of identifier links (linked claims, rings)."""
from __future__ import annotations

import itertools

from sqlalchemy import select

from auth.current import SessionUser
from db.models import Claim, Dataset, Department, Party

_seq = itertools.count(1)


def next_tag() -> int:
    """A number not used before in this test run (identifiers must not meet other tests')."""
    return next(_seq)


def make_user(session, role: str, departments: tuple[str, ...] = ()) -> SessionUser:
    from services.users import create_user

    user = create_user(session, email=f"party{next(_seq)}-{role}@test.example", role=role,
                       password="pw-123456789", department_codes=list(departments))
    return SessionUser.from_model(user)


def make_claim(session, department: str = "AUTO_PD", status: str = "new", fraud: bool | None = None,
               parties=(), dataset: str = "partytest") -> Claim:
    """A claim with parties given as (role, {identifier field: value})."""
    if session.get(Dataset, dataset) is None:
        session.add(Dataset(name=dataset, feature_spec=[]))
        session.flush()
    dept = session.scalar(select(Department).where(Department.code == department))
    n = next(_seq)
    claim = Claim(claim_number=f"PTY-{n:06d}", dataset=dataset, source_key=str(n), status=status,
                  department_id=dept.id, fraud_label=fraud, claimed_amount=1000)
    session.add(claim)
    session.flush()
    for role, ids in parties:
        session.add(Party(claim_id=claim.id, role=role, name=f"P{n}", **ids))
    session.flush()
    return claim
