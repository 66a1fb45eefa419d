"""Review of the SIU cases feature (services.siu_cases, services.siu_case_views,
services.demo_cases, callbacks/pages of /siu-cases): each test failed on a
defect the review found, before its fix."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import delete, select

from auth.current import SessionUser
from db.models import Claim, SiuCase, SiuCaseClaim, User
from services import demo_cases, siu_cases
from services.siu_cases import CaseError
from tests.conftest import login
from tests.siuutil import claim as _claim, label as _label, ring as _ring, \
    small_siu as _small_siu, user as _user
from tests.webutil import outputs_of, render_page

UTC = dt.timezone.utc


# --- 1. Access: an SIU adjuster learns that another queue's claim number exists ------------------


def test_an_siu_adjuster_cannot_tell_a_foreign_claim_from_an_unknown_one_in_a_list(db_session):
    """docs/siu-cases.md: "An SIU adjuster who names a claim of another queue gets the
    same answer as for an unknown number." Alone, it does. Beside an unknown number
    the answer differs: ["NOPE", foreign] names only NOPE (the foreign claim was
    found), while ["NOPE", "NOPE2"] names both. Each probe is one click on the
    list page's "Open a case" form, so any claim number of any queue can be tested."""
    s = db_session
    siu_adjuster = _user(s, "adjuster", "SIU")
    foreign = _claim(s, "AUTO_PD")
    with pytest.raises(CaseError) as with_foreign:
        siu_cases.open_case(s, siu_adjuster, ["NO-SUCH-REVIEW-1", foreign.claim_number])
    with pytest.raises(CaseError) as with_unknown:
        siu_cases.open_case(s, siu_adjuster, ["NO-SUCH-REVIEW-1", "NO-SUCH-REVIEW-2"])
    assert str(with_foreign.value) == str(with_unknown.value).replace("NO-SUCH-REVIEW-2", foreign.claim_number)


# --- 2. Bad input: an amount saved that rounds up past the column is a database error ------------


@pytest.mark.parametrize("saved", ["999999999999.995", "999999999999.999"])
def test_an_amount_saved_that_rounds_to_a_trillion_is_refused_clearly(db_session, saved):
    s = db_session
    manager = _user(s, "manager")
    case = siu_cases.open_case(s, manager, [_claim(s).claim_number])
    with s.begin_nested():   # the flush may fail; keep the test's transaction usable
        with pytest.raises(CaseError):
            siu_cases.close_case(s, manager, case.key, case.version, "confirmed_fraud", "Found it.", saved)


# --- 3. Reopen then inconclusive keeps the earlier finding on the claims ------------------------


def test_a_case_reopened_and_closed_inconclusive_does_not_keep_the_withdrawn_finding(db_session):
    s = db_session
    manager = _user(s, "manager")
    a = _claim(s, fraud=None)
    case = siu_cases.open_case(s, manager, [a.claim_number])
    siu_cases.close_case(s, manager, case.key, case.version, "confirmed_fraud", "Looked like fraud.")
    assert _label(s, a) is True
    case = siu_cases.reopen_case(s, manager, case.key, case.version, "The witness recanted.")
    siu_cases.close_case(s, manager, case.key, case.version, "inconclusive", "Could not be established.")
    assert s.scalar(select(SiuCase.outcome).where(SiuCase.id == case.id)) == "inconclusive"
    # The case's finding is now "inconclusive": the claim should carry what it had before the case.
    assert _label(s, a) is None


# --- 4. Demo cases: a case opened (and its claims "added") before a claim was reported ----------


def test_demo_cases_are_not_opened_before_their_claims_were_reported(db_session):
    s = db_session
    _small_siu(s)
    now = dt.datetime(2026, 12, 1, 12, tzinfo=UTC)
    _user(s, "adjuster", "SIU")
    closed = now - dt.timedelta(days=10)
    # A ring spanning the year: its last claim was reported a week before the last one closed.
    ring = [_claim(s, status="closed", fraud=True, report=dt.date(2026, 1, 5), closed_at=closed),
            _claim(s, status="closed", fraud=True, report=dt.date(2026, 11, 14), closed_at=closed)]
    _ring(s, "R-REV001", ring)
    # A single claim closed the day after it was reported.
    quick = _claim(s, status="closed", fraud=True, report=dt.date(2026, 11, 20), closed_at=closed)
    demo_cases.seed(s, now=now)
    bad = []
    for claim in (*ring, quick):
        opened = s.scalar(select(SiuCase.opened_at).join(SiuCaseClaim, SiuCaseClaim.case_id == SiuCase.id)
                          .where(SiuCaseClaim.claim_id == claim.id))
        assert opened is not None, claim.claim_number
        reported = dt.datetime.combine(claim.report_date, dt.time(0), UTC)
        if opened < reported:
            bad.append((claim.claim_number, f"{claim.report_date}", f"{opened:%Y-%m-%d}"))
    assert not bad, f"cases opened before their claim was reported: {bad}"


# --- Web: the page and its callbacks -------------------------------------------------------------


def _investigator(web_app):
    client = web_app.server.test_client()
    response = login(client, "investigator@scope.example", "scope-demo-investigator")
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("search", ["?case=C-000001&case=C-000002", "?status=closed&status=open",
                                    "?page=2&page=3", "?mine=1&mine=0", "?case=C-%D9%A1%D9%A2%D9%A3%D9%A4%D9%A5%D9%A6",
                                    "?case=C-000001%00", "?page=%C2%B2", "?case=" + "9" * 5000])
def test_the_cases_page_answers_tampered_addresses(web_app, client_for, search):
    for client in (client_for("manager"), client_for("viewer"), _investigator(web_app)):
        status, body = render_page(client, "/siu-cases", search)
        assert status == 200 and "Traceback" not in body, (search, body[:200])


def _post(web_app, client, trigger: str, state):
    """Post the callback that ``trigger`` (an input id) fires, as the browser does (the
    case page's callbacks share their outputs, so they are found by their input)."""
    keys = [k for k, v in web_app.callback_map.items() if [i["id"] for i in v["inputs"]] == [trigger]]
    assert len(keys) == 1, keys
    return client.post("/_dash-update-component", json={
        "output": keys[0],
        "outputs": outputs_of(keys[0]),
        "inputs": [{"id": trigger, "property": "n_clicks", "value": 1}],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{trigger}.n_clicks"]})


def _close(web_app, client, data, saved="", outcome="no_fraud", findings="Checked."):
    return _post(web_app, client, "siu-close-confirm",
                 [("siu-outcome", "value", outcome), ("siu-findings", "value", findings),
                  ("siu-saved", "value", saved), ("siu-send-back", "value", []), ("siu-case-key", "data", data)])


@pytest.fixture()
def web_case(app_session):
    """A case of its own in the web database (on a claim of its own), removed afterwards."""
    def make(session):
        manager = SessionUser.from_model(session.scalar(select(User).where(User.email == "manager@scope.example")))
        claim = _claim(session)
        case = siu_cases.open_case(session, manager, [claim.claim_number])
        return case.key, case.version, claim.id
    key, version, claim_id = app_session(make)
    yield key, version
    app_session(lambda s: (s.execute(delete(SiuCase).where(SiuCase.key == key)),
                           s.execute(delete(Claim).where(Claim.id == claim_id))))


def test_closing_with_an_amount_that_rounds_over_the_limit_says_so(web_app, client_for, app_session, web_case):
    key, version = web_case
    response = _close(web_app, client_for("manager"), {"key": key, "version": version}, saved="999999999999.999")
    assert response.status_code == 200
    message = json.dumps(json.loads(response.get_data(as_text=True))["response"]["siu-case-msg"])
    assert app_session(lambda s: s.scalar(select(SiuCase.status).where(SiuCase.key == key))) == "open"
    assert "Someone else changed" not in message and "amount saved" in message, message


def test_a_viewer_and_an_adjuster_outside_siu_cannot_close_from_a_tampered_page(web_app, client_for, app_session,
                                                                               web_case):
    key, version = web_case
    assert _close(web_app, client_for("viewer"), {"key": key, "version": version}).status_code == 403
    response = _close(web_app, client_for("adjuster"), {"key": key, "version": version})
    assert response.status_code == 200 and "Not allowed" in response.get_data(as_text=True)
    assert app_session(lambda s: s.scalar(select(SiuCase.status).where(SiuCase.key == key))) == "open"
