"""SIU cases against the real database: who may work them, opening a case on
claims in the SIU queue, adding and removing claims, the lead, closing with a
finding recorded on the claims, reopening, the reads (list, one case, a claim's
case, totals, intake), tampered inputs, and the demo cases."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from db.models import (AuditLog, Claim, ClaimEvent, Department, SiuCase, SiuCaseClaim, SiuCaseEvent,
                       User)
from services import demo_cases, siu_case_views as views, siu_cases
from services.access import AccessDenied, NotFound
from services.siu_cases import CaseConflict, CaseError
from tests.siuutil import claim as _claim, label as _label, no_other_cases as _no_other_cases, ring as _ring, \
    small_siu as _small_siu, user as _user

ALLOWED = (CaseError, NotFound, AccessDenied)   # CaseConflict is a CaseError
KEY = re.compile(r"C-\d{6,12}")
UTC = dt.timezone.utc


# --- Helpers -------------------------------------------------------------------------


def _case(session, key: str) -> SiuCase:
    return session.scalar(select(SiuCase).where(SiuCase.key == key).execution_options(populate_existing=True))


def _claim_events(session, claim: Claim) -> list[ClaimEvent]:
    return list(session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id,
                                                         ClaimEvent.kind == "siu_case").order_by(ClaimEvent.id)))


def _case_events(session, case: SiuCase) -> list[SiuCaseEvent]:
    return list(session.scalars(select(SiuCaseEvent).where(SiuCaseEvent.case_id == case.id)
                                .order_by(SiuCaseEvent.id)))


def _counts(session) -> tuple[int, ...]:
    """How many cases, links, case events, claim events and audit rows there are."""
    return tuple(session.scalar(select(func.count()).select_from(t)) for t in
                 (SiuCase, SiuCaseClaim, SiuCaseEvent, ClaimEvent, AuditLog))


@pytest.fixture()
def team(db_session):
    s = db_session
    return SimpleNamespace(
        siu=_user(s, "adjuster", "SIU", name="Sam Sleuth"),
        siu2=_user(s, "adjuster", "SIU", name="Tess Tracer"),
        siu_manager=_user(s, "manager", "SIU", name="Mona Manager"),
        manager=_user(s, "manager", name="Max Manager"),
        admin=_user(s, "admin", name="Ada Admin"),
        auto=_user(s, "adjuster", "AUTO_PD", name="Otto Auto"),
        viewer=_user(s, "viewer", name="Vera Viewer"),
        siu_id=s.scalar(select(Department.id).where(Department.code == "SIU")),
    )


# --- Who -----------------------------------------------------------------------------


def test_who_may_work_cases_and_who_sees_the_tab(db_session, team):
    s = db_session
    assert siu_cases.may_work(s, team.manager) and siu_cases.may_work(s, team.admin)
    assert siu_cases.may_work(s, team.siu) and siu_cases.may_work(s, team.siu_manager)
    assert not siu_cases.may_work(s, team.auto)
    assert not siu_cases.may_work(s, team.viewer)
    assert not siu_cases.may_work(s, None)
    siu_viewer = _user(s, "viewer", "SIU")
    assert not siu_cases.may_work(s, siu_viewer)       # the department alone is not enough
    assert siu_cases.sees_cases_tab(s, team.viewer)    # the totals
    assert siu_cases.sees_cases_tab(s, team.siu) and siu_cases.sees_cases_tab(s, team.manager)
    assert not siu_cases.sees_cases_tab(s, team.auto)
    assert not siu_cases.sees_cases_tab(s, None)


def test_lead_choices_are_the_active_adjusters_and_managers_of_siu(db_session, team):
    s = db_session
    gone = _user(s, "adjuster", "SIU")
    s.execute(update(User).where(User.id == gone.id).values(is_active=False))
    siu_admin, siu_viewer = _user(s, "admin", "SIU"), _user(s, "viewer", "SIU")
    choices = dict(siu_cases.lead_choices(s))
    assert {team.siu.id, team.siu2.id, team.siu_manager.id} <= set(choices)
    assert choices[team.siu.id] == "Sam Sleuth"
    for outsider in (gone, siu_admin, siu_viewer, team.manager, team.admin, team.auto, team.viewer):
        assert outsider.id not in choices


def test_an_adjuster_outside_siu_and_a_viewer_can_neither_write_nor_read_cases(db_session, team):
    s = db_session
    a, b, foreign = _claim(s), _claim(s), _claim(s, "AUTO_PD")
    case = siu_cases.open_case(s, team.siu, [a.claim_number, b.claim_number])
    key, version = case.key, case.version
    before = _counts(s)
    for user in (team.auto, team.viewer):
        writes = [
            (siu_cases.open_case, [b.claim_number]),
            (siu_cases.open_case, [foreign.claim_number]),
            (siu_cases.add_claims, key, [foreign.claim_number]),
            (siu_cases.remove_claim, key, b.claim_number),
            (siu_cases.add_note, key, "peeking"),
            (siu_cases.set_lead, key, version, team.siu2.id),
            (siu_cases.close_case, key, version, "no_fraud", "nothing", None),
            (siu_cases.reopen_case, key, version, "again"),
        ]
        for write, *args in writes:
            with pytest.raises(AccessDenied):
                write(s, user, *args)
        assert views.get_case(s, user, key) is None
        assert views.list_cases(s, user) == ([], 0)
        assert views.list_cases(s, user, status="closed") == ([], 0)
        assert views.case_of_claim(s, user, a.id) is None
        assert not views.can_start_case(s, user, a)
    assert _counts(s) == before
    assert _case(s, key).version == version and _case(s, key).lead_id == team.siu.id


# --- Opening -------------------------------------------------------------------------


def test_an_siu_adjuster_opens_a_case_and_leads_it(db_session, team):
    s = db_session
    a, b = _claim(s), _claim(s, status="assigned")
    case = siu_cases.open_case(s, team.siu, [a.claim_number, b.id], note="  Shared bank account.  ")
    assert KEY.fullmatch(case.key)
    case = _case(s, case.key)
    assert case.status == "open" and case.outcome is None and case.version == 1
    assert case.lead_id == team.siu.id and case.opened_by == team.siu.id
    assert case.title == f"{a.claim_number} and 1 more"
    assert set(s.scalars(select(SiuCaseClaim.claim_id).where(SiuCaseClaim.case_id == case.id))) == {a.id, b.id}
    [opened] = _case_events(s, case)
    assert opened.kind == "opened" and opened.note == "Shared bank account."
    assert opened.data == {"claims": [a.claim_number, b.claim_number]}
    for c in (a, b):
        [ev] = _claim_events(s, c)
        assert ev.note == f"Added to SIU case {case.key}." and ev.data == {"case": case.key}
        assert ev.actor_id == team.siu.id
    [log] = s.scalars(select(AuditLog).where(AuditLog.target_type == "siu_case", AuditLog.target_id == case.key))
    assert log.action == "siu_case.open" and log.actor_id == team.siu.id
    assert log.after["claims"] == [a.claim_number, b.claim_number] and log.after["lead_id"] == team.siu.id
    # Keys come from a sequence: the next case has another, larger one.
    other = siu_cases.open_case(s, team.siu, [_claim(s).claim_number], title="A title")
    assert other.title == "A title" and int(other.key[2:]) > int(case.key[2:])


def test_a_manager_outside_siu_opens_a_case_without_a_lead(db_session, team):
    s = db_session
    a = _claim(s)
    case = siu_cases.open_case(s, team.manager, [a.id], ring_key="R-000777")
    assert case.lead_id is None and case.ring_key == "R-000777" and case.title == "Possible ring R-000777"
    assert _case_events(s, case)[0].data == {"claims": [a.claim_number], "ring": "R-000777"}
    # A manager of SIU leads what they open.
    assert siu_cases.open_case(s, team.siu_manager, [_claim(s).id]).lead_id == team.siu_manager.id


def test_a_manager_is_told_a_claim_is_not_in_the_siu_queue(db_session, team):
    s = db_session
    siu_claim, foreign = _claim(s), _claim(s, "AUTO_PD")
    before = _counts(s)
    with pytest.raises(CaseError, match="^Not in the Special Investigations queue: " + foreign.claim_number):
        siu_cases.open_case(s, team.manager, [siu_claim.claim_number, foreign.claim_number])
    assert _counts(s) == before


def test_an_siu_adjuster_learns_nothing_of_another_departments_claim(db_session, team):
    s = db_session
    siu_claim, foreign = _claim(s), _claim(s, "AUTO_PD")
    with pytest.raises(CaseError) as unknown:
        siu_cases.open_case(s, team.siu, ["NO-SUCH-CLAIM-1"])
    with pytest.raises(CaseError) as other:
        siu_cases.open_case(s, team.siu, [siu_claim.claim_number, foreign.claim_number])
    assert str(unknown.value) == "No claim NO-SUCH-CLAIM-1 in the Special Investigations queue."
    assert str(other.value) == str(unknown.value).replace("NO-SUCH-CLAIM-1", foreign.claim_number)
    assert "Refer" not in str(other.value)
    with pytest.raises(CaseError) as several:
        siu_cases.open_case(s, team.siu, ["NO-SUCH-CLAIM-1", foreign.claim_number])
    assert str(several.value) == f"No claims NO-SUCH-CLAIM-1, {foreign.claim_number} in the Special Investigations queue."
    assert s.scalar(select(func.count()).select_from(SiuCaseClaim).where(SiuCaseClaim.claim_id == siu_claim.id)) == 0


def test_an_siu_adjuster_learns_nothing_of_another_departments_claim_by_id(db_session, team):
    s = db_session
    foreign = _claim(s, "AUTO_PD")
    unknown_id = foreign.id + 10**9
    with pytest.raises(CaseError) as unknown:
        siu_cases.open_case(s, team.siu, [unknown_id])
    with pytest.raises(CaseError) as other:
        siu_cases.open_case(s, team.siu, [foreign.id])
    assert str(other.value) == str(unknown.value).replace(str(unknown_id), str(foreign.id))


def test_a_claim_is_in_one_case_at_most(db_session, team):
    s = db_session
    a, b = _claim(s), _claim(s)
    first = siu_cases.open_case(s, team.siu, [a.claim_number])
    before = _counts(s)
    with pytest.raises(CaseError, match=re.escape(f"Already in a case: {a.claim_number} ({first.key})")):
        siu_cases.open_case(s, team.manager, [b.claim_number, a.claim_number])
    assert _counts(s) == before
    assert _claim_events(s, b) == []
    second = siu_cases.open_case(s, team.siu, [b.claim_number])
    with pytest.raises(CaseError, match="Already in a case"):
        siu_cases.add_claims(s, team.siu, second.key, [a.id])
    with pytest.raises(CaseError, match="Already in a case"):
        siu_cases.add_claims(s, team.siu, first.key, [a.claim_number])   # already in this one, too
    assert views.case_of_claim(s, team.siu, a.id).key == first.key
    # Closed, the case keeps the claim; the refusal says how to investigate it again.
    siu_cases.close_case(s, team.siu, first.key, first.version, "inconclusive", "Could not tell.")
    with pytest.raises(CaseError, match=re.escape(f"a manager reopens {first.key}.")):
        siu_cases.add_claims(s, team.siu, second.key, [a.id])


# --- Claims of a case ----------------------------------------------------------------


def test_claims_are_added_and_removed_while_the_case_is_open(db_session, team):
    s = db_session
    a, b, c = _claim(s), _claim(s), _claim(s)
    case = siu_cases.open_case(s, team.siu, [a.claim_number])
    key = case.key
    assert siu_cases.add_claims(s, team.siu2, key.lower(), [b.claim_number, c.id]) == [b.claim_number, c.claim_number]
    case = _case(s, key)
    assert case.version == 2
    assert _case_events(s, case)[-1].kind == "claim_added"
    assert _claim_events(s, b)[0].note == f"Added to SIU case {key}."
    assert siu_cases.remove_claim(s, team.siu, key, b.claim_number) == b.claim_number
    assert _case(s, key).version == 3
    assert _claim_events(s, b)[-1].note == f"Removed from SIU case {key}."
    assert views.case_of_claim(s, team.siu, b.id) is None
    with pytest.raises(CaseError, match="is not in case"):
        siu_cases.remove_claim(s, team.siu, key, b.claim_number)
    siu_cases.remove_claim(s, team.siu, key, c.claim_number)
    with pytest.raises(CaseError, match="at least one claim"):
        siu_cases.remove_claim(s, team.siu, key, a.claim_number)
    assert _case(s, key).version == 4
    actions = list(s.scalars(select(AuditLog.action).where(AuditLog.target_id == key).order_by(AuditLog.id)))
    assert actions == ["siu_case.open", "siu_case.add_claims", "siu_case.remove_claim", "siu_case.remove_claim"]


def test_a_closed_case_takes_no_claims_and_gives_none_back(db_session, team):
    s = db_session
    a, b, c = _claim(s), _claim(s), _claim(s)
    case = siu_cases.open_case(s, team.siu, [a.claim_number, b.claim_number])
    siu_cases.close_case(s, team.siu, case.key, case.version, "inconclusive", "Could not tell.")
    before = _counts(s)
    with pytest.raises(CaseError, match="closed"):
        siu_cases.add_claims(s, team.siu, case.key, [c.claim_number])
    with pytest.raises(CaseError, match="closed"):
        siu_cases.remove_claim(s, team.siu, case.key, b.claim_number)
    with pytest.raises(CaseError, match="closed"):
        siu_cases.set_lead(s, team.siu, case.key, _case(s, case.key).version, team.siu2.id)
    assert _counts(s) == before


# --- Lead ----------------------------------------------------------------------------


def test_the_lead_is_a_member_of_siu_and_the_version_guards_it(db_session, team):
    s = db_session
    case = siu_cases.open_case(s, team.manager, [_claim(s).claim_number])
    key = case.key
    for bad in (team.manager.id, team.admin.id, team.auto.id, team.viewer.id, True, "x", 10**12):
        with pytest.raises(CaseError, match="Choose a member"):
            siu_cases.set_lead(s, team.manager, key, 1, bad)
    with pytest.raises(CaseError, match="already"):
        siu_cases.set_lead(s, team.manager, key, 1, None)
    siu_cases.set_lead(s, team.manager, key, 1, team.siu.id)
    case = _case(s, key)
    assert case.lead_id == team.siu.id and case.version == 2
    with pytest.raises(CaseConflict):
        siu_cases.set_lead(s, team.manager, key, 1, team.siu2.id)
    assert _case(s, key).lead_id == team.siu.id
    siu_cases.set_lead(s, team.siu, key, 2, team.siu2.id)
    siu_cases.set_lead(s, team.siu2, key, 3, None)
    case = _case(s, key)
    assert case.lead_id is None and case.version == 4
    leads = [e.detail for e in views.get_case(s, team.manager, key).events if e.kind == "lead"]
    assert leads == ["Tess Tracer → nobody", "Sam Sleuth → Tess Tracer", "nobody → Sam Sleuth"]
    audit = s.scalars(select(AuditLog).where(AuditLog.target_id == key, AuditLog.action == "siu_case.lead")
                      .order_by(AuditLog.id)).all()
    assert [(a.before, a.after) for a in audit][0] == ({"lead_id": None}, {"lead_id": team.siu.id})


@pytest.mark.parametrize("lead", [[1], {"id": 1}])
def test_a_tampered_lead_is_refused(db_session, team, lead):
    s = db_session
    case = siu_cases.open_case(s, team.manager, [_claim(s).claim_number])
    with pytest.raises(ALLOWED):
        siu_cases.set_lead(s, team.manager, case.key, case.version, lead)


# --- Closing -------------------------------------------------------------------------


def _open(s, user, *claims) -> SiuCase:
    return siu_cases.open_case(s, user, [c.claim_number for c in claims])


def test_closing_needs_an_outcome_and_findings(db_session, team):
    s = db_session
    case = _open(s, team.siu, _claim(s))
    before = _counts(s)
    for outcome in (None, "", "fraud", "CONFIRMED_FRAUD", 1, ["no_fraud"]):
        with pytest.raises(CaseError, match="outcome"):
            siu_cases.close_case(s, team.siu, case.key, 1, outcome, "Findings.")
    for findings in (None, "", "   ", 5, "x" * 5001, "bad\x00byte"):
        with pytest.raises(CaseError, match="findings"):
            siu_cases.close_case(s, team.siu, case.key, 1, "no_fraud", findings)
    assert _counts(s) == before and _case(s, case.key).status == "open"


@pytest.mark.parametrize("saved, stored", [
    ("1,234.50", Decimal("1234.50")), (" 12 ", Decimal("12.00")), (0, Decimal("0.00")), (12.5, Decimal("12.50")),
    (Decimal("99.999"), Decimal("100.00")), ("999999999999.99", Decimal("999999999999.99")), (None, None),
    ("", None), ("  ", None),
])
def test_the_amount_saved_is_parsed(db_session, team, saved, stored):
    s = db_session
    case = _open(s, team.siu, _claim(s))
    siu_cases.close_case(s, team.siu, case.key, 1, "confirmed_fraud", "Found it.", saved)
    assert _case(s, case.key).saved_amount == stored


@pytest.mark.parametrize("saved", [
    "-1", "-0.01", "abc", "NaN", "nan", "sNaN", "Infinity", "-inf", "1e13", "1e12", "1000000000000", True, False,
    float("nan"), float("inf"), -5, [], {"a": 1}, "12.5.3", "1" * 200,
    "999999999999.999",
])
def test_a_bad_amount_saved_is_refused_and_nothing_changes(db_session, team, saved):
    s = db_session
    claim = _claim(s)
    case = _open(s, team.siu, claim)
    before = _counts(s)
    with pytest.raises(CaseError, match="amount saved"):
        siu_cases.close_case(s, team.siu, case.key, 1, "confirmed_fraud", "Found it.", saved)
    assert _counts(s) == before
    assert _case(s, case.key).status == "open" and _label(s, claim) is None


def test_confirmed_fraud_is_recorded_on_every_claim_but_the_findings_stay_in_the_case(db_session, team):
    s = db_session
    a, b, c = _claim(s), _claim(s, fraud=False), _claim(s, status="closed", fraud=None)
    case = _open(s, team.siu, a, b, c)
    findings = "Same clinic, same bank account, staged photos: a ring."
    closed = siu_cases.close_case(s, team.siu2, case.key, 1, "confirmed_fraud", findings, "2,500")
    assert closed.key == case.key
    case = _case(s, case.key)
    assert (case.status, case.outcome, case.findings, case.saved_amount) == (
        "closed", "confirmed_fraud", findings, Decimal("2500.00"))
    assert case.closed_by == team.siu2.id and case.closed_at is not None and case.version == 2
    assert [_label(s, x) for x in (a, b, c)] == [True, True, True]
    for x in (a, b, c):
        last = _claim_events(s, x)[-1]
        assert last.note == f"SIU case {case.key} closed: confirmed fraud."
        assert last.data == {"case": case.key, "outcome": "confirmed_fraud"}
    # Readers of a claim may be outside SIU: nothing of the findings in any claim's history.
    notes = s.scalars(select(ClaimEvent.note).where(ClaimEvent.claim_id.in_([a.id, b.id, c.id]))).all()
    assert not any("clinic" in (n or "") for n in notes)
    datas = s.scalars(select(ClaimEvent.data).where(ClaimEvent.claim_id.in_([a.id, b.id, c.id]))).all()
    assert not any("clinic" in str(d) for d in datas)
    last = _case_events(s, case)[-1]
    assert last.kind == "closed" and last.note == findings
    # What the claims held before, for a reopening to put back.
    assert last.data == {"outcome": "confirmed_fraud", "saved": "2500.00",
                         "labels_before": {str(a.id): None, str(b.id): False, str(c.id): None}, "sent_back": []}
    log = s.scalar(select(AuditLog).where(AuditLog.target_id == case.key, AuditLog.action == "siu_case.close"))
    assert log.before["fraud_labels"] == {a.claim_number: None, b.claim_number: False, c.claim_number: None}
    assert log.after["fraud_label"] is True and log.after["saved"] == "2500.00"


def test_no_fraud_clears_and_inconclusive_leaves_the_labels(db_session, team):
    s = db_session
    a, b = _claim(s, fraud=True), _claim(s)
    siu_cases.close_case(s, team.manager, _open(s, team.siu, a, b).key, 1, "no_fraud", "Genuine losses.")
    assert [_label(s, a), _label(s, b)] == [False, False]
    c, d, e = _claim(s, fraud=True), _claim(s, fraud=False), _claim(s)
    case = _open(s, team.siu, c, d, e)
    siu_cases.close_case(s, team.siu, case.key, 1, "inconclusive", "Could not tell.")
    assert [_label(s, c), _label(s, d), _label(s, e)] == [True, False, None]
    assert _claim_events(s, c)[-1].note == f"SIU case {case.key} closed: inconclusive."


def test_closing_a_case_that_changed_is_refused_and_changes_nothing(db_session, team):
    s = db_session
    a, b = _claim(s), _claim(s)
    case = _open(s, team.siu, a)
    siu_cases.add_claims(s, team.siu2, case.key, [b.claim_number])   # version 2
    before = _counts(s)
    with pytest.raises(CaseConflict):
        siu_cases.close_case(s, team.siu, case.key, 1, "confirmed_fraud", "Found it.", "100")
    assert _counts(s) == before
    case = _case(s, case.key)
    assert case.status == "open" and case.outcome is None and case.version == 2
    assert [_label(s, a), _label(s, b)] == [None, None]
    siu_cases.close_case(s, team.siu, case.key, 2, "confirmed_fraud", "Found it.", "100")
    with pytest.raises(CaseError, match="closed"):    # twice: the second is refused
        siu_cases.close_case(s, team.siu, case.key, 3, "no_fraud", "Or not.")
    assert [_label(s, a), _label(s, b)] == [True, True]


@pytest.mark.parametrize("write", ["lead", "close", "reopen"])
def test_a_missing_version_is_a_conflict(db_session, team, write):
    s = db_session
    case = _open(s, team.siu, _claim(s))
    siu_cases.add_note(s, team.siu, case.key, "Still looking.")
    if write == "reopen":
        siu_cases.close_case(s, team.siu, case.key, 1, "no_fraud", "Genuine.")
    with pytest.raises(CaseConflict):
        if write == "lead":
            siu_cases.set_lead(s, team.manager, case.key, None, team.siu2.id)
        elif write == "close":
            siu_cases.close_case(s, team.manager, case.key, None, "confirmed_fraud", "Found it.")
        else:
            siu_cases.reopen_case(s, team.manager, case.key, None, "New evidence.")


# --- Reopening -----------------------------------------------------------------------


def test_only_a_manager_reopens_and_says_why(db_session, team):
    s = db_session
    a = _claim(s)
    case = _open(s, team.siu, a)
    with pytest.raises(CaseError, match="is open"):
        siu_cases.reopen_case(s, team.manager, case.key, 1, "Why not.")
    siu_cases.close_case(s, team.siu, case.key, 1, "confirmed_fraud", "Found it.", "300")
    before = _counts(s)
    with pytest.raises(AccessDenied):
        siu_cases.reopen_case(s, team.siu, case.key, 2, "I changed my mind.")
    for note in (None, "", "   ", "x" * 5001):
        with pytest.raises(CaseError, match="reason for reopening"):
            siu_cases.reopen_case(s, team.manager, case.key, 2, note)
    with pytest.raises(CaseConflict):
        siu_cases.reopen_case(s, team.manager, case.key, 1, "New evidence.")
    assert _counts(s) == before
    siu_cases.reopen_case(s, team.manager, case.key, 2, "New evidence from the police.")
    case = _case(s, case.key)
    assert (case.status, case.outcome, case.findings, case.saved_amount, case.closed_by, case.closed_at) == (
        "open", None, None, None, None, None)
    assert case.version == 3
    assert _label(s, a) is None          # reopening withdraws the finding: what the claim held before
    [reopened] = [e for e in views.get_case(s, team.siu, case.key).events if e.kind == "reopened"]
    assert reopened.note == "New evidence from the police." and reopened.detail == "was confirmed fraud"
    assert reopened.actor == "Max Manager"
    siu_cases.close_case(s, team.siu, case.key, 3, "no_fraud", "The police cleared it.")
    assert _label(s, a) is False
    siu_cases.reopen_case(s, team.admin, case.key, 4, "Admin look.")
    assert _case(s, case.key).status == "open"


# --- Notes ---------------------------------------------------------------------------


def test_a_note_is_activity_not_a_new_version(db_session, team):
    s = db_session
    case = _open(s, team.siu, _claim(s))
    for bad in (None, "", "  ", 7, "x" * 5001, "a\x00b"):
        with pytest.raises(CaseError, match="note"):
            siu_cases.add_note(s, team.siu, case.key, bad)
    siu_cases.add_note(s, team.manager, case.key, "  Called the body shop. ")
    case = _case(s, case.key)
    assert case.version == 1
    last = _case_events(s, case)[-1]
    assert (last.kind, last.note, last.actor_id) == ("note", "Called the body shop.", team.manager.id)


# --- Reads ---------------------------------------------------------------------------


def test_list_cases_orders_filters_and_pages(db_session, team):
    s = db_session
    _no_other_cases(s)
    old, mid, new = (_open(s, team.siu, _claim(s, amount=100 * (i + 1))) for i in range(3))
    unled = _open(s, team.manager, _claim(s))
    days = {old.key: 30, mid.key: 20, new.key: 10, unled.key: 5}
    for key, ago in days.items():
        s.execute(update(SiuCase).where(SiuCase.key == key)
                  .values(opened_at=dt.datetime.now(UTC) - dt.timedelta(days=ago)))
    closed_a, closed_b = _open(s, team.siu, _claim(s)), _open(s, team.siu, _claim(s))
    siu_cases.close_case(s, team.siu, closed_a.key, 1, "no_fraud", "Genuine.")
    siu_cases.close_case(s, team.siu, closed_b.key, 1, "confirmed_fraud", "Fraud.", "75")
    s.execute(update(SiuCase).where(SiuCase.key == closed_a.key)
              .values(closed_at=dt.datetime.now(UTC) - dt.timedelta(days=3)))

    cases, total = views.list_cases(s, team.manager)
    assert [c.key for c in cases] == [old.key, mid.key, new.key, unled.key] and total == 4
    first = cases[0]
    assert (first.status, first.lead, first.claims, first.open_claims, first.claimed) == (
        "open", "Sam Sleuth", 1, 1, 100.0)
    assert first.days_open == 30 and cases[3].lead is None
    mine, total = views.list_cases(s, team.siu, mine=True)
    assert [c.key for c in mine] == [old.key, mid.key, new.key] and total == 3
    assert views.list_cases(s, team.siu2, mine=True) == ([], 0)
    page, total = views.list_cases(s, team.siu, limit=2, offset=2)
    assert [c.key for c in page] == [new.key, unled.key] and total == 4
    closed, total = views.list_cases(s, team.siu, status="closed")
    assert [c.key for c in closed] == [closed_b.key, closed_a.key] and total == 2
    assert closed[0].outcome == "confirmed_fraud" and closed[0].saved == 75.0
    assert closed[1].outcome == "no_fraud" and closed[1].saved is None
    # An unknown status is the open list.
    assert views.list_cases(s, team.siu, status="'; drop table")[1] == 4


def test_get_case_shows_claims_and_activity_newest_first(db_session, team):
    s = db_session
    a = _claim(s, amount=1500, report=dt.date(2026, 3, 2))
    b = _claim(s, status="closed", fraud=False, amount=500, report=dt.date(2026, 1, 5))
    case = _open(s, team.siu, a)
    siu_cases.add_note(s, team.siu2, case.key, "Requested the police report.")
    siu_cases.add_claims(s, team.manager, case.key, [b.claim_number])
    siu_cases.set_lead(s, team.manager, case.key, 2, team.siu2.id)
    siu_cases.close_case(s, team.siu2, case.key, 3, "no_fraud", "Genuine losses.")

    view = views.get_case(s, team.siu, f"  {case.key.lower()} ")
    assert view is not None and view.summary.key == case.key
    assert view.version == 4 and view.lead_id == team.siu2.id and view.findings == "Genuine losses."
    assert view.opened_by == "Sam Sleuth" and view.closed_by == "Tess Tracer"
    assert view.summary.claims == 2 and view.summary.open_claims == 1 and view.summary.claimed == 2000.0
    assert view.summary.lead == "Tess Tracer" and view.summary.outcome == "no_fraud"
    assert [(c.claim_number, c.status, c.department, c.claimed, c.in_siu) for c in view.claims] == [
        (b.claim_number, "closed", "Special Investigations", 500.0, True),
        (a.claim_number, "new", "Special Investigations", 1500.0, True)]
    assert [(e.kind, e.actor) for e in view.events] == [
        ("closed", "Tess Tracer"), ("lead", "Max Manager"), ("claim_added", "Max Manager"),
        ("note", "Tess Tracer"), ("opened", "Sam Sleuth")]
    assert [e.title for e in view.events] == ["Case closed", "Lead investigator", "Claim added", "Note",
                                              "Case opened"]
    assert view.events[0].detail == "No fraud found" and view.events[0].note == "Genuine losses."
    assert view.events[2].detail == b.claim_number and view.events[4].detail == a.claim_number
    assert views.get_case(s, team.manager, case.key) is not None
    assert views.get_case(s, team.siu, "C-999999999999") is None


def test_a_claims_case_and_whether_the_claim_page_offers_one(db_session, team):
    s = db_session
    a, free, foreign = _claim(s), _claim(s), _claim(s, "AUTO_PD")
    case = siu_cases.open_case(s, team.siu, [a.claim_number], title="Staged collision")
    mine = views.case_of_claim(s, team.manager, a.id)
    assert (mine.key, mine.title, mine.status, mine.outcome, mine.lead) == (
        case.key, "Staged collision", "open", None, "Sam Sleuth")
    assert views.case_of_claim(s, team.siu, free.id) is None
    assert views.can_start_case(s, team.siu, free) and views.can_start_case(s, team.manager, free)
    assert not views.can_start_case(s, team.siu, foreign) and not views.can_start_case(s, team.manager, foreign)
    siu_cases.close_case(s, team.siu, case.key, 1, "inconclusive", "Unclear.")
    assert views.case_of_claim(s, team.siu, a.id).outcome == "inconclusive"


def test_claims_awaiting_case_counts_open_siu_claims_in_no_case(db_session, team):
    s = db_session
    base = views.claims_awaiting_case(s)
    a, b, _c = _claim(s), _claim(s, status="in_review"), _claim(s, status="awaiting_info")
    _claim(s, status="closed", fraud=True)
    _claim(s, "AUTO_PD")
    assert views.claims_awaiting_case(s) == base + 3
    _open(s, team.siu, a, b)
    assert views.claims_awaiting_case(s) == base + 1


def test_ring_claims_for_case_are_the_rings_siu_claims_in_no_case(db_session, team):
    s = db_session
    taken, free, foreign = _claim(s), _claim(s), _claim(s, "AUTO_PD")
    _open(s, team.siu, taken)
    view = SimpleNamespace(claims=[SimpleNamespace(id=c.id, department_id=c.department_id)
                                   for c in (taken, free, foreign)])
    assert [c.id for c in views.ring_claims_for_case(s, view)] == [free.id]
    assert views.ring_claims_for_case(s, SimpleNamespace(claims=[view.claims[2]])) == []


def test_totals_on_known_cases(db_session, team):
    s = db_session
    _no_other_cases(s)
    now = dt.datetime.now(UTC)
    empty = views.totals(s, now=now)
    assert (empty["open_cases"], empty["open_claims"], empty["closed"], empty["saved"]) == (0, 0, 0, 0.0)
    assert empty["median_days"] is None and empty["confirmed_share"] is None
    _open(s, team.siu, _claim(s, amount=1000), _claim(s, amount=2000))
    _open(s, team.siu, _claim(s, amount=500))
    spans = {}   # key: (days open, closed days ago)
    for outcome, saved, took, ago in (("confirmed_fraud", "1000", 10, 5), ("confirmed_fraud", "250.5", 20, 30),
                                      ("no_fraud", None, 40, 60), ("inconclusive", None, 30, 80),
                                      ("confirmed_fraud", "9999", 5, 120)):      # the last: outside 90 days
        case = _open(s, team.siu, _claim(s))
        siu_cases.close_case(s, team.siu, case.key, 1, outcome, "Done.", saved)
        spans[case.key] = (took, ago)
    for key, (took, ago) in spans.items():
        closed_at = now - dt.timedelta(days=ago)
        s.execute(update(SiuCase).where(SiuCase.key == key)
                  .values(closed_at=closed_at, opened_at=closed_at - dt.timedelta(days=took)))
    t = views.totals(s, now=now)
    assert (t["open_cases"], t["open_claims"], t["open_claimed"]) == (2, 3, 3500.0)
    assert t["closed"] == 4 and t["days"] == 90
    assert t["by_outcome"] == {"confirmed_fraud": 2, "no_fraud": 1, "inconclusive": 1}
    assert t["confirmed_share"] == pytest.approx(0.5)
    assert t["saved"] == pytest.approx(1250.5)
    assert t["median_days"] == pytest.approx(25.0)
    assert views.totals(s, days=365, now=now)["closed"] == 5
    # Whole UTC days, as the dashboard's periods: 90 days ending today start at midnight 89 days ago.
    first = dt.datetime.combine(now.date() - dt.timedelta(days=89), dt.time(), UTC)
    assert t["since"] == first.date()
    edge = _open(s, team.siu, _claim(s))
    siu_cases.close_case(s, team.siu, edge.key, 1, "no_fraud", "Done.")
    for closed_at, counted in ((first - dt.timedelta(seconds=1), 4), (first, 5)):
        s.execute(update(SiuCase).where(SiuCase.key == edge.key).values(closed_at=closed_at, opened_at=closed_at))
        assert views.totals(s, now=now)["closed"] == counted, closed_at


# --- Tampered inputs -----------------------------------------------------------------


BAD_KEYS = [None, 5, 5.0, True, "", "C-1", "C-000001\x00", "C-\x00000001", "X-000001", "C-0000001234567",
            "C-999999999999", ["C-000001"], {"key": "C-000001"}, b"C-000001", "C-00000١"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_tampered_case_key_is_refused_on_every_door(db_session, team, key):
    s = db_session
    a, b = _claim(s), _claim(s)
    case = _open(s, team.siu, a)
    before = _counts(s)
    writes = [
        lambda: siu_cases.add_claims(s, team.siu, key, [b.claim_number]),
        lambda: siu_cases.remove_claim(s, team.siu, key, a.claim_number),
        lambda: siu_cases.add_note(s, team.siu, key, "A note."),
        lambda: siu_cases.set_lead(s, team.siu, key, 1, team.siu2.id),
        lambda: siu_cases.close_case(s, team.siu, key, 1, "confirmed_fraud", "Found.", "10"),
        lambda: siu_cases.reopen_case(s, team.manager, key, 1, "Again."),
    ]
    for write in writes:
        with pytest.raises(ALLOWED):
            write()
    assert views.get_case(s, team.siu, key) is None
    assert _counts(s) == before and _label(s, a) is None and _case(s, case.key).version == 1


def test_a_case_key_is_read_in_any_case_and_spacing(db_session, team):
    s = db_session
    case = _open(s, team.siu, _claim(s))
    siu_cases.add_note(s, team.siu, f" {case.key.lower()} ", "Spaced.")
    assert _case_events(s, case)[-1].note == "Spaced."
    with pytest.raises(NotFound):
        siu_cases.add_note(s, team.siu, case.key + "\x00", "Nul.")


@pytest.mark.parametrize("version", [True, False, "1", 1.0, 0, -1, 7, 2**31, 2**80, [1], {"v": 1}])
def test_a_tampered_version_is_a_conflict(db_session, team, version):
    s = db_session
    a = _claim(s)
    case = _open(s, team.siu, a)
    with pytest.raises(CaseConflict):
        siu_cases.set_lead(s, team.manager, case.key, version, team.siu2.id)
    with pytest.raises(CaseConflict):
        siu_cases.close_case(s, team.siu, case.key, version, "confirmed_fraud", "Found.")
    siu_cases.close_case(s, team.siu, case.key, 1, "no_fraud", "Genuine.")
    with pytest.raises(CaseConflict):
        siu_cases.reopen_case(s, team.manager, case.key, version, "Again.")
    case = _case(s, case.key)
    assert case.status == "closed" and case.version == 2 and case.lead_id == team.siu.id
    assert _label(s, a) is False


BAD_CLAIM_LISTS = [None, "", "NOPE-000001", 5, {"a": 1}, [], (), [None], [True], [False], [1.5], [0], [-3],
                   [2**63], [2**200], [""], ["   "], ["x" * 41], ["x" * 100_000], ["PTY\x00"], [["PTY-1"]],
                   [{"n": 1}], [b"PTY"], ["NO-SUCH-CLAIM"], [10**15], ["x"] * 201]


@pytest.mark.parametrize("claims", BAD_CLAIM_LISTS, ids=lambda v: repr(v)[:30])
def test_a_tampered_claim_list_is_refused(db_session, team, claims):
    s = db_session
    a = _claim(s)
    case = _open(s, team.siu, a)
    before = _counts(s)
    for user in (team.siu, team.manager):
        with pytest.raises(CaseError):
            siu_cases.open_case(s, user, claims)
        with pytest.raises(CaseError):
            siu_cases.add_claims(s, user, case.key, claims)
        if not isinstance(claims, (str, int)):
            with pytest.raises(CaseError):
                siu_cases.open_case(s, user, [a.claim_number, claims])   # inside a list, too
    assert _counts(s) == before


@pytest.mark.parametrize("number", [None, 5, True, "", "x" * 41, "x" * 100_000, "PTY\x00", ["PTY"], "NO-SUCH"])
def test_a_tampered_claim_to_remove_is_refused(db_session, team, number):
    s = db_session
    case = _open(s, team.siu, _claim(s), _claim(s))
    before = _counts(s)
    with pytest.raises(CaseError):
        siu_cases.remove_claim(s, team.siu, case.key, number)
    assert _counts(s) == before


@pytest.mark.parametrize("title", [5, ["t"], "x" * 201, "a\x00b"])
def test_a_tampered_title_or_note_is_refused(db_session, team, title):
    s = db_session
    a = _claim(s)
    before = _counts(s)
    with pytest.raises(CaseError):
        siu_cases.open_case(s, team.siu, [a.claim_number], title=title)
    with pytest.raises(CaseError):
        siu_cases.open_case(s, team.siu, [a.claim_number], note=title if title != "x" * 201 else "x" * 5001)
    assert _counts(s) == before


# --- Demo cases ----------------------------------------------------------------------


def test_demo_cases_are_seeded_once_and_change_no_finding(db_session):
    s = db_session
    _small_siu(s)
    now = dt.datetime(2026, 12, 1, 12, tzinfo=UTC)
    lead = _user(s, "adjuster", "SIU")
    _user(s, "manager", "SIU")

    def closed(fraud):
        return _claim(s, status="closed", fraud=fraud, report=dt.date(2026, 8, 1),
                      closed_at=now - dt.timedelta(days=20))

    ring_closed = [closed(True) for _ in range(3)]
    ring_open = [_claim(s, report=dt.date(2026, 11, 1)) for _ in range(2)]
    singles = [closed(True) for _ in range(5)] + [closed(False) for _ in range(2)]
    old = _claim(s, status="closed", fraud=True, report=dt.date(2025, 1, 1), closed_at=now - dt.timedelta(days=400))
    open_singles = [_claim(s, report=dt.date(2026, 11, 10)) for _ in range(4)]
    _claim(s, "AUTO_PD", status="closed", fraud=True, closed_at=now - dt.timedelta(days=5))
    _ring(s, "R-T00001", ring_closed)
    _ring(s, "R-T00002", ring_open)
    everything = ring_closed + ring_open + singles + [old] + open_singles
    labels = {c.id: _label(s, c) for c in everything}

    made = demo_cases.seed(s, now=now)
    # Rings: one closed, one open; 7 closed singles; every other open single (2).
    assert made == {"closed": 8, "open": 3}
    assert s.scalar(select(func.count()).select_from(SiuCase)) == 11
    assert {c.id: _label(s, c) for c in everything} == labels
    cases = s.scalars(select(SiuCase).order_by(SiuCase.id)).all()
    assert all(KEY.fullmatch(c.key) and c.lead_id == lead.id for c in cases)
    by_ring = {c.ring_key: c for c in cases if c.ring_key}
    assert by_ring["R-T00001"].status == "closed" and by_ring["R-T00001"].outcome == "confirmed_fraud"
    assert by_ring["R-T00001"].saved_amount == Decimal("3000.00")
    assert by_ring["R-T00002"].status == "open" and by_ring["R-T00002"].title == "Possible ring R-T00002"
    for case in cases:
        ids = s.scalars(select(SiuCaseClaim.claim_id).where(SiuCaseClaim.case_id == case.id)).all()
        found = {_label(s, s.get(Claim, i)) for i in ids}
        if case.status == "closed":
            assert case.closed_at <= now and case.opened_at < case.closed_at
            assert case.findings and _case_events(s, case)[-1].kind == "closed"
            if case.outcome == "confirmed_fraud":
                assert found == {True}, case.key
            elif case.outcome == "no_fraud":
                assert found == {False}, case.key
        else:
            assert case.outcome is None and case.opened_at <= now
        for i in ids:
            assert any(e.data.get("case") == case.key for e in _claim_events(s, s.get(Claim, i)))
    assert views.case_of_claim(s, lead, old.id) is None
    assert sum(views.case_of_claim(s, lead, c.id) is not None for c in open_singles) == 2
    # A second run makes nothing.
    before = _counts(s)
    assert demo_cases.seed(s, now=now) == {}
    assert _counts(s) == before


def test_a_demo_ring_case_never_contradicts_its_claims(db_session):
    s = db_session
    _small_siu(s)
    now = dt.datetime(2026, 12, 1, 12, tzinfo=UTC)
    _user(s, "adjuster", "SIU")
    ring = [_claim(s, status="closed", fraud=f, report=dt.date(2026, 8, 1), closed_at=now - dt.timedelta(days=9))
            for f in (True, True, False)]
    _ring(s, "R-T00003", ring)
    demo_cases.seed(s, now=now)
    case = s.scalar(select(SiuCase).where(SiuCase.ring_key == "R-T00003"))
    members = set(s.scalars(select(SiuCaseClaim.claim_id).where(SiuCaseClaim.case_id == case.id)))
    labels = {_label(s, c) for c in ring if c.id in members}
    expected = {"confirmed_fraud": {True}, "no_fraud": {False}}.get(case.outcome)
    assert expected is None or labels == expected, (case.outcome, labels)
    assert case.outcome == "confirmed_fraud" and members == {ring[0].id, ring[1].id}   # the odd one is left out


def test_no_demo_cases_without_siu_adjusters(db_session):
    s = db_session
    _small_siu(s)
    _claim(s)
    assert demo_cases.seed(s) == {}
    assert s.scalar(select(func.count()).select_from(SiuCase)) == 0


def test_period_results_count_what_siu_did_in_the_period(db_session, team):
    """The dashboard's figures: cases opened and closed in the period (whole UTC days), the
    confirmed share, the amount saved, alerts referred; with a line, only cases holding a claim
    of that line."""
    s = db_session
    _no_other_cases(s)
    day = dt.date(2026, 3, 10)
    at = dt.datetime(2026, 3, 10, 23, 30, tzinfo=UTC)

    def case(line, outcome=None, opened=at, closed=None, saved=None):
        c = _claim(s)
        c.line_of_business = line
        made = _open(s, team.siu, c)
        if outcome:
            siu_cases.close_case(s, team.siu, made.key, made.version, outcome, "Done.", saved)
        s.execute(update(SiuCase).where(SiuCase.id == made.id).values(opened_at=opened, closed_at=closed))
        return made

    case("auto", "confirmed_fraud", closed=at, saved="100")
    case("auto", "no_fraud", closed=at)
    case("property", "confirmed_fraud", closed=at + dt.timedelta(hours=1), saved="50")   # the next day
    case("property", opened=at - dt.timedelta(days=1))                                  # before, still open
    s.flush()
    got = views.period_results(s, day, day)
    assert (got["opened"], got["closed"], got["confirmed"], got["saved"]) == (3, 2, 1, 100.0)
    assert got["confirmed_share"] == 0.5
    both = views.period_results(s, day - dt.timedelta(days=1), day + dt.timedelta(days=1))
    assert (both["opened"], both["closed"], both["confirmed"], both["saved"]) == (4, 3, 2, 150.0)
    auto = views.period_results(s, day - dt.timedelta(days=1), day + dt.timedelta(days=1), line="auto")
    assert (auto["opened"], auto["closed"], auto["saved"]) == (2, 2, 100.0)
    empty = views.period_results(s, dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    assert (empty["opened"], empty["closed"], empty["confirmed_share"], empty["saved"]) == (0, 0, None, 0.0)


def test_period_results_count_claims_moved_into_siu_by_any_channel(db_session, team):
    """Referred = claims a person moved into the SIU queue in the period (an alert's or a ring's
    referral, the Reassign board, a claim's page: all are moves), each claim once."""
    s = db_session
    day = dt.date(2026, 3, 10)
    at = dt.datetime(2026, 3, 10, 12, tzinfo=UTC)
    siu, other = siu_cases.siu_id(s), s.scalar(select(Department.id).where(Department.code == "AUTO_PD"))
    before = {line: views.period_results(s, day, day, line=line)["referred"] for line in (None, "auto")}

    def moved(line, to, when=at, times=1):
        c = _claim(s, department="AUTO_PD")
        c.line_of_business = line
        for i in range(times):
            s.add(ClaimEvent(claim_id=c.id, kind="moved", at=when + dt.timedelta(minutes=i), actor_id=team.manager.id,
                             from_department_id=other, to_department_id=to, reason="SIU_REFERRAL"))

    moved("auto", siu)
    moved("property", siu, times=2)                             # moved in, out and in again: one claim
    moved("auto", siu, when=at + dt.timedelta(days=1))          # the next day
    moved("auto", other)                                        # not into SIU
    s.flush()
    moved("auto", siu, times=1)                                 # between SIU's people, not a referral:
    s.execute(update(ClaimEvent).where(ClaimEvent.id == s.scalar(select(func.max(ClaimEvent.id))))
              .values(from_department_id=siu))
    assert views.period_results(s, day, day)["referred"] - before[None] == 2
    assert views.period_results(s, day, day, line="auto")["referred"] - before["auto"] == 1
