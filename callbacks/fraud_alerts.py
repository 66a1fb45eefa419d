"""Fraud alerts: a manager's refer / dismiss dialog (Fraud alerts page) and the
claim page's "Flag for SIU review". Every input is untrusted: the alert id and
version come from the button's id, the claim number from the page's store."""
from __future__ import annotations

import logging
import uuid
from urllib.parse import quote

from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate
from flask import current_app

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.claim_actions import flash
from components.fraud_alerts import NOTE_MAX, alert_card, list_body, modal_text, summary
from db.flask_db import WriteConflict, read_session, unit_of_work
from services import fraud_alerts
from services.access import AccessDenied, NotFound, OutsideDepartments
from services.reassignment import ReassignError
from services.workflow import get_claim

log = logging.getLogger(__name__)
PER_PAGE = 50  # as pages/fraud_alerts.py


def _pending(trigger) -> dict | None:
    """The clicked button's alert, checked for shape only (the service checks the rest)."""
    if not isinstance(trigger, dict) or trigger.get("action") not in ("refer", "dismiss"):
        return None
    alert, version, claim = trigger.get("alert"), trigger.get("version"), trigger.get("claim")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (alert, version)):
        return None
    if not isinstance(claim, str) or not 0 < len(claim) <= 40:
        return None
    return {"action": trigger["action"], "alert": alert, "version": version, "claim": claim}


@secure_callback(
    Perm.DECIDE_FRAUD,
    Output("fraud-modal", "is_open"),
    Output("fraud-modal-title", "children"),
    Output("fraud-modal-text", "children"),
    Output("fraud-modal-note-label", "children"),
    Output("fraud-modal-note", "value"),
    Output("fraud-modal-msg", "children"),
    Output("fraud-pending", "data"),
    Output("fraud-result", "children", allow_duplicate=True),
    Input("fraud-ask", "data"),
    Input("fraud-modal-cancel", "n_clicks"),
    prevent_initial_call=True,
)
def open_dialog(ask, _cancel):
    if ctx.triggered_id == "fraud-modal-cancel":
        return False, no_update, no_update, no_update, no_update, None, None, no_update
    # The row's button put its alert in the store (assets/61-fraud-alerts.js): the rows have no
    # Dash inputs, so redrawing the list calls nothing.
    pending = _pending(ask) if ctx.triggered_id == "fraud-ask" else None
    if pending is None:
        raise PreventUpdate
    title, text, label = modal_text(pending["action"], pending["claim"])
    return True, title, text, label, "", None, pending, None  # the last decision's message goes


def _list(user, view) -> tuple:
    view = view if isinstance(view, dict) else {}
    claim, page = view.get("claim"), view.get("page")
    claim = claim if isinstance(claim, str) and 0 < len(claim) <= 40 else None
    page = page if isinstance(page, int) and not isinstance(page, bool) and 0 < page < 100_000 else 1
    session = read_session()
    alerts, total = fraud_alerts.list_alerts(session, user, status="open", claim_number=claim,
                                             limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    code = current_app.config["SCOPE_SETTINGS"].currency
    return (summary("open", fraud_alerts.counts(session, user), claim, alerts, total, code,
                    fraud_alerts.open_totals(session, user) if alerts and claim is None else None),
            list_body(alerts, total, code, status="open", can_decide=user.can(Perm.DECIDE_FRAUD), page=page,
                      per_page=PER_PAGE))


class _OtherClaim(Exception):
    """The decided alert is not this page's claim's (a tampered store): undo."""


def _decide(user, action: str, alert_id, version, note, *, claim_number: str | None = None,
            any_claim: bool = False):
    """One refer / dismiss in its own transaction: (claim number, None, False) when done,
    else (None, message, whether what the page shows is stale). Unless ``any_claim`` (the
    list), the alert must be ``claim_number``'s (the claim page's)."""
    try:
        with unit_of_work() as session:
            alert = (fraud_alerts.refer if action == "refer" else fraud_alerts.dismiss)(
                session, user, alert_id, version, note)
            number = fraud_alerts.claim_number_of(session, alert)
            if not any_claim and number != claim_number:
                raise _OtherClaim
        return number, None, False
    except (fraud_alerts.AlertConflict, WriteConflict) as exc:
        text = str(exc) if isinstance(exc, fraud_alerts.AlertConflict) else \
            "Someone else changed this claim at the same moment; nothing was changed. Try again."
        return None, flash(text, "warning"), True
    except (fraud_alerts.AlertError, ReassignError) as exc:
        return None, flash(str(getattr(exc, "message", exc)), "danger"), False
    except (NotFound, _OtherClaim):
        return None, flash("No such alert here; reload the page.", "danger"), True
    except AccessDenied as exc:
        return None, flash(f"Not allowed: {exc}", "danger"), False
    except Exception:  # never a stack trace in the browser
        log.exception("fraud alert decision failed")
        return None, flash("Something went wrong; nothing was changed. Please try again.", "danger"), False


@secure_callback(
    Perm.DECIDE_FRAUD,
    Output("fraud-modal", "is_open", allow_duplicate=True),
    Output("fraud-modal-msg", "children", allow_duplicate=True),
    Output("fraud-result", "children"),
    Output("fraud-summary", "children"),
    Output("fraud-list", "children"),
    Input("fraud-modal-confirm", "n_clicks"),
    State("fraud-pending", "data"),
    State("fraud-modal-note", "value"),
    State("fraud-view", "data"),
    prevent_initial_call=True,
)
def decide(clicks, pending, note, view):
    if not clicks:
        raise PreventUpdate
    pending = _pending(pending)
    if pending is None:
        return False, None, flash("Choose an alert first.", "warning"), no_update, no_update
    if isinstance(note, str) and len(note) > NOTE_MAX * 2:
        return no_update, flash("The note is far too long.", "danger"), no_update, no_update, no_update
    user = user_or_none()
    number, error, stale = _decide(user, pending["action"], pending["alert"], pending["version"], note,
                                   any_claim=True)
    if error is not None:
        # A stale list (someone decided first, the alert is gone) is redrawn; otherwise the dialog stays.
        return (False, None, error, *_list(user, view)) if stale else (no_update, error, no_update, no_update,
                                                                        no_update)
    done = (f"{number} was referred to Special Investigations." if pending["action"] == "refer"
            else f"The alert on {number} was dismissed.")
    return False, None, flash(done), *_list(user, view)


@secure_callback(
    Perm.FLAG_FRAUD,
    Output("fraud-card-area", "children"),
    Output("fraud-flag-msg", "children"),
    Output("claim-refresh", "data", allow_duplicate=True),
    Input("fraud-flag-submit", "n_clicks"),
    State("fraud-flag-note", "value"),
    State("claim-key", "data"),
    prevent_initial_call=True,
)
def flag(clicks, note, claim_number):
    if not clicks:
        raise PreventUpdate
    if isinstance(note, str) and len(note) > NOTE_MAX * 2:
        return no_update, flash("The note is far too long.", "danger"), no_update
    user = user_or_none()
    try:
        with unit_of_work() as session:
            claim = get_claim(session, user, claim_number)
            fraud_alerts.flag(session, user, claim.id, note)
            number = claim.claim_number
    except fraud_alerts.AlertError as exc:
        return no_update, flash(str(exc), "danger"), no_update
    except (NotFound, OutsideDepartments):
        return no_update, flash("This claim does not exist.", "danger"), no_update
    except AccessDenied as exc:
        return no_update, flash(f"Not allowed: {exc}", "danger"), no_update
    except WriteConflict:
        return no_update, flash("Someone else changed this claim at the same moment; try again.", "warning"), \
            no_update
    except Exception:  # never a stack trace in the browser
        log.exception("flagging a claim failed")
        return no_update, flash("Something went wrong; nothing was saved. Please try again.", "danger"), no_update
    return fraud_card(user, number, flash("Flagged: the managers see it under Fraud alerts.")), no_update, \
        uuid.uuid4().hex


def fraud_card(user, claim_number: str, notice=None):
    """The claim page's fraud alert card as it is now (raises NotFound when out of sight)."""
    session = read_session()
    claim = get_claim(session, user, claim_number)
    return alert_card(fraud_alerts.alert_of_claim(session, user, claim.id), can_decide=user.can(Perm.DECIDE_FRAUD),
                      can_flag=fraud_alerts.can_flag(session, user, claim), claim_number=claim.claim_number,
                      notice=notice)


@secure_callback(
    Perm.DECIDE_FRAUD,
    Output("fraud-card-area", "children", allow_duplicate=True),
    Output("fraud-claim-msg", "children"),
    Output("claim-refresh", "data", allow_duplicate=True),
    Input("fraud-claim-refer", "n_clicks"),
    Input("fraud-claim-dismiss", "n_clicks"),
    State("fraud-claim-note", "value"),
    State("fraud-claim-alert", "data"),
    State("claim-key", "data"),
    prevent_initial_call=True,
)
def decide_on_claim(_refer, _dismiss, note, pending, claim_number):
    clicked = ctx.triggered[0].get("value") if ctx.triggered else None
    if not clicked or ctx.triggered_id not in ("fraud-claim-refer", "fraud-claim-dismiss"):
        raise PreventUpdate
    pending = pending if isinstance(pending, dict) else {}
    if isinstance(note, str) and len(note) > NOTE_MAX * 2:
        return no_update, flash("The note is far too long.", "danger"), no_update
    if not isinstance(claim_number, str) or not claim_number:
        return no_update, flash("No such alert here; reload the page.", "danger"), no_update
    user = user_or_none()
    refer = ctx.triggered_id == "fraud-claim-refer"
    _, error, _ = _decide(user, "refer" if refer else "dismiss", pending.get("alert"), pending.get("version"), note,
                          claim_number=claim_number)
    if error is not None:
        return no_update, error, no_update
    # The header above still names the old department: a link redraws the whole page.
    done = (["Referred: the claim is now in the Special Investigations queue, unassigned. ",
             html.A("Show the page as it is now", href=f"/claims/{quote(claim_number)}", className="alert-link")]
            if refer else "Dismissed; the claim stays where it is.")
    try:
        card = fraud_card(user, claim_number, flash(done))
    except (NotFound, OutsideDepartments):
        card = flash(done)  # referred out of this user's sight
    return card, no_update, uuid.uuid4().hex


@secure_callback(
    Perm.DECIDE_FRAUD,
    Output("ring-refer-msg", "children"),
    Output("ring-refer-submit", "disabled"),
    Input("ring-refer-submit", "n_clicks"),
    State("ring-refer-note", "value"),
    State("ring-refer-key", "data"),
    prevent_initial_call=True,
)
def refer_ring(clicks, note, key):
    if not clicks:
        raise PreventUpdate
    if isinstance(note, str) and len(note) > NOTE_MAX * 2:
        return flash("The note is far too long.", "danger"), no_update
    try:
        with unit_of_work() as session:
            moved = fraud_alerts.refer_ring(session, user_or_none(), key, note)
    except (fraud_alerts.AlertError, ReassignError) as exc:
        return flash(str(getattr(exc, "message", exc)), "danger"), no_update
    except NotFound:
        return flash("There is no such ring any more; rings are detected again every hour.", "danger"), no_update
    except AccessDenied as exc:
        return flash(f"Not allowed: {exc}", "danger"), no_update
    except WriteConflict:
        return flash("Someone changed these claims at the same moment; nothing was moved. Try again.",
                     "warning"), no_update
    except Exception:  # never a stack trace in the browser
        log.exception("referring a ring failed")
        return flash("Something went wrong; nothing was moved. Please try again.", "danger"), no_update
    return flash(f"Referred {len(moved)} claim{'s' if len(moved) != 1 else ''} to Special Investigations: "
                 + ", ".join(moved[:10]) + (f" and {len(moved) - 10} more" if len(moved) > 10 else "")
                 + ". Reload to see their new department."), True
