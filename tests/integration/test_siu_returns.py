"""Closing an SIU case with no fraud found sends its open claims back to a line department."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from db.models import AuditLog, Claim, ClaimEvent, Department, ModelVersion, RoutingDecision, SiuCaseEvent
from services import siu_cases
from services.siu_case_views import get_case
from tests.siuutil import claim as _claim, user as _user

_seq = itertools.count(1)


def _dept(s, code: str) -> int:
    return s.scalar(select(Department.id).where(Department.code == code))


def _moved_in(s, claim, from_code: str, manager, at: dt.datetime) -> None:
    """The claim's history: a person moved it into SIU from ``from_code``."""
    s.add(ClaimEvent(claim_id=claim.id, kind="moved", actor_id=manager.id, at=at, from_department_id=_dept(s, from_code),
                     to_department_id=_dept(s, "SIU"), reason="SIU_REFERRAL"))
    s.flush()


def _routed(s, claim, probabilities: dict) -> None:
    mv = ModelVersion(dataset=claim.dataset, version=f"return-{next(_seq)}-{claim.id}", status="candidate", params={},
                      feature_schema={}, classes=sorted(probabilities), metrics={}, n_train=0, n_holdout=0,
                      artifact=b"")
    s.add(mv)
    s.flush()
    top = max(probabilities, key=probabilities.get)
    s.add(RoutingDecision(claim_id=claim.id, model_version_id=mv.id, predicted_department_id=_dept(s, top),
                          routed_department_id=_dept(s, top), probabilities=probabilities,
                          confidence=probabilities[top], threshold=0.5, features={}, shap_values={},
                          shap_method="exact", drivers=[]))
    s.flush()


def _state(s, claim) -> tuple:
    row = s.execute(select(Claim.department_id, Claim.adjuster_id, Claim.status, Claim.version)
                    .where(Claim.id == claim.id)).one()
    return tuple(row)


@pytest.fixture()
def people(db_session):
    s = db_session
    return (_user(s, "adjuster", "SIU", name="Rita Returns"), _user(s, "manager", name="Moe Mover"))


def test_no_fraud_sends_each_open_claim_back_where_it_came_from(db_session, people):
    s = db_session
    siu, manager = people
    t0 = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
    referred = _claim(s)                       # moved in from Property (after an earlier move from Auto PD)
    _moved_in(s, referred, "AUTO_PD", manager, t0)
    _moved_in(s, referred, "PROPERTY", manager, t0 + dt.timedelta(days=3))
    routed = _claim(s)                         # the router sent it straight to SIU: its next best line
    _routed(s, routed, {"SIU": 0.6, "LIABILITY": 0.3, "AUTO_PD": 0.1})
    from_triage = _claim(s)                    # came from Triage and was never scored: back to Triage
    _moved_in(s, from_triage, "TRIAGE", manager, t0)
    done = _claim(s, status="closed")          # closed claims keep their final department
    assigned = _claim(s, status="assigned")
    assigned.adjuster_id = siu.id
    _moved_in(s, assigned, "WORKERS_COMP", manager, t0)
    case = siu_cases.open_case(s, siu, [c.claim_number for c in (referred, routed, from_triage, done, assigned)])
    versions = {c.id: _state(s, c)[3] for c in (referred, routed, from_triage, done, assigned)}
    closed_before = _state(s, done)

    siu_cases.close_case(s, siu, case.key, case.version, "no_fraud", "Loss verified; no fraud.", send_back=True)

    assert _state(s, referred)[:3] == (_dept(s, "PROPERTY"), None, "new")
    assert _state(s, routed)[:3] == (_dept(s, "LIABILITY"), None, "new")
    assert _state(s, from_triage)[:3] == (_dept(s, "TRIAGE"), None, "new")
    assert _state(s, assigned)[:3] == (_dept(s, "WORKERS_COMP"), None, "new")
    # A page that loaded a claim before is stale now (the finding and the move each count).
    assert all(_state(s, c)[3] > versions[c.id] for c in (referred, routed, from_triage, assigned))
    assert _state(s, done)[:3] == closed_before[:3]
    # Ordinary moves: in each claim's history (after the case's closing) and in the audit log.
    move = s.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == referred.id, ClaimEvent.reason == "SIU_CLEARED"))
    assert (move.kind, move.actor_id, move.from_department_id, move.to_department_id, move.to_status) == (
        "moved", siu.id, _dept(s, "SIU"), _dept(s, "PROPERTY"), "new")
    assert move.note == f"SIU case {case.key} closed: no fraud found."
    kinds = s.scalars(select(ClaimEvent.kind).where(ClaimEvent.claim_id == referred.id)
                      .order_by(ClaimEvent.at, ClaimEvent.id)).all()
    assert kinds[-2:] == ["siu_case", "moved"]
    logs = s.scalars(select(AuditLog).where(AuditLog.action == "claim.reassign",
                                            AuditLog.target_id == str(assigned.id))).all()
    assert [(log.before["adjuster_id"], log.after["reason"], log.after["version"]) for log in logs] == [
        (siu.id, "SIU_CLEARED", _state(s, assigned)[3])]
    # The case records which went back, and its page says so.
    event = s.scalar(select(SiuCaseEvent).where(SiuCaseEvent.case_id == case.id, SiuCaseEvent.kind == "closed"))
    assert event.data["sent_back"] == sorted(c.claim_number for c in (referred, routed, from_triage, assigned))
    view = get_case(s, siu, case.key)
    closing = next(e for e in view.events if e.kind == "closed")
    assert "4 open claims sent back to their departments" in closing.detail and referred.claim_number in closing.detail
    # Still in the case (now in line queues), whoever opens it.
    assert {c.claim_number for c in view.claims} >= {referred.claim_number, routed.claim_number}
    # The closed case does not ask the investigator to close claims that went back, nor link
    # to claims in departments they do not work (the link opened "Claim not found").
    from components.siu_cases import _open_claims_note, claims_table

    note = str(_open_claims_note(view))
    assert "still open in Special Investigations" not in note and "4 were sent back to" in note
    assert "Property" in note and "their departments decide them" in note
    table = str(claims_table(view, "USD", can_edit=False))
    assert f"/claims/{referred.claim_number}" not in table and referred.claim_number in table
    assert not any(c.may_open for c in view.claims if not c.in_siu)


@pytest.mark.parametrize("outcome", ["confirmed_fraud", "no_fraud", "inconclusive"])
def test_claims_stay_in_siu_unless_asked_and_never_when_fraud_is_confirmed(db_session, people, outcome):
    s = db_session
    siu, manager = people
    claim = _claim(s)
    _moved_in(s, claim, "AUTO_PD", manager, dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc))
    case = siu_cases.open_case(s, siu, [claim.claim_number])
    asked = outcome != "no_fraud"   # no fraud without the box ticked: stays too
    siu_cases.close_case(s, siu, case.key, case.version, outcome, "Done.", send_back=asked)
    expected = "AUTO_PD" if outcome == "inconclusive" else "SIU"
    assert _state(s, claim)[0] == _dept(s, expected)


def test_send_back_must_be_a_yes_or_no(db_session, people):
    s = db_session
    siu, _ = people
    claim = _claim(s)
    case = siu_cases.open_case(s, siu, [claim.claim_number])
    for tampered in ("yes", 1, ["back"], None):
        with pytest.raises(siu_cases.CaseError, match="go back to their departments"):
            siu_cases.close_case(s, siu, case.key, case.version, "no_fraud", "Done.", send_back=tampered)
    assert _state(s, claim)[0] == _dept(s, "SIU")


def test_confirmed_fraud_after_a_reopening_brings_the_claims_back_into_siu(db_session, people):
    s = db_session
    siu, manager = people
    claim = _claim(s)
    _moved_in(s, claim, "AUTO_PD", manager, dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc))
    case = siu_cases.open_case(s, siu, [claim.claim_number])
    siu_cases.close_case(s, siu, case.key, case.version, "no_fraud", "Looked fine.", send_back=True)
    assert _state(s, claim)[0] == _dept(s, "AUTO_PD")
    reopened = siu_cases.reopen_case(s, manager, case.key, 2, "The bank account matches a known ring.")
    assert _state(s, claim)[0] == _dept(s, "AUTO_PD")   # reopening moves nothing
    siu_cases.close_case(s, siu, case.key, reopened.version, "confirmed_fraud", "Ring confirmed.", send_back=True)
    # Found fraudulent: denied by Special Investigations, not paid in a line queue.
    assert _state(s, claim)[:3] == (_dept(s, "SIU"), None, "new")
    move = s.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id, ClaimEvent.kind == "moved")
                     .order_by(ClaimEvent.id)).all()[-1]
    assert (move.from_department_id, move.to_department_id, move.reason) == (
        _dept(s, "AUTO_PD"), _dept(s, "SIU"), "SIU_REFERRAL")
    closing = next(e for e in get_case(s, siu, case.key).events
                   if e.kind == "closed" and e.detail.startswith("Confirmed fraud"))
    assert "1 open claim brought back into the Special Investigations queue" in closing.detail


def test_siu_declines_a_referral_and_the_claim_goes_back_with_the_reason(db_session, people):
    s = db_session
    siu, manager = people
    claim = _claim(s)
    _moved_in(s, claim, "PROPERTY", manager, dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc))
    version = _state(s, claim)[3]
    name = siu_cases.send_back_claim(s, siu, claim.id, version, "Hail damage, photos consistent: not for SIU.")
    assert name == s.scalar(select(Department.name).where(Department.code == "PROPERTY"))
    assert _state(s, claim)[:3] == (_dept(s, "PROPERTY"), None, "new")
    move = s.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id, ClaimEvent.reason == "SIU_CLEARED"))
    assert move.note == "Sent back by Special Investigations: Hail damage, photos consistent: not for SIU."
    assert move.actor_id == siu.id


def test_a_referral_cannot_be_declined_out_of_turn(db_session, people):
    s = db_session
    siu, manager = people
    outsider = _user(s, "adjuster", "AUTO_PD", name="Otto Outside")
    in_case, closed, elsewhere, plain = _claim(s), _claim(s, status="closed"), _claim(s, department="AUTO_PD"), \
        _claim(s)
    case = siu_cases.open_case(s, siu, [in_case.claim_number])
    checks = [
        (outsider, plain.id, "x", siu_cases.AccessDenied),
        (siu, in_case.id, "x", siu_cases.CaseError),
        (siu, closed.id, "x", siu_cases.CaseError),
        (siu, elsewhere.id, "x", siu_cases.NotFound),
        (siu, plain.id, "   ", siu_cases.CaseError),
        (siu, plain.id, None, siu_cases.CaseError),
        (siu, 2**62, "x", siu_cases.NotFound),
        (siu, "1", "x", siu_cases.NotFound),
        (siu, True, "x", siu_cases.NotFound),
    ]
    before = {c.id: _state(s, c) for c in (in_case, closed, elsewhere, plain)}
    for who, claim_id, reason, error in checks:
        version = _state(s, plain)[3] if claim_id == plain.id else 1
        with pytest.raises(error):
            siu_cases.send_back_claim(s, who, claim_id, version, reason)
    with pytest.raises(siu_cases.CaseConflict):
        siu_cases.send_back_claim(s, siu, plain.id, _state(s, plain)[3] - 1, "stale page")
    with pytest.raises(siu_cases.CaseError, match=f"in case {case.key}"):
        siu_cases.send_back_claim(s, siu, in_case.id, _state(s, in_case)[3], "x")
    assert {c.id: _state(s, c) for c in (in_case, closed, elsewhere, plain)} == before


def test_a_closed_case_shows_a_sent_back_claim_as_it_left_not_as_it_is_now(db_session, people):
    """A closed case is the record of what was investigated: a claim sent back stays listed,
    as "sent back to <department> on <date>". Its life since (status, adjuster, a later move)
    is that department's: an SIU adjuster does not read it; a manager does."""
    from components.siu_cases import case_claims, case_summary

    s = db_session
    siu, manager = people
    line = _user(s, "adjuster", "AUTO_PD", name="Otto Elsewhere")
    kept, back = _claim(s), _claim(s)
    _moved_in(s, back, "PROPERTY", manager, dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc))
    case = siu_cases.open_case(s, siu, [kept.claim_number, back.claim_number])
    siu_cases.close_case(s, siu, case.key, case.version, "no_fraud", "Loss verified.", send_back=True)
    sent_at = s.scalar(select(ClaimEvent.at).where(ClaimEvent.claim_id == back.id, ClaimEvent.reason == "SIU_CLEARED"))
    # Since then its department moved it on and assigned it.
    s.add(ClaimEvent(claim_id=back.id, kind="moved", actor_id=manager.id, from_department_id=_dept(s, "PROPERTY"),
                     to_department_id=_dept(s, "AUTO_PD"), reason="WRONG_LINE"))
    s.execute(Claim.__table__.update().where(Claim.__table__.c.id == back.id)
              .values(department_id=_dept(s, "AUTO_PD"), adjuster_id=line.id, status="assigned"))
    s.flush()
    property_name = s.scalar(select(Department.name).where(Department.code == "PROPERTY"))
    auto_name = s.scalar(select(Department.name).where(Department.code == "AUTO_PD"))

    seen = {c.claim_number: c for c in get_case(s, siu, case.key).claims}[back.claim_number]
    assert (seen.status, seen.adjuster, seen.department, seen.left_to, seen.sent_back, seen.may_open) == (
        None, None, property_name, property_name, True, False)
    assert seen.left_at == sent_at
    view = get_case(s, siu, case.key)
    table = str(case_claims(view, "USD", can_edit=False))
    assert "Sent back to " in table and f"on {sent_at:%Y-%m-%d}" in table and property_name in table
    assert "Otto Elsewhere" not in table and auto_name not in table and "Assigned" not in table
    assert "left the Special Investigations queue" in table
    # Its status there is not SIU's to count: open claims are those still in the SIU queue.
    stats = str(case_summary(view, "USD"))
    assert view.summary.open_claims == 0 and "2 sent back" in stats

    mine = {c.claim_number: c for c in get_case(s, manager, case.key).claims}[back.claim_number]
    assert (mine.status, mine.adjuster, mine.department, mine.left_to, mine.may_open) == (
        "assigned", "Otto Elsewhere", auto_name, property_name, True)
    table = str(case_claims(get_case(s, manager, case.key), "USD", can_edit=False))
    assert "Sent back to " in table and "now in " in table and auto_name in table


def test_a_claim_moved_out_of_an_open_case_says_who_moved_it(db_session, people):
    s = db_session
    siu, manager = people
    a, b = _claim(s), _claim(s)
    case = siu_cases.open_case(s, siu, [a.claim_number, b.claim_number])
    s.add(ClaimEvent(claim_id=b.id, kind="moved", actor_id=manager.id, from_department_id=_dept(s, "SIU"),
                     to_department_id=_dept(s, "LIABILITY"), reason="WRONG_LINE"))
    s.execute(Claim.__table__.update().where(Claim.__table__.c.id == b.id).values(department_id=_dept(s, "LIABILITY")))
    s.flush()
    row = {c.claim_number: c for c in get_case(s, siu, case.key).claims}[b.claim_number]
    assert (row.sent_back, row.status, row.left_to) == (
        False, None, s.scalar(select(Department.name).where(Department.code == "LIABILITY")))
    from components.siu_cases import claims_table

    assert "Moved to " in str(claims_table(get_case(s, siu, case.key), "USD", can_edit=True))
