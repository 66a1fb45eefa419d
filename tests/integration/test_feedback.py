"""Feedback on routing decisions: the service, and the claim page's callbacks as the browser calls them."""
from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
from sqlalchemy import select

from db.models import AuditLog, ClaimEvent, Department, ModelVersion, RoutingDecision, RoutingFeedback
from services.access import AccessDenied
from services.feedback import COMMENT_MAX, REASONS, agreement_rate, current_verdict, give_feedback
from services.workflow import ConflictError, WorkflowError
from tests.integration.test_claim_workflow import make_claim, make_user
from tests.webutil import outputs_of

_seq = itertools.count(1)


def make_decision(session, claim, dept_code="AUTO_PD"):
    dept_id = session.scalar(select(Department.id).where(Department.code == dept_code))
    mv = ModelVersion(dataset=claim.dataset, version=f"fbtest-{next(_seq)}-{claim.id}", status="candidate",
                      params={}, feature_schema={}, classes=[dept_code], metrics={}, n_train=0, n_holdout=0,
                      artifact=b"")
    session.add(mv)
    session.flush()
    d = RoutingDecision(claim_id=claim.id, model_version_id=mv.id, predicted_department_id=dept_id,
                        routed_department_id=dept_id, probabilities={dept_code: 0.9}, confidence=0.9, threshold=0.5,
                        features={}, shap_values={}, shap_method="exact", drivers=[])
    session.add(d)
    session.flush()
    return d


def test_agree_then_change_mind_keeps_history(db_session):
    adj = make_user(db_session, "adjuster", ("AUTO_PD",))
    claim = make_claim(db_session)
    decision = make_decision(db_session, claim)
    give_feedback(db_session, adj, claim.claim_number, agrees=True, decision_id=decision.id)
    give_feedback(db_session, adj, claim.claim_number, agrees=False, reason_code="NEEDS_SIU",
                  suggested_department="SIU", comment="  two prior claims same plate  ", decision_id=decision.id)
    rows = db_session.scalars(select(RoutingFeedback).where(RoutingFeedback.claim_id == claim.id)).all()
    assert len(rows) == 2
    verdict = current_verdict(db_session, adj.id, decision.id)
    assert verdict.agrees is False and verdict.reason_code == "NEEDS_SIU"
    assert verdict.comment == "two prior claims same plate"
    siu = db_session.scalar(select(Department.id).where(Department.code == "SIU"))
    assert verdict.suggested_department_id == siu
    events = db_session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id,
                                                         ClaimEvent.kind == "feedback")).all()
    assert len(events) == 2 and events[-1].reason == "NEEDS_SIU" and events[-1].data["agrees"] is False
    assert db_session.query(AuditLog).filter_by(action="routing.feedback", target_id=str(claim.id)).count() == 2


@pytest.mark.parametrize("kwargs,match", [
    (dict(agrees=False), "reason"),
    (dict(agrees=False, reason_code="BECAUSE"), "reason"),
    (dict(agrees="yes"), "Agree or Disagree"),
    (dict(agrees=None), "Agree or Disagree"),
    (dict(agrees=True, comment="x" * (COMMENT_MAX + 1)), "at most"),
    (dict(agrees=True, comment={"a": 1}), "text"),
    (dict(agrees=False, reason_code="OTHER", suggested_department="NOPE"), "Unknown"),
    (dict(agrees=False, reason_code="OTHER", suggested_department=["SIU"]), "Unknown"),
])
def test_feedback_validation(db_session, kwargs, match):
    adj = make_user(db_session, "adjuster", ("AUTO_PD",))
    claim = make_claim(db_session)
    make_decision(db_session, claim)
    with pytest.raises(WorkflowError, match=match):
        give_feedback(db_session, adj, claim.claim_number, **kwargs)
    assert db_session.query(RoutingFeedback).filter_by(claim_id=claim.id).count() == 0


def test_feedback_on_foreign_or_undecided_or_rerouted_claims(db_session):
    adj = make_user(db_session, "adjuster", ("AUTO_PD",))
    viewer = make_user(db_session, "viewer")
    foreign = make_claim(db_session, department="PROPERTY")
    make_decision(db_session, foreign, "PROPERTY")
    with pytest.raises(AccessDenied):
        give_feedback(db_session, adj, foreign.claim_number, agrees=True)
    with pytest.raises(AccessDenied):
        give_feedback(db_session, viewer, foreign.claim_number, agrees=True)
    undecided = make_claim(db_session)
    with pytest.raises(WorkflowError, match="no routing decision"):
        give_feedback(db_session, adj, undecided.claim_number, agrees=True)
    claim = make_claim(db_session)
    old = make_decision(db_session, claim)
    make_decision(db_session, claim)
    with pytest.raises(ConflictError, match="routed again since you opened it") as err:
        give_feedback(db_session, adj, claim.claim_number, agrees=True, decision_id=old.id)
    assert "unassigned" not in str(err.value)  # the claim did not change hands: its decision did


def test_agreement_rate_counts_latest_verdict_per_user_and_decision(db_session):
    before = agreement_rate(db_session)
    a = make_user(db_session, "adjuster", ("AUTO_PD",))
    b = make_user(db_session, "adjuster", ("AUTO_PD",))
    claim = make_claim(db_session)
    make_decision(db_session, claim)
    give_feedback(db_session, a, claim.claim_number, agrees=False, reason_code="OTHER")
    give_feedback(db_session, a, claim.claim_number, agrees=True)
    give_feedback(db_session, b, claim.claim_number, agrees=False, reason_code="WRONG_LOB")
    after = agreement_rate(db_session)
    assert after["given"] - before["given"] == 2
    assert after["agreed"] - before["agreed"] == 1
    future = agreement_rate(db_session, since=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
    assert future == {"given": 0, "agreed": 0, "rate": None}
    assert set(REASONS) >= {"WRONG_LOB", "WRONG_DEPARTMENT", "NEEDS_SIU", "COVERAGE_QUESTION", "OTHER"}


# ---- the claim page's callbacks through the Dash endpoint --------------------

_web_seq = itertools.count(1)


def web_claim(web_app, dept: str = "AUTO_PD", status: str = "new") -> dict:
    """A routed claim of our own (number FBW-...) in the shared web database."""
    from db.flask_db import unit_of_work
    from db.models import Claim
    from services.routing import route_claims

    with web_app.server.app_context():
        with unit_of_work() as s:
            src = s.scalar(select(Claim).where(Claim.dataset == "synthetic", Claim.line_of_business == "auto")
                           .order_by(Claim.id).limit(1))
            n = next(_web_seq)
            number = f"FBW-{n:04d}-{dt.datetime.now().strftime('%H%M%S%f')}"
            claim = Claim(claim_number=number, dataset=src.dataset, source_key=number, status="new",
                          line_of_business=src.line_of_business, loss_date=src.loss_date, report_date=src.report_date,
                          description=src.description, claimed_amount=src.claimed_amount, state=src.state,
                          extra=dict(src.extra or {}))
            s.add(claim)
            s.flush()
            route_claims(s, [claim.id], threshold=0.5)
            s.refresh(claim)
            claim.department_id = s.scalar(select(Department.id).where(Department.code == dept))
            claim.status = status
            s.flush()
            decision = s.scalar(select(RoutingDecision.id).where(RoutingDecision.claim_id == claim.id))
            return {"id": claim.id, "number": number, "version": claim.version, "decision_id": decision}


def _key(web_app, needle: str) -> str:
    return next(k for k in web_app.callback_map if needle in k)


def call_feedback(client, web_app, claim, *, verdict="disagree", reason="WRONG_DEPARTMENT", suggested="AUTO_GLASS",
                  comment="glass only", seen=None, number=None):
    response = client.post("/_dash-update-component", json={
        "output": _key(web_app, "fb-msg.children"),
        "outputs": [{"id": "fb-msg", "property": "children"}, {"id": "claim-refresh", "property": "data"},
                    *[{"id": f"fb-{name}", "property": "value"}
                      for name in ("verdict", "reason", "suggested", "comment")]],
        "inputs": [{"id": "fb-submit", "property": "n_clicks", "value": 1}],
        "state": [{"id": "fb-verdict", "property": "value", "value": verdict},
                  {"id": "fb-reason", "property": "value", "value": reason},
                  {"id": "fb-suggested", "property": "value", "value": suggested},
                  {"id": "fb-comment", "property": "value", "value": comment},
                  {"id": "claim-key", "property": "data", "value": number or claim["number"]},
                  {"id": "claim-seen", "property": "data",
                   "value": seen if seen is not None else {"version": claim["version"],
                                                           "decision_id": claim["decision_id"]}}],
        "changedPropIds": ["fb-submit.n_clicks"],
    })
    if response.status_code != 200:
        return response.status_code, None
    return 200, json.loads(response.get_data(as_text=True))["response"]


def call_status(client, web_app, claim, action, *, version=None, number=None, confirmed=False):
    """Press a status button as the page's script does (assets/62-row-actions.js): what it does
    goes in the card's "claim-ask" store. ``confirmed``: "Close claim", asked first, answered
    with OK (the question is the browser's: the request is the same)."""
    del confirmed
    response = client.post("/_dash-update-component", json={
        "output": (key := _key(web_app, "claim-action-msg.children")),
        "outputs": outputs_of(key),
        "inputs": [{"id": "claim-ask", "property": "data", "value": {"action": action, "at": 1}}],
        "state": [{"id": "claim-key", "property": "data", "value": number or claim["number"]},
                  {"id": "claim-seen", "property": "data",
                   "value": {"version": claim["version"] if version is None else version,
                             "decision_id": claim["decision_id"]}}],
        "changedPropIds": ["claim-ask.data"],
    })
    if response.status_code != 200:
        return response.status_code, None
    return 200, json.loads(response.get_data(as_text=True))["response"]


def call_note(client, web_app, claim, text):
    response = client.post("/_dash-update-component", json={
        "output": _key(web_app, "note-msg.children"),
        "outputs": [{"id": "note-msg", "property": "children"}, {"id": "note-text", "property": "value"},
                    {"id": "claim-refresh", "property": "data"}],
        "inputs": [{"id": "note-submit", "property": "n_clicks", "value": 1}],
        "state": [{"id": "note-text", "property": "value", "value": text},
                  {"id": "claim-key", "property": "data", "value": claim["number"]}],
        "changedPropIds": ["note-submit.n_clicks"],
    })
    if response.status_code != 200:
        return response.status_code, None
    return 200, json.loads(response.get_data(as_text=True))["response"]


def _feedback_rows(web_app, claim_id):
    from db.flask_db import read_session

    with web_app.server.app_context():
        return read_session().scalars(select(RoutingFeedback).where(RoutingFeedback.claim_id == claim_id)
                                      .order_by(RoutingFeedback.id)).all()


def test_adjuster_disagrees_through_the_page_and_it_is_stored(web_app, client_for):
    claim = web_claim(web_app)
    status, body = call_feedback(client_for("adjuster"), web_app, claim, comment="<script>alert(1)</script>")
    assert status == 200, body
    assert "disagreement is recorded" in json.dumps(body["fb-msg"])
    assert body["claim-refresh"]["data"]
    rows = _feedback_rows(web_app, claim["id"])
    assert len(rows) == 1 and rows[0].agrees is False and rows[0].reason_code == "WRONG_DEPARTMENT"
    assert rows[0].comment == "<script>alert(1)</script>" and rows[0].decision_id == claim["decision_id"]
    # The page now shows the verdict and the timeline entry (as text, escaped by Dash's JSON).
    from tests.webutil import render_page

    _, page = render_page(client_for("adjuster"), f"/claims/{claim['number']}")
    assert "You disagreed: Wrong department" in page and "Disagreed with the routing" in page


def test_stored_feedback_empties_the_form_and_a_refused_one_keeps_it(web_app, client_for):
    """The form used to stay filled after "Thanks": switching to Agree and sending again
    stored the disagreement's comment with the agreement."""
    claim = web_claim(web_app)
    client = client_for("adjuster")
    status, body = call_feedback(client, web_app, claim, reason=None, comment="glass only")
    assert status == 200 and "Pick a reason" in json.dumps(body["fb-msg"])
    assert not any(k in body for k in ("fb-verdict", "fb-reason", "fb-suggested", "fb-comment")), body.keys()

    status, body = call_feedback(client, web_app, claim, comment="glass only")
    assert status == 200 and "disagreement is recorded" in json.dumps(body["fb-msg"])
    assert body["fb-verdict"]["value"] is None and body["fb-reason"]["value"] is None
    assert body["fb-suggested"]["value"] is None and body["fb-comment"]["value"] == ""


def test_viewer_feedback_callback_is_refused(web_app, client_for):
    claim = web_claim(web_app)
    status, _ = call_feedback(client_for("viewer"), web_app, claim)
    assert status == 403
    status, _ = call_status(client_for("viewer"), web_app, claim, "assigned")
    assert status == 403
    status, _ = call_note(client_for("viewer"), web_app, claim, "hi")
    assert status == 403
    assert _feedback_rows(web_app, claim["id"]) == []


def test_adjuster_outside_their_departments_is_refused(web_app, client_for):
    claim = web_claim(web_app, dept="WORKERS_COMP")
    client = client_for("adjuster")
    # A claim outside the adjuster's departments answers like a missing one.
    status, body = call_feedback(client, web_app, claim)
    assert status == 200 and "does not exist" in json.dumps(body["fb-msg"])
    assert "claim-refresh" not in body
    status, body = call_status(client, web_app, claim, "assigned")
    assert "does not exist" in json.dumps(body["claim-action-msg"])
    status, body = call_note(client, web_app, claim, "sneaky")
    assert "does not exist" in json.dumps(body["note-msg"])
    assert _feedback_rows(web_app, claim["id"]) == []


@pytest.mark.parametrize("tamper", [
    dict(verdict={"x": 1}), dict(verdict="maybe"), dict(reason=["WRONG_LOB"]), dict(reason="DROP TABLE"),
    dict(suggested={"code": "SIU"}), dict(suggested="X" * 500), dict(comment=123), dict(comment="y" * 50_000),
    dict(number=12345), dict(number="NOPE-1"), dict(number="x" * 5000), dict(seen="garbage"),
    dict(seen={"version": 1, "decision_id": "1; --"}),
])
def test_tampered_feedback_inputs_get_a_message_and_write_nothing(web_app, client_for, tamper):
    claim = web_claim(web_app)
    status, body = call_feedback(client_for("adjuster"), web_app, claim, **tamper)
    assert status == 200
    text = json.dumps(body)
    assert "Traceback" not in text and "recorded" not in text
    assert _feedback_rows(web_app, claim["id"]) == []


def test_status_buttons_and_stale_version_through_the_page(web_app, client_for):
    claim = web_claim(web_app)
    client = client_for("adjuster")
    status, body = call_status(client, web_app, claim, "assign_me")
    assert status == 200 and "is now yours" in json.dumps(body["claim-action-msg"])
    # Same (now stale) version again: a clear conflict, and the page re-renders.
    status, body = call_status(client, web_app, claim, "in_review")
    assert "changed by someone else" in json.dumps(body["claim-action-msg"]) and body["claim-refresh"]["data"]
    status, body = call_status(client, web_app, claim, "in_review", version=claim["version"] + 1)
    assert "is now In review" in json.dumps(body["claim-action-msg"])
    for action in ("closed_forever", {"a": 1}, "new"):
        status, body = call_status(client, web_app, claim, action, version=claim["version"] + 2)
        assert status in (200, 204)  # 204: Dash found no pressed button in the tampered id
        assert "Traceback" not in json.dumps(body) and "is now" not in json.dumps(body)
    status, body = call_status(client, web_app, claim, "in_review", version="2")
    assert "reload" in json.dumps(body["claim-action-msg"])
    # Closing is asked first: the page's close button answers through its confirmation.
    from tests.webutil import render_page

    _, body = render_page(client, f"/claims/{claim['number']}")
    assert "claim-close-button" in body and "Only a manager can reopen" in body
    # Flagged for SIU review: it cannot close until a manager decides the alert.
    _alert_action(web_app, claim, "adjuster@scope.example", "flag")
    _, body = render_page(client, f"/claims/{claim['number']}")
    assert "claim-close-button" not in body and "Close claim is not offered" in body
    status, body = call_status(client, web_app, claim, "closed", version=claim["version"] + 2, confirmed=True)
    assert "open fraud alert" in json.dumps(body["claim-action-msg"]) and "fraud-card-area" not in body
    _alert_action(web_app, claim, "manager@scope.example", "dismiss")
    status, body = call_status(client, web_app, claim, "closed", version=claim["version"] + 2, confirmed=True)
    assert "is now Closed" in json.dumps(body["claim-action-msg"])
    # The fraud card is drawn anew: a closed claim cannot be flagged any more.
    card = json.dumps(body["fraud-card-area"]["children"])
    assert "fraud-flag-submit" not in card and "Dismissed" in card


def test_the_status_buttons_ask_through_the_cards_store_and_a_tampered_one_does_nothing(web_app, client_for):
    """Buttons with pattern-matching ids were posted again, every one of them, each time the refresh
    callback redrew them (after a note or feedback): they carry what they do (data-ask) and the
    card's store, drawn once, is the one input."""
    from tests.webutil import render_page

    assert not [k for k, entry in web_app.callback_map.items()
                if any("claim-action" in str(i.get("id")) for i in entry["inputs"])]
    claim = web_claim(web_app)
    client = client_for("adjuster")
    _, page = render_page(client, f"/claims/{claim['number']}")
    assert '"data-ask":"claim-ask"' in page.replace(" ", "") and "assign_me" in page
    for tampered in (None, "x", {"action": "assign_me"}, {"action": 5, "at": 1}, {"action": "", "at": 1},
                     {"action": "assign_me", "at": True}, ["assign_me"]):
        response = client.post("/_dash-update-component", json={
            "output": (key := _key(web_app, "claim-action-msg.children")), "outputs": outputs_of(key),
            "inputs": [{"id": "claim-ask", "property": "data", "value": tampered}],
            "state": [{"id": "claim-key", "property": "data", "value": claim["number"]},
                      {"id": "claim-seen", "property": "data", "value": {"version": claim["version"]}}],
            "changedPropIds": ["claim-ask.data"]})
        assert response.status_code == 204, (tampered, response.status_code)
    status, body = call_status(client, web_app, claim, "assign_me")
    assert "is now yours" in json.dumps(body["claim-action-msg"])


def _alert_action(web_app, claim, email, action):
    from auth.current import SessionUser
    from db.flask_db import unit_of_work
    from db.models import FraudAlert, User
    from services import fraud_alerts

    with web_app.server.app_context(), unit_of_work() as s:
        user = SessionUser.from_model(s.scalar(select(User).where(User.email == email)))
        if action == "flag":
            fraud_alerts.flag(s, user, claim["id"], "Story changed between calls")
        else:
            alert = s.scalar(select(FraudAlert).where(FraudAlert.claim_id == claim["id"]))
            fraud_alerts.dismiss(s, user, alert.id, alert.version, "Explained by the claimant's broker")


def test_page_draws_only_the_controls_the_user_may_use(web_app, client_for):
    from tests.webutil import render_page

    claim = web_claim(web_app)
    _, viewer = render_page(client_for("viewer"), f"/claims/{claim['number']}")
    assert "Routing decision" in viewer and "History" in viewer
    for control in ("fb-submit", "note-submit", "Assign to me", "Mark assigned"):
        assert control not in viewer, control
    _, adjuster = render_page(client_for("adjuster"), f"/claims/{claim['number']}")
    for control in ("fb-submit", "note-submit", "Assign to me", "claim-counterfactual", "claim-similar"):
        assert control in adjuster, control
    # Unassigned and new: "Assign to me" is the one way to take it (no twin "Mark assigned").
    assert "Mark assigned" not in adjuster
    assert "Close claim" not in adjuster and "Reopen" not in adjuster


def test_counterfactual_and_similar_claims_callbacks(web_app, client_for):
    def ask(output: str, number: str) -> str:
        response = client_for("adjuster").post("/_dash-update-component", json={
            "output": f"{output}.children", "outputs": {"id": output, "property": "children"},
            "inputs": [{"id": "claim-key", "property": "data", "value": number}],
            "state": [], "changedPropIds": ["claim-key.data"],
        })
        assert response.status_code == 200
        return response.get_data(as_text=True)

    claim = web_claim(web_app)
    assert "small changes of this claim" in ask("claim-counterfactual", claim["number"])
    assert "alike" in ask("claim-similar", claim["number"])
    foreign = web_claim(web_app, dept="WORKERS_COMP")
    for output in ("claim-counterfactual", "claim-similar"):
        assert "Not available" in ask(output, foreign["number"])
