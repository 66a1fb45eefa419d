"""Tampered addresses and callback payloads on the Fraud alerts page and the claim
page's decision (from a review: each failed before its fix)."""
from __future__ import annotations

from sqlalchemy import select

from db.models import Claim, Department, FraudAlert
from services import fraud_alerts
from tests.webutil import call_callback, render_page


def _two_open_alerts(app_session):
    """Two open alerts of their own (flagged by the demo manager) on claims outside SIU."""
    def make(session):
        from auth.current import SessionUser
        from db.models import User

        manager = SessionUser.from_model(session.scalar(select(User).where(User.email == "manager@scope.example")))
        siu = session.scalar(select(Department.id).where(Department.code == "SIU"))
        claims = session.scalars(select(Claim).outerjoin(FraudAlert, FraudAlert.claim_id == Claim.id)
                                 .where(Claim.status == "new", Claim.department_id != siu, FraudAlert.id.is_(None))
                                 .order_by(Claim.id.desc()).limit(2)).all()
        alerts = [fraud_alerts.flag(session, manager, c.id, "for the review tests") for c in claims]
        return [(a.id, a.version, c.claim_number) for a, c in zip(alerts, claims)]

    return app_session(make)


def _claim_page_decision(web_app, client, button: str, pending, claim_number: str, note: str):
    return call_callback(
        web_app, client, "fraud-claim-msg.children",
        [("fraud-card-area", "children"), ("fraud-claim-msg", "children"), ("claim-refresh", "data")],
        [("fraud-claim-refer", "n_clicks", 1 if button == "refer" else None),
         ("fraud-claim-dismiss", "n_clicks", 1 if button == "dismiss" else None)],
        [("fraud-claim-note", "value", note), ("fraud-claim-alert", "data", pending),
         ("claim-key", "data", claim_number)], changed=f"fraud-claim-{button}")


def test_deciding_on_the_claim_page_acts_only_on_that_claims_alert(web_app, client_for, app_session):
    """The alert id comes from the page: one of another claim is refused and nothing changes."""
    (a_id, a_version, a_claim), (b_id, b_version, b_claim) = _two_open_alerts(app_session)
    client = client_for("manager")
    response = _claim_page_decision(web_app, client, "dismiss", {"alert": b_id, "version": b_version}, a_claim,
                                    "tampered")
    assert response.status_code == 200 and "No such alert here" in response.get_data(as_text=True)
    for bad in (None, "x", {"alert": True, "version": 1}, {"alert": a_id, "version": "1"}):
        response = _claim_page_decision(web_app, client, "dismiss", bad, a_claim, "tampered")
        assert response.status_code == 200 and "Traceback" not in response.get_data(as_text=True)
    statuses = app_session(lambda s: dict(s.execute(select(FraudAlert.id, FraudAlert.status)
                                                    .where(FraudAlert.id.in_([a_id, b_id]))).all()))
    assert statuses == {a_id: "open", b_id: "open"}
    # The viewer's and the adjuster's roles cannot decide at all.
    for role in ("viewer", "adjuster"):
        response = _claim_page_decision(web_app, client_for(role), "dismiss", {"alert": a_id, "version": a_version},
                                        a_claim, "no")
        assert response.status_code == 403
    response = _claim_page_decision(web_app, client, "dismiss", {"alert": a_id, "version": a_version}, a_claim,
                                    "Checked: genuine")
    assert "Dismissed" in response.get_data(as_text=True)
    assert app_session(lambda s: s.get(FraudAlert, a_id).status) == "dismissed"


def _status(app_session, alert_id):
    return app_session(lambda s: s.scalar(select(FraudAlert.status).where(FraudAlert.id == alert_id)
                                          .execution_options(populate_existing=True)))


# --- 1. The claim page decides another claim's alert when claim-key is null ----------------------


def test_claim_page_decision_with_a_null_claim_key_does_not_decide_another_claims_alert(
        web_app, client_for, app_session):
    """decide_on_claim passes the client's claim-key to _decide(claim_number=...), which
    only compares the alert's claim when claim_number is not None: a tampered store
    with claim-key null and any alert id dismisses (or refers) that alert, although
    the callback is meant to act only on the page's own claim's alert."""
    (_a_id, _a_version, _a_claim), (b_id, b_version, _b_claim) = _two_open_alerts(app_session)
    client = client_for("manager")
    response = _claim_page_decision(web_app, client, "dismiss", {"alert": b_id, "version": b_version}, None,
                                    "tampered: no claim on this page")
    assert response.status_code == 200 and "Traceback" not in response.get_data(as_text=True)
    assert _status(app_session, b_id) == "open", \
        "an alert was dismissed from a claim page whose claim-key was null (no claim at all)"


# --- 2. ?page= with a Unicode digit is a 500 ------------------------------------------------------


def test_fraud_alerts_page_number_that_is_a_unicode_digit_is_not_a_500(web_app, client_for):
    """pages/fraud_alerts._page_number checks str.isdigit(), which is true for '²'
    (and other superscript digits), then int('²') raises ValueError: a 500."""
    for search in ("?page=%C2%B2", "?page=1%C2%B2", "?status=referred&page=%C2%B3"):
        status, body = render_page(client_for("manager"), "/fraud-alerts", search)
        assert status == 200, (search, body[:200])


# --- 3. A NUL in the claim filter is a 500 (page and list redraw) ----------------------------------


def test_fraud_alerts_claim_filter_with_a_nul_is_not_a_500(web_app, client_for):
    """The new claim filter keeps any non-empty string ("lists nothing, not
    everything"), and list_alerts sends it to PostgreSQL, which refuses NUL bytes:
    psycopg DataError, a 500. (get_claim refuses non-printable claim numbers for
    this reason; list_alerts does not.)"""
    status, body = render_page(client_for("adjuster"), "/fraud-alerts", "?claim=PTY%00")
    assert status == 200, body[:200]


def _list_decision(web_app, client, pending, view):
    return call_callback(
        web_app, client, "fraud-list.children",
        [("fraud-modal", "is_open"), ("fraud-modal-msg", "children"), ("fraud-result", "children"),
         ("fraud-summary", "children"), ("fraud-list", "children")],
        [("fraud-modal-confirm", "n_clicks", 1)],
        [("fraud-pending", "data", pending), ("fraud-modal-note", "value", "checked"), ("fraud-view", "data", view)])


def test_list_redraw_with_a_nul_claim_in_the_view_store_is_not_a_500(web_app, client_for):
    """decide() redraws the list from the fraud-view store (client data) after any
    decision or refusal; _list keeps a claim of 1-40 characters, NUL included, and
    list_alerts' query fails: a 500 -- after the decision was committed when it
    succeeded. Here the alert does not exist (nothing changes) and the redraw fails."""
    pending = {"action": "dismiss", "alert": 2**62, "version": 1, "claim": "PTY-000001"}
    response = _list_decision(web_app, client_for("manager"), pending, {"claim": "A\x00B", "page": 1})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


# --- 4. (pre-existing, same page) a repeated ?status= is a 500 --------------------------------------


def test_fraud_alerts_repeated_status_query_is_not_a_500(web_app, client_for):
    """Dash passes a repeated query key as a list; `status in STATUS_LABELS` then raises
    TypeError (unhashable list). Not introduced by this diff (the line is older), but
    the same tampered-query class as ?page= / ?claim= and on the same page."""
    status, body = render_page(client_for("viewer"), "/fraud-alerts", "?status=open&status=referred")
    assert status == 200, body[:200]


# --- Referring a whole ring ----------------------------------------------------------------------


def _refer_ring(web_app, client, key, note="from the test"):
    return call_callback(
        web_app, client, "ring-refer-msg.children",
        [("ring-refer-msg", "children"), ("ring-refer-submit", "disabled")],
        [("ring-refer-submit", "n_clicks", 1)],
        [("ring-refer-note", "value", note), ("ring-refer-key", "data", key)])


def test_a_ring_is_referred_from_its_page_by_managers_only(web_app, client_for, app_session):
    from db.models import FraudRing

    def ring_with_open_claims(session):
        siu = session.scalar(select(Department.id).where(Department.code == "SIU"))
        for ring in session.scalars(select(FraudRing).order_by(FraudRing.key)):
            open_ids = session.scalars(select(Claim.id).where(Claim.id.in_(ring.claim_ids), Claim.status != "closed",
                                                              Claim.department_id != siu)).all()
            if open_ids:
                return ring.key, len(open_ids)
        return None, 0

    key, n = app_session(ring_with_open_claims)
    assert key, "the web database has a ring with open claims outside SIU"
    _, body = render_page(client_for("manager"), "/rings", f"?ring={key}")
    assert "Refer the ring to SIU" in body and f"Refer {n} claim" in body
    _, body = render_page(client_for("viewer"), "/rings", f"?ring={key}")
    assert "Refer the ring to SIU" not in body
    assert _refer_ring(web_app, client_for("viewer"), key).status_code == 403
    for bad in ("R-NOPE", None, 5, {"key": key}):
        response = _refer_ring(web_app, client_for("manager"), bad)
        assert response.status_code == 200 and "no such ring" in response.get_data(as_text=True)
    response = _refer_ring(web_app, client_for("manager"), key, "x" * 5000)
    assert "far too long" in response.get_data(as_text=True)
    response = _refer_ring(web_app, client_for("manager"), key)
    assert f"Referred {n} claim" in response.get_data(as_text=True)
    _, body = render_page(client_for("manager"), "/rings", f"?ring={key}")
    assert "Refer the ring to SIU" not in body  # nothing left to refer


# --- A redrawn list calls nothing; a row's button opens the dialog through the page's store ---------


def _ask(web_app, client, ask):
    return call_callback(
        web_app, client, "fraud-modal-title.children",
        [("fraud-modal", "is_open"), ("fraud-modal-title", "children"), ("fraud-modal-text", "children"),
         ("fraud-modal-note-label", "children"), ("fraud-modal-note", "value"), ("fraud-modal-msg", "children"),
         ("fraud-pending", "data"), ("fraud-result", "children")],
        [("fraud-ask", "data", ask), ("fraud-modal-cancel", "n_clicks", None)])


def test_the_rows_buttons_are_not_dash_inputs_and_open_the_dialog_through_a_store(web_app, client_for):
    """Dash calls a callback whose inputs appear in a redrawn part of the page (prevent_initial_call
    or not): a pattern-matching callback on the rows' buttons posted every button of the list after
    each decision. The rows carry their alert in data attributes; the page's script puts the
    clicked one in "fraud-ask"."""
    assert not [k for k, entry in web_app.callback_map.items()
                if any(isinstance(i.get("id"), dict) and "fraud-decide" in str(i["id"]) for i in entry["inputs"])]
    status, page = render_page(client_for("manager"), "/fraud-alerts")
    assert status == 200 and "fraud-ask" in page
    if '"data-fraud-decide":"refer"' in page.replace(" ", ""):
        assert '"data-alert":' in page.replace(" ", "") and '"data-version":' in page.replace(" ", "")
    manager = client_for("manager")
    ask = {"action": "refer", "alert": 12, "version": 3, "claim": "PTY-000001", "at": 1765000000000}
    answer = _ask(web_app, manager, ask).get_json()["response"]
    assert answer["fraud-modal"]["is_open"] is True
    assert answer["fraud-pending"]["data"] == {"action": "refer", "alert": 12, "version": 3, "claim": "PTY-000001"}
    assert "Refer PTY-000001" in str(answer["fraud-modal-title"])
    # What the browser sends is checked for shape; anything else opens nothing.
    for tampered in (None, {"action": "delete", "alert": 1, "version": 1, "claim": "X"},
                     {"action": "refer", "alert": "1", "version": 1, "claim": "X"}, ["refer"]):
        assert _ask(web_app, manager, tampered).status_code == 204, tampered
    # Managers decide: an adjuster's request is refused before anything runs.
    assert _ask(web_app, client_for("adjuster"), ask).status_code in (204, 403)
