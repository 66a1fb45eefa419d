"""Building blocks of the SIU case tests (services.siu_cases) on a rolled-back session."""
from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import delete, select, update

from auth.current import SessionUser
from db.models import Claim, Department, FraudRing, SiuCase, User, user_departments
from tests.partyutil import make_claim

_seq = itertools.count(1)


def user(session, role: str, *departments: str, name: str | None = None) -> SessionUser:
    from services.users import create_user

    n = next(_seq)
    made = create_user(session, email=f"siucase{n}-{role}@test.example", role=role, password="pw-123456789",
                       name=name or f"Siu {role.title()} {n}", department_codes=list(departments))
    session.flush()
    return SessionUser.from_model(made)


def claim(session, department: str = "SIU", status: str = "new", fraud: bool | None = None,
          amount: int | None = 1000, report: dt.date | None = None, closed_at: dt.datetime | None = None) -> Claim:
    made = make_claim(session, department=department, status=status, fraud=fraud)
    made.claimed_amount = amount
    made.report_date = report
    made.closed_at = closed_at
    session.flush()
    return made


def label(session, of: Claim) -> bool | None:
    return session.scalar(select(Claim.fraud_label).where(Claim.id == of.id).execution_options(populate_existing=True))


def no_other_cases(session) -> None:
    """Within this test's transaction (rolled back): no case other tests committed."""
    session.execute(delete(SiuCase))
    session.flush()


def small_siu(session) -> int:
    """This transaction's SIU: no other tests' SIU claims, rings, cases or SIU adjusters (rolled
    back); returns the SIU department's id."""
    siu = session.scalar(select(Department.id).where(Department.code == "SIU"))
    other = session.scalar(select(Department.id).where(Department.code == "AUTO_PD"))
    no_other_cases(session)
    session.execute(delete(FraudRing))
    session.execute(update(Claim).where(Claim.department_id == siu).values(department_id=other)
                    .execution_options(synchronize_session=False))
    session.execute(update(User).where(User.id.in_(select(user_departments.c.user_id)
                                                   .where(user_departments.c.department_id == siu)))
                    .values(is_active=False))
    session.flush()
    return siu


def ring(session, key: str, claims) -> None:
    session.add(FraudRing(key=key, claim_ids=[c.id for c in claims], department_ids=[c.department_id for c in claims],
                          links=[], size=len(claims), open_claims=0, confirmed=0, claimed_sum=0,
                          detected_at=dt.datetime.now(dt.timezone.utc)))
    session.flush()
