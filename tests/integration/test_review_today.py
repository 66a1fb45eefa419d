"""Review of today's changes: SIU returns, 'Referred to SIU', cron weekday numbers."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from db.models import Claim, ClaimEvent, Department
from services import siu_cases
from services import siu_case_views as views
from tests.siuutil import claim as _claim, user as _user

UTC = dt.timezone.utc


def _dept(s, code):
    return s.scalar(select(Department.id).where(Department.code == code))


def _state(s, c):
    return tuple(s.execute(select(Claim.department_id, Claim.adjuster_id, Claim.status).where(Claim.id == c.id)).one())


def test_send_back_skips_an_inactive_origin_and_never_moves_closed_claims(db_session):
    s = db_session
    siu, manager = _user(s, "adjuster", "SIU"), _user(s, "manager")
    c = _claim(s)
    s.add(ClaimEvent(claim_id=c.id, kind="moved", actor_id=manager.id, from_department_id=_dept(s, "PROPERTY"),
                     to_department_id=_dept(s, "SIU"), reason="SIU_REFERRAL"))
    closed = _claim(s, status="closed")
    s.execute(update(Department).where(Department.code == "PROPERTY").values(active=False))
    s.flush()
    case = siu_cases.open_case(s, siu, [c.claim_number, closed.claim_number])
    siu_cases.close_case(s, siu, case.key, case.version, "inconclusive", "Nothing either way.", send_back=True)
    # No routing decision and an inactive origin: Triage, for a person to route.
    assert _state(s, c) == (_dept(s, "TRIAGE"), None, "new")
    assert _state(s, closed) == (_dept(s, "SIU"), None, "closed")


def test_referred_counts_a_claim_moved_into_siu_twice_once(db_session):
    s = db_session
    manager = _user(s, "manager")
    c = _claim(s)
    at = dt.datetime(2031, 3, 10, 12, tzinfo=UTC)
    for hours, frm in ((0, "PROPERTY"), (2, "AUTO_PD")):
        s.add(ClaimEvent(claim_id=c.id, kind="moved", actor_id=manager.id, at=at + dt.timedelta(hours=hours),
                         from_department_id=_dept(s, frm), to_department_id=_dept(s, "SIU"), reason="SIU_REFERRAL"))
    s.flush()
    assert views.period_results(s, at.date(), at.date())["referred"] == 1


def test_cron_sunday_is_zero_or_seven():
    from jobs.scheduler import trigger_for

    for expr in ("0 3 * * 0", "0 3 * * 7", "0 3 * * sun"):
        t = trigger_for(expr).get_next_fire_time(None, dt.datetime(2031, 1, 1, tzinfo=UTC))
        assert t.strftime("%a") == "Sun", expr

