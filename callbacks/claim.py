"""Claim page callbacks: status changes, assign-to-me, feedback, notes, and
the parts of the page they change. Every input is untrusted: the claim number
comes from the page URL via a store, the version from what was rendered."""
from __future__ import annotations

import logging
import uuid

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from flask import current_app

from api.usage import track
from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from callbacks.fraud_alerts import fraud_card
from components.claim_actions import ASK_STORE, FEEDBACK_CURRENT_ID, flash, status_buttons, verdict_text
from components.decision import counterfactual_body, similar_body
from components.row_actions import asked
from components.timeline import timeline_items
from db.flask_db import WriteConflict, independent_sessions, read_session, unit_of_work
from services.access import AccessDenied, NotFound, OutsideDepartments
from services.counterfactual import claim_counterfactual
from services.feedback import REASONS, current_verdict, give_feedback, latest_decision
from services.privacy import hidden_for
from services.similar_claims import similar_claims
from services.workflow import (
    OPEN_ALERT_BLOCKS_CLOSING, STATUS_LABELS, ConflictError, WorkflowError, add_note, allowed_actions, assign_to_me,
    can_act, change_status, closing_waits_on_alert, get_claim, timeline,
)

log = logging.getLogger(__name__)
TEXT_LIMIT = 20_000  # anything longer is not from our form
FEEDBACK_FORM_KEPT = (no_update,) * 4  # verdict, reason, suggested department, comment


def workspace(session, user, claim) -> dict:
    """The parts of the claim page that change when someone works on it."""
    decision = latest_decision(session, claim.id)
    verdict = None
    if decision is not None:
        row = current_verdict(session, user.id, decision.id)
        if row is not None:
            from db.models import Department

            suggested = session.get(Department, row.suggested_department_id) if row.suggested_department_id else None
            verdict = {"agrees": row.agrees, "reason": REASONS.get(row.reason_code or "", row.reason_code),
                       "suggested": suggested.name if suggested else None, "comment": row.comment,
                       "at": row.created_at.strftime("%Y-%m-%d %H:%M")}
    return {
        "actions": status_buttons(allowed_actions(user, claim), STATUS_LABELS.get(claim.status, claim.status),
                                  claim.adjuster.name if claim.adjuster else None, _why_no_actions(user, claim),
                                  _triage_note(user, claim)),
        "verdict": verdict_text(verdict),
        "timeline": timeline_items(timeline(session, claim)),
        "seen": {"version": claim.version, "decision_id": decision.id if decision else None},
        "status": STATUS_LABELS.get(claim.status, claim.status),
        "can_feedback": decision is not None and can_act(user, claim, Perm.GIVE_FEEDBACK),
        "can_note": can_act(user, claim, Perm.WRITE_NOTES),
        "decision_id": decision.id if decision else None,
    }


def _why_no_actions(user, claim) -> str:
    """Why a claim shows no buttons: "nothing right now" read to a viewer as if it might change."""
    if not user.can(Perm.CHANGE_STATUS):
        return "Your role can read claims but not change them."
    if claim.status == "closed" and not user.can(Perm.REASSIGN):
        return "This claim is closed; only a manager can reopen it."
    if claim.adjuster is not None and claim.adjuster_id != user.id and not user.can(Perm.REASSIGN):
        return f"{claim.adjuster.name} is working on this claim; ask a manager to reassign it."
    return "Nothing you can change on this claim right now."


def _triage_note(user, claim) -> str | None:
    """A claim in Triage cannot be closed until it has a department, and only managers
    move claims: an adjuster working it was left with no way forward and no word why.
    Likewise a claim with an open fraud alert, which cannot close until it is decided."""
    if closing_waits_on_alert(user, claim):
        return "Close claim is not offered: " + OPEN_ALERT_BLOCKS_CLOSING[0].lower() + OPEN_ALERT_BLOCKS_CLOSING[1:]
    if claim.status == "closed" or claim.department is None or not claim.department.is_triage:
        return None
    if user.can(Perm.REASSIGN):
        return "It waits in Triage: send it to its department on the Reassign board."
    if not user.can(Perm.GIVE_FEEDBACK):
        return None
    return ("A manager sends Triage claims on to their department. Say where this one belongs under "
            "'Was this routing right?' (Disagree, then 'Department it should go to'): it shows in the "
            "claim's history for them.")


def _seen(seen, key: str):
    value = seen.get(key) if isinstance(seen, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _write(action) -> tuple:
    """Run one write in its own transaction; map every outcome to a message
    and whether the page should re-render (a conflict shows the current state)."""
    try:
        with unit_of_work() as session:
            text = action(session)
        return flash(text), uuid.uuid4().hex
    except (ConflictError, WriteConflict) as exc:
        text = str(exc) if isinstance(exc, ConflictError) else \
            "Someone else changed this claim at the same moment. Showing the current state; please try again."
        return flash(text, "warning"), uuid.uuid4().hex
    except WorkflowError as exc:
        return flash(str(exc), "danger"), no_update
    except (NotFound, OutsideDepartments):
        return flash("This claim does not exist.", "danger"), no_update
    except AccessDenied as exc:
        return flash(f"Not allowed: {exc}.", "danger"), no_update
    except Exception:  # never a stack trace in the browser
        log.exception("claim page write failed")
        return flash("Something went wrong; nothing was saved. Please reload the page.", "danger"), no_update


@secure_callback(
    Perm.CHANGE_STATUS,
    Output("claim-action-msg", "children"),
    Output("claim-refresh", "data", allow_duplicate=True),
    # Closing a claim withdraws its fraud alert and ends flagging it: the card must say so.
    Output("fraud-card-area", "children", allow_duplicate=True),
    # The buttons put what they do in this store (assets/62-row-actions.js; "Close claim" asks
    # first): buttons of their own as inputs were called again each time refresh redrew them.
    Input(ASK_STORE, "data"),
    State("claim-key", "data"),
    State("claim-seen", "data"),
    prevent_initial_call=True,
)
def on_status_action(ask, claim_number, seen):
    action = asked(ask, "action")
    if action is None:
        raise PreventUpdate
    user, version = user_or_none(), _seen(seen, "version")

    def run(session):
        if action == "assign_me":
            claim = assign_to_me(session, user, claim_number, expected_version=version)
            track(session, "claim_assigned", claim_number=claim.claim_number)
            return f"{claim.claim_number} is now yours."
        claim = change_status(session, user, claim_number, action, expected_version=version)
        track(session, "status_changed", claim_number=claim.claim_number)
        return f"{claim.claim_number} is now {STATUS_LABELS[claim.status]}."

    message, token = _write(run)
    if token is no_update:
        return message, token, no_update
    try:
        return message, token, fraud_card(user, claim_number)
    except (AccessDenied, NotFound, OutsideDepartments):
        return message, token, no_update


@secure_callback(
    Perm.GIVE_FEEDBACK,
    Output("fb-msg", "children"),
    Output("claim-refresh", "data", allow_duplicate=True),
    # A stored verdict empties the form: left filled, its reason and comment went out
    # again with the next verdict (an "agree" carried the comment of the disagreement).
    Output("fb-verdict", "value"),
    Output("fb-reason", "value"),
    Output("fb-suggested", "value"),
    Output("fb-comment", "value"),
    Input("fb-submit", "n_clicks"),
    State("fb-verdict", "value"),
    State("fb-reason", "value"),
    State("fb-suggested", "value"),
    State("fb-comment", "value"),
    State("claim-key", "data"),
    State("claim-seen", "data"),
    prevent_initial_call=True,
)
def on_feedback(clicks, verdict, reason, suggested, comment, claim_number, seen):
    if not clicks:
        raise PreventUpdate
    agrees = {"agree": True, "disagree": False}.get(verdict) if isinstance(verdict, str) else None
    if isinstance(comment, str) and len(comment) > TEXT_LIMIT:
        return flash("The comment is far too long.", "danger"), no_update, *FEEDBACK_FORM_KEPT
    decision_id = _seen(seen, "decision_id")
    user = user_or_none()

    def run(session):
        give_feedback(session, user, claim_number, agrees=agrees, reason_code=reason,
                      suggested_department=suggested, comment=comment,
                      decision_id=decision_id if decision_id is not None else -1)
        track(session, "decision_recorded", claim_number=claim_number)
        return "Thanks: your feedback is recorded." if agrees else "Thanks: your disagreement is recorded."

    message, refresh = _write(run)
    # A conflict re-renders the page too, but stores nothing: the form stays for another try.
    stored = refresh is not no_update and message.color == "success"
    return message, refresh, *((None, None, None, "") if stored else FEEDBACK_FORM_KEPT)


@secure_callback(
    Perm.WRITE_NOTES,
    Output("note-msg", "children"),
    Output("note-text", "value"),
    Output("claim-refresh", "data", allow_duplicate=True),
    Input("note-submit", "n_clicks"),
    State("note-text", "value"),
    State("claim-key", "data"),
    prevent_initial_call=True,
)
def on_note(clicks, text, claim_number):
    if not clicks:
        raise PreventUpdate
    if isinstance(text, str) and len(text) > TEXT_LIMIT:
        return flash("The note is far too long.", "danger"), no_update, no_update
    user = user_or_none()
    message, refresh = _write(lambda session: (add_note(session, user, claim_number, text),
                                               track(session, "note_added", claim_number=claim_number),
                                               "Note added.")[2])
    return message, ("" if refresh is not no_update else no_update), refresh


@secure_callback(
    Perm.VIEW_CLAIMS,
    Output("claim-actions-body", "children"),
    Output({"type": FEEDBACK_CURRENT_ID["type"], "index": ALL}, "children"),
    Output("claim-timeline", "children"),
    Output("claim-seen", "data"),
    Output("claim-status-badge", "children"),
    Input("claim-refresh", "data"),
    State("claim-key", "data"),
    prevent_initial_call=True,
)
def refresh(_token, claim_number):
    session = read_session()
    try:
        claim = get_claim(session, user_or_none(), claim_number)
    except (AccessDenied, NotFound):
        return flash("This claim is not available.", "danger"), no_update, no_update, no_update, no_update
    w = workspace(session, user_or_none(), claim)
    verdicts = [w["verdict"] for _ in ctx.outputs_list[1]]  # none without the feedback card
    return w["actions"], verdicts, w["timeline"], w["seen"], w["status"]


# The insights re-score the claim, so they are filled after the page (drawn from the
# stored decision) has opened, each by its own callback: the browser asks for both at
# once and shows each as soon as it is ready.
@secure_callback(
    Perm.VIEW_CLAIMS,
    Output("claim-counterfactual", "children"),
    Input("claim-key", "data"),
)
def counterfactual(claim_number):
    session = read_session()
    try:
        user = user_or_none()
        claim = get_claim(session, user, claim_number)
    except (AccessDenied, NotFound):
        return "Not available."
    decision = latest_decision(session, claim.id)
    try:
        cf = claim_counterfactual(session, claim, decision_id=decision.id if decision else None,
                                  threshold=decision.threshold if decision else None,
                                  currency=current_app.config["SCOPE_SETTINGS"].currency,
                                  hidden=hidden_for(session, user, claim.dataset))
        return counterfactual_body(cf, decision.model_version.version if decision else None)
    except Exception:
        log.exception("counterfactual failed for %s", claim.claim_number)
        return "The alternatives could not be worked out for this claim."


@secure_callback(
    Perm.VIEW_CLAIMS,
    Output("claim-similar", "children"),
    Input("claim-key", "data"),
)
def similar(claim_number):
    session = read_session()
    user = user_or_none()
    try:
        claim = get_claim(session, user, claim_number)
    except (AccessDenied, NotFound):
        return "Not available."
    try:
        return similar_body(similar_claims(session, user, claim, refresh_with=independent_sessions()))
    except Exception:
        log.exception("similar claims failed for %s", claim.claim_number)
        return "Similar claims could not be looked up."
