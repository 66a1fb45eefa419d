"""SIU cases on the web: who sees the pages, tampered addresses and callback
payloads, and the work done through the callbacks as the browser posts them.

The web database is shared by the whole test session: every test makes the
claims and cases it changes (claims referred to SIU by the demo manager with
the reassignment service, cases opened with the service) and never counts on
the demo's numbers."""
from __future__ import annotations

import uuid

import json

import pytest
from sqlalchemy import delete, func, select

from db.models import OPEN_STATUSES, Claim, Department, FraudAlert, FraudRing, SiuCase, SiuCaseClaim, SiuCaseEvent, \
    User
from tests.conftest import login
from tests.webutil import call_callback, outputs_of, render_page

INVESTIGATOR = ("investigator@scope.example", "scope-demo-investigator")
MANAGER = "manager@scope.example"
NOT_SIU_DEPARTMENTS = ("AUTO_PD", "AUTO_GLASS", "TRIAGE")   # the demo adjuster's (Chris Ng's)
NOT_ALLOWED = "Not allowed: Only Special Investigations and managers work SIU cases."


# --- Helpers -----------------------------------------------------------------------------


OWN_RING = "R-W"   # rings these tests make when earlier runs took the demo's: removed after each test


@pytest.fixture(autouse=True)
def _no_rings_of_our_own(app_session):
    """The web database is shared (test_fraud_rings measures its rings against the generator's)."""
    yield
    app_session(lambda s: s.execute(delete(FraudRing).where(FraudRing.key.like(OWN_RING + "%"))))


@pytest.fixture()
def clients(web_app, client_for):
    """clients('investigator' | 'manager' | 'viewer' | 'adjuster' | 'admin'): one
    logged-in client per role for the test (the investigator is the SIU adjuster)."""
    made = {}

    def get(role: str):
        if role not in made:
            if role == "investigator":
                client = web_app.server.test_client()
                response = login(client, *INVESTIGATOR)
                assert response.status_code == 302, response.get_data(as_text=True)[:300]
                made[role] = client
            else:
                made[role] = client_for(role)
        return made[role]

    return get


def _user(session, email: str):
    from auth.current import SessionUser

    return SessionUser.from_model(session.scalar(select(User).where(User.email == email)))


def _siu(session) -> int:
    return session.scalar(select(Department.id).where(Department.code == "SIU"))


def _refer_to_siu(app_session, n: int) -> list[str]:
    """Move ``n`` open claims of our own into the SIU queue (the demo manager's referral),
    claims in no ring, with no fraud alert, outside the demo adjuster's departments."""
    def make(session):
        from services.reassignment import move_claims

        siu = _siu(session)
        in_rings = set(session.scalars(select(func.unnest(FraudRing.claim_ids))))
        avoid = set(session.scalars(select(Department.id).where(Department.code.in_(NOT_SIU_DEPARTMENTS))))
        rows = session.execute(
            select(Claim.id, Claim.version, Claim.claim_number)
            .outerjoin(FraudAlert, FraudAlert.claim_id == Claim.id)
            .where(Claim.status.in_(OPEN_STATUSES), Claim.department_id != siu,
                   Claim.department_id.not_in(avoid), FraudAlert.id.is_(None),
                   # not in a case already (a case closed with no fraud sends its claims back)
                   ~select(SiuCaseClaim.claim_id).where(SiuCaseClaim.claim_id == Claim.id).exists())
            .order_by(Claim.id).limit(n + 200)).all()
        picked = [r for r in rows if r.id not in in_rings][:n]
        assert len(picked) == n, "the web database has open claims to refer to SIU"
        move_claims(session, _user(session, MANAGER), [{"claim_id": r.id, "version": r.version} for r in picked],
                    department_code="SIU", reason="SIU_REFERRAL", comment="for the SIU case web tests")
        return [r.claim_number for r in picked]

    return app_session(make)


def _open_case(app_session, numbers: list[str], email: str = INVESTIGATOR[0]) -> str:
    from services import siu_cases

    return app_session(lambda s: siu_cases.open_case(s, _user(s, email), numbers, "web test case").key)


def _own_case(app_session, n: int = 2) -> tuple[str, list[str]]:
    numbers = _refer_to_siu(app_session, n)
    return _open_case(app_session, numbers), numbers


def _state(app_session, *keys) -> dict:
    """What a case is: status, outcome, version, lead, claims, number of events."""
    def read(session):
        out = {}
        for case in session.scalars(select(SiuCase).where(SiuCase.key.in_(keys))):
            claims = tuple(sorted(session.scalars(select(Claim.claim_number).join(
                SiuCaseClaim, SiuCaseClaim.claim_id == Claim.id).where(SiuCaseClaim.case_id == case.id))))
            events = session.scalar(select(func.count()).select_from(SiuCaseEvent)
                                    .where(SiuCaseEvent.case_id == case.id))
            out[case.key] = (case.status, case.outcome, case.version, case.lead_id, case.title, claims, events)
        return out

    return app_session(read)


def _case_of(app_session, number: str) -> str | None:
    return app_session(lambda s: s.scalar(select(SiuCase.key).join(SiuCaseClaim, SiuCaseClaim.case_id == SiuCase.id)
                                          .join(Claim, Claim.id == SiuCaseClaim.claim_id)
                                          .where(Claim.claim_number == number)))


def _version(app_session, key: str) -> int:
    return app_session(lambda s: s.scalar(select(SiuCase.version).where(SiuCase.key == key)))


def _case_count(app_session) -> int:
    return app_session(lambda s: s.scalar(select(func.count()).select_from(SiuCase)))


def _text(response) -> str:
    return response.get_data(as_text=True)


def _ok(response) -> str:
    """A 200 without a stack trace; the body."""
    body = _text(response)
    assert response.status_code == 200, body[:300]
    assert "Traceback" not in body and "Something went wrong" not in body, body[:500]
    return body


# The callbacks of a case page: the button, then the states before the case-key store.
CASE_ACTIONS = {
    "note": ("siu-note-submit", [("siu-note", "value")]),
    "lead": ("siu-lead-submit", [("siu-lead", "value")]),
    "close": ("siu-close-confirm", [("siu-outcome", "value"), ("siu-findings", "value"), ("siu-saved", "value"),
                                   ("siu-send-back", "value")]),
    "reopen": ("siu-reopen-submit", [("siu-reopen-note", "value")]),
    "add": ("siu-add-submit", [("siu-add-claims", "value")]),
}
# Values a person would send with each, for the refusal tests.
SENSIBLE = {"note": ("A note",), "lead": (0,), "close": ("no_fraud", "Nothing found.", None, []),
            "reopen": ("New evidence",), "add": ("CLM-NOPE",)}


def _callback_key(web_app, input_id: str) -> str:
    # Dash suffixes duplicate outputs with a hash: find the callback by its input.
    keys = [k for k, entry in web_app.callback_map.items()
            if any(input_id in str(i.get("id")) for i in entry.get("inputs", []))]
    assert len(keys) == 1, keys
    return keys[0]


def _case_call(web_app, client, action: str, data, *values):
    button, states = CASE_ACTIONS[action]
    return client.post("/_dash-update-component", json={
        "output": _callback_key(web_app, button), "outputs": outputs_of(_callback_key(web_app, button)),
        "inputs": [{"id": button, "property": "n_clicks", "value": 1}],
        # States not given are sent empty, as an untouched form does (e.g. close's "send back" box).
        "state": [{"id": i, "property": p, "value": v}
                  for (i, p), v in zip(states, values + (None,) * (len(states) - len(values)), strict=True)]
        + [{"id": "siu-case-key", "property": "data", "value": data}],
        "changedPropIds": [f"{button}.n_clicks"],
    })


def _remove(web_app, client, data, number):
    """"Remove from case" in the confirmation the row's Remove button opened (in the browser)
    with the claim's number."""
    key = _callback_key(web_app, "siu-remove-confirm")
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs_of(key),
        "inputs": [{"id": "siu-remove-confirm", "property": "n_clicks", "value": 1}],
        "state": [{"id": "siu-remove-claim", "property": "data", "value": number},
                  {"id": "siu-case-key", "property": "data", "value": data}],
        "changedPropIds": ["siu-remove-confirm.n_clicks"],
    })


def _from_claim(web_app, client, claim_number, *, add_to=None):
    button = "siu-claim-add" if add_to is not None else "siu-claim-open"
    return call_callback(
        web_app, client, "siu-claim-msg.children...claim-refresh.data",
        [("siu-claim-area", "children"), ("siu-claim-msg", "children"), ("claim-refresh", "data")],
        [("siu-claim-open", "n_clicks", None if add_to is not None else 1),
         ("siu-claim-add", "n_clicks", 1 if add_to is not None else None)],
        [("siu-claim-case", "value", add_to), ("claim-key", "data", claim_number)], changed=button)


def _open_from_list(web_app, client, claims, title=None):
    return call_callback(web_app, client, "siu-open-msg.children",
                         [("siu-open-msg", "children"), ("siu-open-go", "href")],
                         [("siu-open-submit", "n_clicks", 1)],
                         [("siu-open-claims", "value", claims), ("siu-open-title", "value", title)])


def _for_ring(web_app, client, ring_key):
    return call_callback(web_app, client, "ring-case-msg.children",
                         [("ring-case-msg", "children"), ("ring-case-submit", "disabled")],
                         [("ring-case-submit", "n_clicks", 1)], [("ring-case-key", "data", ring_key)])


def _all_callbacks(web_app, client, key: str, version: int, claim: str, ring: str | None):
    """Every SIU case callback once, with what a person on the page would send."""
    data = {"key": key, "version": version}
    yield "open_from_list", _open_from_list(web_app, client, claim)
    yield "from_claim", _from_claim(web_app, client, claim)
    yield "from_claim add", _from_claim(web_app, client, claim, add_to=key)
    yield "for_ring", _for_ring(web_app, client, ring)
    for action, values in SENSIBLE.items():
        yield action, _case_call(web_app, client, action, data, *values)
    yield "remove", _remove(web_app, client, data, claim)


# --- Pages -------------------------------------------------------------------------------


def test_investigator_manager_and_admin_see_the_list_with_cases(clients, app_session):
    key, _ = _own_case(app_session, 1)     # at least one open case, whatever the others did
    for role in ("investigator", "manager", "admin"):
        status, body = render_page(clients(role), "/siu-cases")
        assert status == 200, (role, body[:300])
        assert "siu-stats" in body and "siu-cases-table" in body and "siu-case-row-C-" in body, role
        assert "siu-open-card" in body, role
        status, body = render_page(clients(role), "/siu-cases", f"?case={key}")
        assert status == 200 and "siu-case-claims" in body and f"Case {key}" in body, role
    status, body = render_page(clients("investigator"), "/siu-cases", "?status=closed")
    assert status == 200 and "siu-cases-table" in body, "the demo has closed cases"


def test_viewer_sees_the_totals_but_no_case(clients, app_session):
    key, numbers = _own_case(app_session, 1)
    status, body = render_page(clients("viewer"), "/siu-cases")
    assert status == 200 and "siu-stats" in body
    assert "siu-cases-table" not in body and "siu-open-card" not in body and key not in body
    for search in (f"?case={key}", "?case=", "?status=closed", "?mine=1"):
        status, body = render_page(clients("viewer"), "/siu-cases", search)
        assert status == 200, search
        assert "siu-cases-table" not in body and "siu-case-claims" not in body and numbers[0] not in body, search
    _, body = render_page(clients("viewer"), "/siu-cases", f"?case={key}")
    assert "Case not found" in body


def test_adjuster_outside_siu_is_not_allowed(clients, app_session):
    key, numbers = _own_case(app_session, 1)
    for search in ("", f"?case={key}", "?status=closed"):
        status, body = render_page(clients("adjuster"), "/siu-cases", search)
        assert status == 200 and "Not allowed" in body, search
        assert "SIU cases are open to Special Investigations and managers." in body
        assert "siu-stats" not in body and key not in body and numbers[0] not in body


def test_unauthenticated_is_sent_to_sign_in(web_app):
    from tests.conftest import as_browser

    client = as_browser(web_app.server.test_client())
    response = client.get("/siu-cases?case=C-000001")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    status, _ = render_page(client, "/siu-cases", "?case=C-000001")
    assert status == 401
    assert _open_from_list(web_app, client, "CLM-1").status_code == 401
    assert _case_call(web_app, client, "note", {"key": "C-000001", "version": 1}, "hi").status_code == 401


def test_demo_case_page_shows_its_claims_and_activity(clients, app_session):
    from services.demo_cases import FINDINGS, OPENED

    def demo(session):
        # The seed's cases: opened by their lead, with one of the seed's notes.
        rows = session.execute(select(SiuCase.key, SiuCase.status, SiuCase.id).where(SiuCase.title != "web test case")
                               .order_by(SiuCase.id)).all()
        out = {}
        for key, status, case_id in rows:
            if status in out:
                continue
            opened = session.scalar(select(SiuCaseEvent.note).where(SiuCaseEvent.case_id == case_id,
                                                                    SiuCaseEvent.kind == "opened"))
            if opened not in OPENED:
                continue
            claims = list(session.scalars(select(Claim.claim_number).join(
                SiuCaseClaim, SiuCaseClaim.claim_id == Claim.id).where(SiuCaseClaim.case_id == case_id)))
            claimed = session.scalar(select(func.sum(Claim.claimed_amount)).join(
                SiuCaseClaim, SiuCaseClaim.claim_id == Claim.id).where(SiuCaseClaim.case_id == case_id))
            out[status] = (key, claims, opened, claimed)
        return out

    cases = app_session(demo)
    assert {"open", "closed"} <= set(cases), "the web database has open and closed demo cases"
    for status, (key, claims, opened, claimed) in cases.items():
        code, body = render_page(clients("investigator"), "/siu-cases", f"?case={key}")
        assert code == 200 and f"Case {key}" in body
        assert f"${claimed:,.2f}" in body  # the header's total to the cent, as the table's amounts
        assert all(n in body for n in claims), (key, claims)
        assert "Activity" in body and "Case opened" in body and opened in body
        if status == "closed":
            assert "Case closed" in body and any(f in body for f in FINDINGS.values())
            assert "siu-reopen-submit" not in body          # reopening is a manager's call
            _, body = render_page(clients("manager"), "/siu-cases", f"?case={key}")
            assert "siu-reopen-submit" in body
        else:
            assert "siu-close-submit" in body and "siu-note-submit" in body


@pytest.mark.parametrize("search", [
    "?case=x", "?case=C-999999", "?case=C-999999999999", "?case=a&case=b", "?case=C-000001&case=C-000002",
    "?case=C-%D9%A0%D9%A0%D9%A0%D9%A0%D9%A0%D9%A1", "?case=C-000001%00", "?case=%00", "?case=" + "9" * 300,
    "?page=%C2%B2", "?page=1%C2%B2", "?page=-1", "?page=0", "?page=99999", "?page=1&page=2",
    "?status=a&status=b", "?status=closed&status=open", "?status=%00", "?status=closed%00", "?mine=1&mine=1",
    "?mine=%00", "?page=%00",
])
def test_garbage_queries_answer_without_a_500(clients, search):
    for role in ("investigator", "viewer"):
        status, body = render_page(clients(role), "/siu-cases", search)
        assert status == 200, (role, search, body[:300])
        assert "Traceback" not in body
        if search.startswith("?case="):
            assert "Case not found" in body, (role, search)


# --- Refusals ------------------------------------------------------------------------------


def _ring_key(app_session) -> str | None:
    return app_session(lambda s: s.scalar(select(FraudRing.key).order_by(FraudRing.key)))


def test_viewers_are_refused_every_callback(web_app, clients, app_session):
    key, numbers = _own_case(app_session, 2)
    spare = _refer_to_siu(app_session, 1)[0]
    before = _state(app_session, key)
    count = _case_count(app_session)
    for name, response in _all_callbacks(web_app, clients("viewer"), key, _version(app_session, key), spare,
                                         _ring_key(app_session)):
        assert response.status_code == 403, name
    assert _state(app_session, key) == before and _case_count(app_session) == count
    assert _case_of(app_session, spare) is None


def test_adjusters_outside_siu_are_refused_every_callback_and_nothing_changes(web_app, clients, app_session):
    """Their role has the permission, their department does not: the service says no."""
    key, numbers = _own_case(app_session, 2)
    spare = _refer_to_siu(app_session, 1)[0]
    # Close one case to have one to reopen.
    closed, _ = _own_case(app_session, 1)
    from services import siu_cases

    app_session(lambda s: siu_cases.close_case(s, _user(s, MANAGER), closed, 1, "no_fraud", "Nothing found."))
    before = _state(app_session, key, closed)
    count = _case_count(app_session)
    client = clients("adjuster")
    for name, response in _all_callbacks(web_app, client, key, _version(app_session, key), spare,
                                         _ring_key(app_session)):
        body = _ok(response)
        if name not in ("from_claim", "from_claim add", "for_ring"):
            assert NOT_ALLOWED in body, (name, body[:400])
        assert "Opened case" not in body and "Added to case" not in body, name
    assert NOT_ALLOWED in _ok(_remove(web_app, client, {"key": key, "version": 1}, numbers[0]))
    assert NOT_ALLOWED in _ok(_case_call(web_app, client, "reopen", {"key": closed, "version": 2}, "again"))
    # A claim of the adjuster's own department: the service refuses to open a case.
    own = app_session(lambda s: s.scalar(select(Claim.claim_number).join(Department).where(
        Department.code == "AUTO_PD", Claim.status.in_(OPEN_STATUSES)).order_by(Claim.id)))
    assert NOT_ALLOWED in _ok(_from_claim(web_app, client, own))
    assert NOT_ALLOWED in _ok(_open_from_list(web_app, client, own))
    assert _state(app_session, key, closed) == before and _case_count(app_session) == count
    assert _case_of(app_session, spare) is None and _case_of(app_session, own) is None
    # Their claim page offers no SIU card.
    _, body = render_page(client, f"/claims/{own}")
    assert "siu-claim-card" not in body and "siu-claim-open" not in body


def test_reopening_is_a_managers_call(web_app, clients, app_session):
    from services import siu_cases

    key, _ = _own_case(app_session, 1)
    app_session(lambda s: siu_cases.close_case(s, _user(s, MANAGER), key, 1, "inconclusive", "Unclear."))
    before = _state(app_session, key)
    body = _ok(_case_call(web_app, clients("investigator"), "reopen", {"key": key, "version": 2}, "please"))
    assert "Not allowed: Reopening a closed case is a manager&#x27;s call." in body or \
        "Not allowed: Reopening a closed case" in body
    assert _state(app_session, key) == before


# --- Tampered payloads -----------------------------------------------------------------------


def test_tampered_case_store_gives_a_message_and_changes_nothing(web_app, clients, app_session):
    key, numbers = _own_case(app_session, 2)
    other, other_numbers = _own_case(app_session, 2)
    spare = _refer_to_siu(app_session, 1)[0]
    # Make the other case's version move on, so version 1 of it is stale.
    from services import siu_cases

    app_session(lambda s: siu_cases.set_lead(s, _user(s, MANAGER), other, 1, None))
    assert _version(app_session, other) == 2
    before = _state(app_session, key, other)
    client = clients("investigator")
    bad_stores = [None, "x", 5, True, [key], {}, {"key": None, "version": 1}, {"key": 5, "version": 1},
                  {"key": [key], "version": 1}, {"key": {"k": key}, "version": 1}, {"key": "C-999999999", "version": 1},
                  {"key": key + "\x00", "version": 1}, {"key": "x" * 5000, "version": 1},
                  {"key": "C-\u0660\u0660\u0660\u0660\u0660\u0661", "version": 1}]
    for data in bad_stores:
        for action, values in (("note", ("tampered",)), ("lead", (0,)), ("close", ("no_fraud", "x", None)),
                               ("reopen", ("x",)), ("add", (spare,))):
            who = clients("manager") if action == "reopen" else client   # reopening is a manager's call
            body = _ok(_case_call(web_app, who, action, data, *values))
            assert "No such case here; reload the page." in body, (action, data, body[:300])
        body = _ok(_remove(web_app, client, data, numbers[0]))
        assert "No such case here; reload the page." in body, (data, body[:300])
    # Another case's key with a stale version: refused as changed since.
    for action, values in (("lead", (0,)), ("close", ("confirmed_fraud", "tampered", "5")), ("reopen", ("x",))):
        for version in (1, True, 0, -1, 2**40):
            who = clients("manager") if action == "reopen" else client
            body = _ok(_case_call(web_app, who, action, {"key": other, "version": version}, *values))
            assert "changed since you opened it" in body, (action, version, body[:300])
    # Wrong types in the form's own values.
    data = {"key": key, "version": 1}
    for values in ((["confirmed_fraud"], "x", None), ("guilty", "x", None), ("no_fraud", None, None),
                   ("no_fraud", {"a": 1}, None), ("no_fraud", "x", {"a": 1}), ("no_fraud", "x", "NaN"),
                   ("no_fraud", "x", "-5"), ("no_fraud", "x", "1e30"), ("no_fraud", "a\x00b", None),
                   ("no_fraud", "x" * 30_000, None), ("no_fraud", "x", None, "back"),
                   ("no_fraud", "x", None, ["back", "elsewhere"]), ("no_fraud", "x", None, {"back": True}),
                   ("no_fraud", "x", None, [["back"]]), ("no_fraud", "x", None, [{}])):
        body = _ok(_case_call(web_app, client, "close", data, *values))
        assert "danger" in body, values
    for note in (None, "", "   ", 5, ["a"], "a\x00b", "x" * 30_000):
        assert "danger" in _ok(_case_call(web_app, client, "note", data, note)), note
    for lead in ("x", -1, 2**40, True, 1.5):
        assert "danger" in _ok(_case_call(web_app, client, "lead", data, lead)), lead
    for claims in (None, "", 5, ["x"], "CLM-NOPE", "a\x00b", other_numbers[0], "x" * 30_000):
        assert "danger" in _ok(_case_call(web_app, client, "add", data, claims)), claims
    assert _state(app_session, key, other) == before
    assert _case_of(app_session, spare) is None


def test_a_case_store_without_an_int_version_does_not_skip_the_stale_check(web_app, clients, app_session):
    from services import siu_cases

    key, _ = _own_case(app_session, 2)
    app_session(lambda s: siu_cases.set_lead(s, _user(s, MANAGER), key, 1, None))   # version 1 -> 2
    before = _state(app_session, key)
    for version in (None, "1", 1.0, [1]):
        body = _ok(_case_call(web_app, clients("manager"), "close", {"key": key, "version": version},
                              "confirmed_fraud", "decided on a page that was out of date", None))
        assert _state(app_session, key) == before, f"closed with version {version!r}: {body[:200]}"


def test_remove_button_with_a_claim_not_in_the_case(web_app, clients, app_session):
    key, numbers = _own_case(app_session, 2)
    other, other_numbers = _own_case(app_session, 1)
    before = _state(app_session, key, other)
    client = clients("investigator")
    data = {"key": key, "version": _version(app_session, key)}
    for number in (other_numbers[0], "CLM-NOPE", "x" * 41, "a\x00b", " "):
        body = _ok(_remove(web_app, client, data, number))
        assert "danger" in body and "Removed" not in body, (number, body[:300])
    body = _ok(_remove(web_app, client, data, other_numbers[0]))
    assert f"{other_numbers[0]} is not in case {key}." in body
    # The last claim stays.
    body = _ok(_remove(web_app, client, {"key": other, "version": 1}, other_numbers[0]))
    assert "A case keeps at least one claim" in body
    # A claim that is not a claim number (the store comes from the browser) is refused.
    for tampered in (5, None, ["x"], {"claim": "x"}):
        response = _remove(web_app, client, data, tampered)
        assert response.status_code == 200 and "Traceback" not in _text(response), tampered
        assert "Choose the claim to take out of the case again." in _text(response)
    assert _state(app_session, key, other) == before


def test_claim_page_card_with_a_tampered_claim_key(web_app, clients, app_session):
    key, numbers = _own_case(app_session, 1)
    outside = app_session(lambda s: s.scalar(select(Claim.claim_number).where(
        Claim.department_id != _siu(s), Claim.status.in_(OPEN_STATUSES)).order_by(Claim.id)))
    count = _case_count(app_session)
    before = _state(app_session, key)
    for role in ("investigator", "manager"):
        client = clients(role)
        for claim_key in (None, 5, "", "x" * 41, ["CLM-1"], "CLM-NOPE", "CLM\x00", outside):
            for add_to in (None, key):
                body = _ok(_from_claim(web_app, client, claim_key, add_to=add_to))
                assert "danger" in body and "Opened case" not in body and "Added to case" not in body, \
                    (role, claim_key, add_to, body[:300])
        body = _ok(_from_claim(web_app, client, outside))
        if role == "manager":   # the manager sees the claim: told to refer it first
            assert "Not in the Special Investigations queue" in body
        # Already in a case.
        body = _ok(_from_claim(web_app, client, numbers[0]))
        assert "Already in a case" in body and key in body
    assert _case_count(app_session) == count and _case_of(app_session, outside) is None
    assert _state(app_session, key) == before


# --- Work done through the callbacks -------------------------------------------------------------


def test_a_case_from_the_claim_page_worked_closed_and_reopened(web_app, clients, app_session):
    numbers = _refer_to_siu(app_session, 3)
    first, second, third = numbers
    investigator = clients("investigator")
    manager = clients("manager")
    investigator_id = app_session(lambda s: s.scalar(select(User.id).where(User.email == INVESTIGATOR[0])))

    # The claim page offers a case for an SIU claim in no case.
    _, body = render_page(investigator, f"/claims/{first}")
    assert "siu-claim-card" in body and "siu-claim-open" in body
    body = _ok(_from_claim(web_app, investigator, first))
    assert "Opened case C-" in body
    key = _case_of(app_session, first)
    assert key and key in body
    _, body = render_page(investigator, f"/claims/{first}")
    assert "siu-claim-case-link" in body and key in body and "siu-claim-open" not in body
    status, lead, title = app_session(lambda s: s.execute(select(SiuCase.status, SiuCase.lead_id, SiuCase.title)
                                                          .where(SiuCase.key == key)).one())
    assert status == "open" and lead == investigator_id and title == first

    # Another claim joins from its own page, by the case number typed in lower case.
    body = _ok(_from_claim(web_app, investigator, second, add_to=key.lower()))
    assert f"Added to case {key}" in body
    # And one from the case page.
    body = _ok(_case_call(web_app, investigator, "add", {"key": key, "version": _version(app_session, key)},
                          f" {third}, {third} "))
    assert "Added 1 claim." in body and third in body
    assert {_case_of(app_session, n) for n in numbers} == {key}

    # A note, shown in the redrawn activity.
    body = _ok(_case_call(web_app, investigator, "note", {"key": key, "version": _version(app_session, key)},
                          "Recorded statement from the claimant."))
    assert "Note added." in body and "Recorded statement from the claimant." in body
    # Only the activity is redrawn, never the forms (what someone is typing stays), and the note is cleared.
    answer = json.loads(body)["response"]
    assert answer["siu-note"]["value"] == "" and "siu-close-submit" not in body and "siu-lead-submit" not in body
    assert set(answer) == {"siu-case-msg", "siu-case-key", "siu-case-activity", "siu-note"}, set(answer)
    # Take the third out again.
    third_label = app_session(lambda s: s.scalar(select(Claim.fraud_label).where(Claim.claim_number == third)))
    body = _ok(_remove(web_app, investigator, {"key": key, "version": _version(app_session, key)}, third))
    assert f"Removed {third} from the case." in body
    assert json.loads(body)["response"]["siu-remove-modal"]["is_open"] is False
    assert _case_of(app_session, third) is None
    # The lead: nobody, then the investigator again.
    body = _ok(_case_call(web_app, manager, "lead", {"key": key, "version": _version(app_session, key)}, 0))
    assert "Lead changed." in body
    assert app_session(lambda s: s.scalar(select(SiuCase.lead_id).where(SiuCase.key == key))) is None
    _ok(_case_call(web_app, manager, "lead", {"key": key, "version": _version(app_session, key)}, investigator_id))

    # The manager closes it: confirmed fraud, recorded on its claims.
    held = app_session(lambda s: s.scalar(select(Claim.fraud_label).where(Claim.claim_number == first)))
    version = _version(app_session, key)
    body = _ok(_case_call(web_app, manager, "close", {"key": key, "version": version}, "confirmed_fraud",
                          "Shared bank account; claims denied.", "12,500.50"))
    # Closing changes which forms the page has: it is rendered again, with the message.
    href = json.loads(body)["response"]["siu-case-nav"]["href"]
    assert href == f"/siu-cases?case={key}&done=closed", body
    _, page = render_page(manager, "/siu-cases", href.split("/siu-cases", 1)[1])
    assert "Case closed; the finding is recorded on its claims." in page and "siu-reopen-submit" in page
    assert "siu-close-submit" not in page
    labels = app_session(lambda s: dict(s.execute(select(Claim.claim_number, Claim.fraud_label)
                                                  .where(Claim.claim_number.in_(numbers))).all()))
    assert labels[first] is True and labels[second] is True
    assert labels[third] == third_label, "a claim taken out of the case keeps its finding"
    case = app_session(lambda s: s.execute(select(SiuCase.status, SiuCase.outcome, SiuCase.saved_amount)
                                           .where(SiuCase.key == key)).one())
    assert case.status == "closed" and case.outcome == "confirmed_fraud" and float(case.saved_amount) == 12500.50
    # Closing again with the old version is refused.
    body = _ok(_case_call(web_app, manager, "close", {"key": key, "version": version}, "no_fraud", "x", None))
    assert "danger" in body or "warning" in body
    assert app_session(lambda s: s.scalar(select(SiuCase.outcome).where(SiuCase.key == key))) == "confirmed_fraud"
    _, body = render_page(investigator, "/siu-cases", f"?case={key}")
    assert "Shared bank account; claims denied." in body and "Case closed" in body

    # The manager reopens it: the finding is withdrawn, the claims hold what they held before.
    body = _ok(_case_call(web_app, manager, "reopen", {"key": key, "version": _version(app_session, key)},
                          "New evidence from the bank."))
    assert json.loads(body)["response"]["siu-case-nav"]["href"] == f"/siu-cases?case={key}&done=reopened"
    assert app_session(lambda s: s.scalar(select(SiuCase.status).where(SiuCase.key == key))) == "open"
    _, body = render_page(manager, "/siu-cases", f"?case={key}")
    assert "Case reopened" in body and "New evidence from the bank." in body and "siu-close-submit" in body
    assert app_session(lambda s: s.scalar(select(Claim.fraud_label).where(Claim.claim_number == first)
                                          .execution_options(populate_existing=True))) is held


def test_open_from_list_returns_the_new_cases_address(web_app, clients, app_session):
    numbers = _refer_to_siu(app_session, 2)
    outside = app_session(lambda s: s.scalar(select(Claim.claim_number).where(
        Claim.department_id != _siu(s), Claim.status.in_(OPEN_STATUSES)).order_by(Claim.id)))
    client = clients("investigator")
    count = _case_count(app_session)
    for claims, expected in ((None, "List the claim numbers"), ("  ,, ", "List the claim numbers"),
                             (5, "List the claim numbers"), ("CLM-NOPE", "No claim CLM-NOPE"),
                             (f"{numbers[0]} {outside}", f"No claim {outside}"),
                             (numbers[0] + "\x00", "not valid"), ("x" * 30_000, "List the claim numbers")):
        body = _ok(_open_from_list(web_app, client, claims))
        assert expected in body and "/siu-cases?case=" not in body, (claims, body[:300])
    body = _ok(_open_from_list(web_app, client, numbers[0], "t" * 300))
    assert "too long" in body
    assert _case_count(app_session) == count
    response = _ok(_open_from_list(web_app, client, f"{numbers[0]},\n{numbers[1]}", "Two claims, one phone"))
    key = _case_of(app_session, numbers[0])
    assert key and _case_of(app_session, numbers[1]) == key
    href = json.loads(response)["response"]["siu-open-go"]["href"]
    assert href == f"/siu-cases?case={key}"
    assert app_session(lambda s: s.scalar(select(SiuCase.title).where(SiuCase.key == key))) == "Two claims, one phone"
    # The same claims again: already in a case.
    body = _ok(_open_from_list(web_app, client, numbers[1]))
    assert "Already in a case" in body and key in body


def _ring_with_siu_claims_in_no_case(app_session) -> tuple[str, list[str]]:
    """A ring whose SIU claims (as the manager sees it) are in no case; made when the
    demo has none: the manager refers a ring's open claims to SIU."""
    from services import fraud_alerts
    from services.fraud_rings import get_ring
    from services.siu_case_views import open_case_for_ring, ring_claims_for_case

    def find(session):
        manager = _user(session, MANAGER)
        # A ring no open case investigates yet (else its claims join that case).
        for key in session.scalars(select(FraudRing.key).order_by(FraudRing.key)):
            view = get_ring(session, manager, key)
            claims = ring_claims_for_case(session, view) if view else []
            if claims and open_case_for_ring(session, view) is None:
                return key, sorted(c.claim_number for c in claims)
        for key in session.scalars(select(FraudRing.key).order_by(FraudRing.key.desc())):
            view = get_ring(session, manager, key)
            if view and fraud_alerts.ring_claims_to_refer(session, view) and open_case_for_ring(session, view) is None:
                fraud_alerts.refer_ring(session, manager, key, "for the SIU case web tests")
                session.flush()
                return key, sorted(c.claim_number for c in ring_claims_for_case(session, get_ring(session, manager,
                                                                                                  key)))
        return None, []

    key, numbers = app_session(find)
    if key is None:
        # Earlier runs on this web database took every demo ring: a ring of its own, of two
        # claims just referred to SIU (the hourly job would replace it; tests do not run it).
        numbers = sorted(_refer_to_siu(app_session, 2))

        def make(session):
            from tests.siuutil import ring

            claims = list(session.scalars(select(Claim).where(Claim.claim_number.in_(numbers))))
            own = f"{OWN_RING}{uuid.uuid4().hex[:10].upper()}"
            ring(session, own, claims)
            return own
        key = app_session(make)
    return key, numbers


def test_a_case_for_a_ring_from_its_page(web_app, clients, app_session):
    key, expected = _ring_with_siu_claims_in_no_case(app_session)
    assert key and expected, "the web database has a ring with open claims"
    manager = clients("manager")
    _, body = render_page(manager, "/rings", f"?ring={key}")
    assert "ring-case-submit" in body and f"Open a case for {len(expected)} claim" in body
    _, body = render_page(clients("viewer"), "/rings", f"?ring={key}")
    assert "ring-case-submit" not in body
    count = _case_count(app_session)
    assert _for_ring(web_app, clients("viewer"), key).status_code == 403
    body = _ok(_for_ring(web_app, clients("adjuster"), key))
    assert "danger" in body and "Opened case" not in body
    for bad in (None, 5, "R-NOPE", ["R-1"], "x" * 30, "R\x00"):
        body = _ok(_for_ring(web_app, manager, bad))
        assert "There is no such ring any more" in body, bad
    assert _case_count(app_session) == count

    body = _ok(_for_ring(web_app, manager, key))
    assert "Opened case C-" in body
    case_key = _case_of(app_session, expected[0])
    assert case_key and case_key in body
    assert {_case_of(app_session, n) for n in expected} == {case_key}
    ring_key, title = app_session(lambda s: s.execute(select(SiuCase.ring_key, SiuCase.title)
                                                      .where(SiuCase.key == case_key)).one())
    assert ring_key == key and title == f"Possible ring {key}"
    # Nothing left to open a case for.
    body = _ok(_for_ring(web_app, manager, key))
    assert f"No claim of ring {key} is in the SIU queue and in no case." in body
    assert _case_count(app_session) == count + 1
    _, body = render_page(manager, "/rings", f"?ring={key}")
    assert "ring-case-submit" not in body
    _, body = render_page(clients("investigator"), "/siu-cases", f"?case={case_key}")
    assert f"from possible ring {key}" in body and all(n in body for n in expected)


def test_a_lead_of_the_wrong_type_gets_the_clear_refusal(web_app, clients, app_session):
    key, _ = _own_case(app_session, 1)
    before = _state(app_session, key)
    for lead in ([1], {"id": 1}):
        body = _text(_case_call(web_app, clients("manager"), "lead", {"key": key, "version": 1}, lead))
        assert "Choose a member of Special Investigations" in body, (lead, body[:300])
    assert _state(app_session, key) == before


def test_an_amount_saved_that_rounds_past_the_limit_gets_the_clear_refusal(web_app, clients, app_session):
    key, _ = _own_case(app_session, 1)
    before = _state(app_session, key)
    body = _text(_case_call(web_app, clients("manager"), "close", {"key": key, "version": 1}, "no_fraud",
                            "Nothing found.", "999999999999.999"))
    assert "The amount saved must be zero or more, and less than a trillion." in body, body[:300]
    assert _state(app_session, key) == before


def test_my_work_points_an_investigator_to_the_cases_they_lead(clients, app_session):
    """Open cases are an investigator's work too: "My work" says how many they lead, and
    only they see the line."""
    from db.models import User

    def led(s):
        me = s.scalar(select(User.id).where(User.email == INVESTIGATOR[0]))
        return s.scalar(select(func.count()).select_from(SiuCase).where(SiuCase.lead_id == me,
                                                                        SiuCase.status == "open"))

    n = app_session(led)
    assert n > 0, "the demo gives the SIU demo login open cases to lead"
    status, body = render_page(clients("investigator"), "/my-work")
    assert status == 200 and f"You lead {n} open SIU case" in body and "siu-cases?mine=1" in body
    for role in ("adjuster", "manager"):
        status, body = render_page(clients(role), "/my-work")
        assert status == 200 and "my-work-cases" not in body


def test_the_referred_tab_shows_what_siu_made_of_a_referral(clients, app_session):
    """A manager refers a flagged claim; once SIU opens a case on it the Referred tab names the
    case, and its outcome once closed."""
    from services import fraud_alerts, siu_cases

    def refer(session):
        manager = _user(session, MANAGER)
        avoid = set(session.scalars(select(Department.id).where(Department.code.in_(NOT_SIU_DEPARTMENTS))))
        claim = session.scalar(select(Claim).outerjoin(FraudAlert, FraudAlert.claim_id == Claim.id)
                               .where(Claim.status.in_(OPEN_STATUSES), Claim.department_id != _siu(session),
                                      Claim.department_id.not_in(avoid), FraudAlert.id.is_(None))
                               .order_by(Claim.id.desc()))
        alert = fraud_alerts.flag(session, manager, claim.id, "story changed twice")
        fraud_alerts.refer(session, manager, alert.id, alert.version, "please look")
        return claim.claim_number

    number = app_session(refer)
    manager = clients("manager")
    _, body = render_page(manager, "/fraud-alerts", f"?status=referred&claim={number}")
    assert number in body and "fraud-case-line" not in body      # no case yet

    key = app_session(lambda s: siu_cases.open_case(s, _user(s, INVESTIGATOR[0]), [number]).key)
    _, body = render_page(manager, "/fraud-alerts", f"?status=referred&claim={number}")
    assert "fraud-case-line" in body and key in body and ": open" in body

    def close(session):
        case = session.scalar(select(SiuCase).where(SiuCase.key == key))
        siu_cases.close_case(session, _user(session, INVESTIGATOR[0]), key, case.version, "no_fraud",
                             "Story checked with the witness.")

    app_session(close)
    _, body = render_page(manager, "/fraud-alerts", f"?status=referred&claim={number}")
    assert ": no fraud found" in body and "Story checked" not in body   # the outcome, not the findings
    # The viewer reads the referral but not investigations.
    _, body = render_page(clients("viewer"), "/fraud-alerts", f"?status=referred&claim={number}")
    assert number in body and key not in body


def _dashboard_siu(web_app, client, search: str):
    # A callback of one output: the browser sends that output as an object, not a list.
    return client.post("/_dash-update-component", json={
        "output": "dashboard-siu.children", "outputs": {"id": "dashboard-siu", "property": "children"},
        "inputs": [{"id": "dashboard-url", "property": "search", "value": search}], "state": [],
        "changedPropIds": ["dashboard-url.search"]})


def test_the_dashboard_shows_what_siu_did_in_its_period(web_app, clients, app_session):
    """Viewers and managers read Special Investigations' figures for the dashboard's period and line;
    adjusters cannot call it; a bad filter shows nothing here (the main figures say why)."""
    import datetime as dt

    from services.siu_case_views import period_results

    end = dt.date.today()
    start = end - dt.timedelta(days=89)
    search = f"?start={start}&end={end}"
    want = app_session(lambda s: period_results(s, start, end))
    before = app_session(lambda s: period_results(s, start - dt.timedelta(days=90), start - dt.timedelta(days=1)))
    assert want["opened"] > 0, "the demo opens cases in the last 90 days"
    for role in ("viewer", "manager"):
        body = _ok(_dashboard_siu(web_app, clients(role), search))
        assert "Special Investigations in this period" in body
        assert f'"children":"{want["opened"]:,}"' in body and f"previous period: {before['opened']:,}" in body
        assert "All departments" not in body
    body = _ok(_dashboard_siu(web_app, clients("viewer"), search + "&department=AUTO_PD"))
    assert "All departments" in body
    auto = app_session(lambda s: period_results(s, start, end, line="auto"))
    body = _ok(_dashboard_siu(web_app, clients("viewer"), search + "&line=auto"))
    assert f'"children":"{auto["opened"]:,}"' in body
    assert _dashboard_siu(web_app, clients("adjuster"), search).status_code == 403
    body = _ok(_dashboard_siu(web_app, clients("viewer"), "?start=2026-13-01"))
    assert "Special Investigations" not in body


def test_closing_with_no_fraud_can_send_the_claims_back_from_the_page(web_app, clients, app_session):
    def departments(numbers):
        return app_session(lambda s: dict(s.execute(select(Claim.claim_number, Claim.department_id)
                                                    .where(Claim.claim_number.in_(numbers))).all()))

    # Where the claims were before the referral that _own_case makes.
    def candidates(session):
        return session.execute(select(Claim.claim_number, Claim.department_id).where(
            Claim.status.in_(OPEN_STATUSES), Claim.department_id != _siu(session)).order_by(Claim.id)).all()
    before = dict(app_session(candidates))
    key, numbers = _own_case(app_session, 2)
    assert set(departments(numbers).values()) == {app_session(_siu)}
    body = _ok(_case_call(web_app, clients("investigator"), "close", {"key": key, "version": _version(app_session,
                                                                                                        key)},
                          "no_fraud", "Loss verified with the police report.", None, ["back"]))
    assert json.loads(body)["response"]["siu-case-nav"]["href"].endswith("done=closed")
    assert departments(numbers) == {n: before[n] for n in numbers}
    _, page = render_page(clients("investigator"), "/siu-cases", f"?case={key}")
    assert "2 open claims sent back to their departments" in page


def test_the_closed_message_shows_only_while_the_case_is_closed(clients, app_session):
    key, _ = _own_case(app_session, 1)   # open
    _, page = render_page(clients("investigator"), "/siu-cases", f"?case={key}&done=closed")
    assert "Case closed; the finding is recorded" not in page
    _, page = render_page(clients("investigator"), "/siu-cases", f"?case={key}&done=reopened")
    assert "Case reopened." in page


def _send_back(web_app, client, number, version, reason="Not for SIU: the shop confirmed the repair."):
    key = _callback_key(web_app, "siu-claim-back")
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs_of(key),
        "inputs": [{"id": "siu-claim-back", "property": "n_clicks", "value": 1}],
        "state": [{"id": "siu-claim-back-note", "property": "value", "value": reason},
                  {"id": "claim-key", "property": "data", "value": number},
                  {"id": "claim-seen", "property": "data", "value": {"version": version}}],
        "changedPropIds": ["siu-claim-back.n_clicks"]})


def test_siu_sends_a_referral_back_from_the_claim_page(web_app, clients, app_session):
    def where(number):
        return app_session(lambda s: s.execute(select(Claim.department_id, Claim.version)
                                               .where(Claim.claim_number == number)).one())

    def candidates(session):
        return dict(session.execute(select(Claim.claim_number, Claim.department_id).where(
            Claim.status.in_(OPEN_STATUSES), Claim.department_id != _siu(session)).order_by(Claim.id)).all())
    before = app_session(candidates)
    (number,) = _refer_to_siu(app_session, 1)
    _, page = render_page(clients("investigator"), f"/claims/{number}")
    assert "siu-claim-back" in page and "Not for Special Investigations?" in page
    _, page = render_page(clients("viewer"), f"/claims/{number}")
    assert "siu-claim-back" not in page
    dept, version = where(number)
    assert _send_back(web_app, clients("viewer"), number, version).status_code == 403
    # An adjuster outside SIU cannot see the claim: the answer an unknown claim gets.
    assert "No such claim in the Special Investigations queue" in _ok(
        _send_back(web_app, clients("adjuster"), number, version))
    for bad_version in (version - 1, None, "1", True):
        body = _ok(_send_back(web_app, clients("investigator"), number, bad_version))
        assert "changed since you opened it" in body, (bad_version, body[:200])
    for reason in ("", None, 5, "x" * 30_000):
        assert "danger" in _ok(_send_back(web_app, clients("investigator"), number, version, reason)), reason
    for bad_number in (None, 5, "CLM-NOPE", "x" * 41):
        assert "danger" in _ok(_send_back(web_app, clients("investigator"), bad_number, version)), bad_number
    assert where(number) == (dept, version)
    body = _ok(_send_back(web_app, clients("investigator"), number, version))
    assert "went back to" in body
    assert where(number)[0] == before[number]


def test_no_callback_listens_to_the_rows_remove_buttons(web_app, clients, app_session):
    """A callback whose inputs are in a redrawn part of the page is called by Dash at each redraw
    (prevent_initial_call or not): the rows' Remove buttons carry the claim (data-siu-remove)
    and no Dash id, and the confirmation drawn once with the page calls the server."""
    assert not [k for k, entry in web_app.callback_map.items()
                if any("siu-remove" in str(i.get("id")) and isinstance(i.get("id"), dict) for i in entry["inputs"])]
    key, numbers = _own_case(app_session, 2)
    _, page = render_page(clients("investigator"), "/siu-cases", f"?case={key}")
    assert all(f'"data-siu-remove":"{n}"' in page.replace(" ", "") for n in numbers)
    assert "siu-remove-modal" in page and "siu-remove-confirm" in page


def test_a_sent_back_claim_reads_as_sent_back_on_the_closed_case(web_app, clients, app_session):
    key, numbers = _own_case(app_session, 2)
    _ok(_case_call(web_app, clients("investigator"), "close", {"key": key, "version": _version(app_session, key)},
                   "no_fraud", "Loss verified.", None, ["back"]))
    _, page = render_page(clients("investigator"), "/siu-cases", f"?case={key}")
    assert page.count("Sent back to ") == 2 and "2 sent back" in page and "siu-claims-away-note" in page
    # Not a live member: no "Remove", and not its status in a queue the investigator does not work.
    assert "data-siu-remove" not in page and "In a department you do not work" in page


def _ask_close(web_app, client, data, outcome, findings, saved=None, send_back=None, cancel=False):
    button = "siu-close-cancel" if cancel else "siu-close-submit"
    return call_callback(
        web_app, client, "siu-close-text.children",
        [("siu-close-modal", "is_open"), ("siu-close-text", "children"), ("siu-case-msg", "children")],
        [("siu-close-submit", "n_clicks", None if cancel else 1), ("siu-close-cancel", "n_clicks", 1 if cancel else None)],
        [("siu-outcome", "value", outcome), ("siu-findings", "value", findings), ("siu-saved", "value", saved),
         ("siu-send-back", "value", send_back), ("siu-case-key", "data", data)], changed=button)


def test_closing_asks_first_and_says_the_claims_leave_siu(web_app, clients, app_session):
    key, numbers = _own_case(app_session, 2)
    before = _state(app_session, key)
    data = {"key": key, "version": _version(app_session, key)}
    client = clients("investigator")
    # The form is checked before the question: nothing is asked about a close that would be refused.
    for outcome, findings, saved, refusal in ((None, "x", None, "Choose the outcome"),
                                              ("no_fraud", "  ", None, "Write the findings"),
                                              ("no_fraud", "x", "two thousand", "amount saved must be a number")):
        answer = _ok(_ask_close(web_app, client, data, outcome, findings, saved))
        assert refusal in answer and json.loads(answer)["response"]["siu-close-modal"]["is_open"] is False
    answer = json.loads(_ok(_ask_close(web_app, client, data, "no_fraud", "Loss verified.", None, ["back"])))
    text = str(answer["response"]["siu-close-text"]["children"])
    assert answer["response"]["siu-close-modal"]["is_open"] is True
    assert "No fraud found" in text and "2 open claims go back to their departments" in text
    assert "no longer see them" in text
    answer = json.loads(_ok(_ask_close(web_app, client, data, "inconclusive", "Unclear.", None, [])))
    assert "go back" not in str(answer["response"]["siu-close-text"]["children"])
    assert json.loads(_ok(_ask_close(web_app, client, data, "no_fraud", "x", cancel=True)))["response"][
        "siu-close-modal"]["is_open"] is False
    # Asking wrote nothing.
    assert _state(app_session, key) == before
    assert _ask_close(web_app, clients("viewer"), data, "no_fraud", "x").status_code in (204, 403)


def test_a_rings_remaining_claims_join_the_case_already_investigating_it(web_app, clients, app_session):
    """A ring is worked as one case: when a case investigates it, the ring page offers to add the
    ring's other claims in the SIU queue to that case, not to open a second one."""
    from services import siu_cases

    key, expected = _ring_with_siu_claims_in_no_case(app_session)
    assert key and expected, "the web database has a ring with open claims"
    manager = clients("manager")
    existing = app_session(lambda s: siu_cases.open_case(s, _user(s, MANAGER), expected[:1], ring_key=key).key)
    rest = expected[1:]
    if not rest:   # a ring of one SIU claim here: take it out again, then it is the one left
        return
    _, body = render_page(manager, "/rings", f"?ring={key}")
    assert f"Add {len(rest)} claim" in body and f"to {existing}" in body and "Open a case for" not in body
    count = _case_count(app_session)
    body = _ok(_for_ring(web_app, manager, key))
    assert f"Added {len(rest)} claim" in body and f"to case {existing}" in body
    assert _case_count(app_session) == count
    assert {_case_of(app_session, n) for n in expected} == {existing}


def test_an_investigator_on_fraud_alerts_is_told_why_the_list_is_empty(clients):
    """Alerts are on claims outside SIU, so an SIU adjuster's open list is always empty: it says
    why and points to the cases, rather than "No open alerts on the claims you can open"."""
    _, page = render_page(clients("investigator"), "/fraud-alerts")
    assert "you work only its queue" in page and "fraud-go-cases" in page
    _, page = render_page(clients("investigator"), "/fraud-alerts", "?status=dismissed")
    assert "you work only its queue" not in page
    for role in ("adjuster", "manager"):
        _, page = render_page(clients(role), "/fraud-alerts")
        assert "you work only its queue" not in page, role


def test_the_cases_list_names_the_referred_claims_in_no_case(clients, app_session):
    (number,) = _refer_to_siu(app_session, 1)
    _, page = render_page(clients("investigator"), "/siu-cases")
    assert "siu-awaiting" in page and "referred claim" in page and "in no case yet" in page
    from services.siu_case_views import claims_awaiting_case, claims_awaiting_case_list

    listed = app_session(lambda s: claims_awaiting_case_list(s, limit=500))
    assert number in {c.claim_number for c in listed}
    assert len(listed) == min(500, app_session(claims_awaiting_case))
    dates = [c.report_date for c in listed if c.report_date is not None]
    assert dates == sorted(dates)
    _open_case(app_session, [number])
    assert number not in {c.claim_number for c in app_session(lambda s: claims_awaiting_case_list(s, limit=500))}
    # Not on the closed list, nor for a viewer (the totals only).
    _, page = render_page(clients("investigator"), "/siu-cases", "?status=closed")
    assert "siu-awaiting" not in page
    _, page = render_page(clients("viewer"), "/siu-cases")
    assert "siu-awaiting" not in page


# --- The claim page once SIU has sent its claim back, and its "Add to case" list --------------------


def _press_status(web_app, client, number, version, action="assign_me"):
    (key,) = [k for k in web_app.callback_map if "claim-action-msg.children" in k]
    return client.post("/_dash-update-component", json={
        "output": key, "outputs": outputs_of(key),
        "inputs": [{"id": "claim-ask", "property": "data", "value": {"action": action, "at": 1}}],
        "state": [{"id": "claim-key", "property": "data", "value": number},
                  {"id": "claim-seen", "property": "data", "value": {"version": version, "decision_id": None}}],
        "changedPropIds": ["claim-ask.data"]})


def _note(web_app, client, number, text="Still looking into it."):
    return call_callback(web_app, client, "note-msg.children",
                         [("note-msg", "children"), ("note-text", "value"), ("claim-refresh", "data")],
                         [("note-submit", "n_clicks", 1)], [("note-text", "value", text), ("claim-key", "data", number)])


def test_sent_back_the_claim_page_says_where_it_went_and_stale_buttons_are_refused(web_app, clients, app_session):
    def state(number):
        return app_session(lambda s: s.execute(select(Claim.department_id, Claim.version, Claim.adjuster_id,
                                                      Claim.status).where(Claim.claim_number == number)).one())

    first, second = _refer_to_siu(app_session, 2)
    open_key, _ = _own_case(app_session, 1)   # before the send-back: it could refer the claim sent back again
    version = state(first)[1]
    response = _ok(_send_back(web_app, clients("investigator"), first, version))
    body = json.loads(response)["response"]
    # The whole claim gives way to where it went: none of its actions stays on screen.
    shown = json.dumps(body["claim-page-body"]["children"])
    dept = app_session(lambda s: s.scalar(select(Department.name).join(Claim, Claim.department_id == Department.id)
                                          .where(Claim.claim_number == first)))
    assert f"{first} went back to {dept} and has left your queue" in shown
    assert '"href": "/siu-cases"' in shown
    for gone in ("siu-claim-back", "siu-claim-open", "siu-claim-add", "claim-ask", "note-submit", "fb-submit"):
        assert gone not in shown, gone
    # Buttons pressed on a page left open (another tab): refused in words, nothing changes.
    after = state(first)
    investigator = clients("investigator")
    for name, response in (("status", _press_status(web_app, investigator, first, after[1])),
                           ("note", _note(web_app, investigator, first)),
                           ("open a case", _from_claim(web_app, investigator, first)),
                           ("add to case", _from_claim(web_app, investigator, first, add_to=open_key)),
                           ("send back", _send_back(web_app, investigator, first, after[1]))):
        text = _ok(response)
        assert "danger" in text and ("does not exist" in text or "No such claim" in text), (name, text[:300])
    assert state(first) == after and _case_of(app_session, first) is None
    # A manager still sees the claim (every department): offered to open it again.
    shown = json.dumps(json.loads(_ok(_send_back(web_app, clients("manager"), second, state(second)[1])))
                       ["response"]["claim-page-body"]["children"])
    assert f"Open {second} again" in shown and "left the Special Investigations queue" in shown


def test_add_to_case_offers_the_open_cases_most_recent_first(web_app, clients, app_session):
    from services import siu_cases

    (number,) = _refer_to_siu(app_session, 1)
    older, _ = _own_case(app_session, 1)
    newer, _ = _own_case(app_session, 1)
    closed, _ = _own_case(app_session, 1)
    app_session(lambda s: siu_cases.close_case(s, _user(s, MANAGER), closed, 1, "no_fraud", "Nothing found."))
    _, page = render_page(clients("investigator"), f"/claims/{number}")
    page = page.replace(" ", "")
    assert f'"value":"{newer}"' in page and f'"value":"{older}"' in page and f'"value":"{closed}"' not in page
    assert page.index(f'"value":"{newer}"') < page.index(f'"value":"{older}"')
    assert f'"label":"{newer}\\u00b7webtestcase"' in page   # key · title
    assert "Casenumber,e.g." not in page   # the list is searchable by key and title: nothing to type whole


def test_add_to_case_refuses_values_not_an_open_case(web_app, clients, app_session):
    from services import siu_cases

    (number,) = _refer_to_siu(app_session, 1)
    key, _ = _own_case(app_session, 1)
    closed, _ = _own_case(app_session, 1)
    app_session(lambda s: siu_cases.close_case(s, _user(s, MANAGER), closed, 1, "no_fraud", "Nothing found."))
    before = _state(app_session, key, closed)
    for tampered in ("", "  ", 5, ["C-000001"], {"key": key}, "C-999999999", "x" * 21, "C-0000\x0012",
                     key + "; DROP", closed):
        body = _ok(_from_claim(web_app, clients("investigator"), number, add_to=tampered))
        assert "danger" in body and "Added to case" not in body, (tampered, body[:300])
        if not isinstance(tampered, str) or not 0 < len(tampered.strip()) <= 20:
            assert "Choose the case to add it to." in body, tampered
    assert "is closed" in _ok(_from_claim(web_app, clients("investigator"), number, add_to=closed))
    assert _case_of(app_session, number) is None and _state(app_session, key, closed) == before
    assert f"Added to case {key}" in _ok(_from_claim(web_app, clients("investigator"), number, add_to=key))
    assert _case_of(app_session, number) == key
