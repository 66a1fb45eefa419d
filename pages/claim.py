"""One claim: its facts, the stored routing decision with its reasons, and its history."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import current_app

from api.usage import track_later
from auth.guard import page_user
from auth.permissions import Perm
from components.common import dept_badge, fact_text, message, not_allowed
from callbacks.claim import workspace
from components.claim_actions import action_card, feedback_card, notes_card
from components.claim_documents import documents_card
from components.decision import decision_panel, insight_cards
from components.fraud_alerts import alert_card
from components.siu_cases import claim_case_card
from components.linked_claims import linked_claims_card
from components.parties import parties_card
from components.queue_filters import line_label
from components.timeline import timeline_card
from db.flask_db import read_session
from services.queues import OPEN_STATUSES
from services.access import NotFound, OutsideDepartments
from services.claim_documents import can_attach, documents_of_claim
from services.claims import get_claim_view
from services.currency import money
from services.departments import all_departments
from services.feedback import REASONS
from services.fraud_alerts import alert_of_claim, can_flag
from services.fraud_rings import ring_of_claim
from services.intake import SOURCE_PREFIX
from services.siu_case_views import can_start_case, case_of_claim, open_cases_to_add
from services.linked_claims import linked_claims
from services.privacy import claim_fields, sees_personal_data

dash.register_page(__name__, path_template="/claims/<claim_number>", title="Claim · SCOPE Assistant", name="Claim")

STATUS_COLORS = {"new": "primary", "assigned": "info", "in_review": "warning", "awaiting_info": "secondary",
                 "closed": "success"}


def _facts(claim, user) -> dbc.Card:
    postcode = claim_fields(user, {"postcode": claim.postcode})["postcode"]
    code = current_app.config["SCOPE_SETTINGS"].currency
    rows = [
        ("Policy", claim.policy_number or "—"), ("Line of business", line_label(claim.line_of_business)),
        ("Loss date", claim.loss_date or "—"), ("Reported", claim.report_date or "—"),
        ("Claimed", money(claim.claimed_amount, code)), ("Reserve", money(claim.reserve_amount, code)),
        *([("Paid", money(claim.paid_amount, code))] if claim.paid_amount is not None else []),
        ("Location", ", ".join(x for x in (claim.state, postcode) if x) or "—"),
        ("Source", "Entered in SCOPE" if claim.source_key.startswith(SOURCE_PREFIX) else claim.dataset),
    ]
    return dbc.Card(dbc.CardBody([
        html.H5("Claim facts", className="card-title"),
        html.Dl([item for k, v in rows for item in (html.Dt(k, className="col-5"), html.Dd(str(v), className="col-7"))],
                className="row mb-0 small facts"),
    ]), className="shadow-sm mb-4")


# An import's long list of policy columns folds away after the first ten; a short one
# (the demo's eleven) shows whole rather than hiding one fact behind a click.
FACTS_SHOWN, FACTS_FOLD_OVER = 10, 14


def _circumstances(facts) -> dbc.Card | None:
    if not facts:
        return None

    def rows(items):
        return html.Dl([item for label, value in items for item in (
            html.Dt(label, className="col-7"),
            html.Dd(fact_text(value), className="col-5" + (" text-muted fst-italic" if value in (None, "") else "")))],
            className="row mb-0 small facts")

    shown = facts if len(facts) <= FACTS_FOLD_OVER else facts[:FACTS_SHOWN]
    more = facts[len(shown):]
    return dbc.Card(dbc.CardBody([
        html.H5("Circumstances", className="card-title"),
        html.P("As reported at first notice; the router weighs these too.", className="small text-muted mb-2"),
        rows(shown),
        html.Details([html.Summary(f"{len(more)} more", className="small"), rows(more)], className="mt-2")
        if more else None,
    ]), className="shadow-sm mb-4", id="claim-circumstances")


def _description(claim) -> dbc.Card:
    # Rendered as a text child: Dash escapes it, so no user HTML ever runs.
    return dbc.Card(dbc.CardBody([
        html.H5("Description", className="card-title"),
        html.P(claim.description or "No description given.", className="mb-0 description", id="claim-description"),
    ]), className="shadow-sm mb-4")


# Where a claim was opened from, when the back link should return there: ?back=<the list's
# address, with its filters> (the grid's claim links), or the older ?from=my-work.
BACK_TO = {"/my-work": "← Back to My work", "/queues": "← Back to queue"}
BACK_PARAMS = ("department", "f")


def _back_href(back) -> str | None:
    """The list's address rebuilt from known parts only: the value comes from the address bar."""
    if not isinstance(back, str) or len(back) > 4000 or not back.startswith("/"):
        return None
    parts = urlsplit(back)
    if parts.path not in BACK_TO or parts.netloc or parts.scheme:
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query) if k in BACK_PARAMS and v.isprintable()]
    return parts.path + (f"?{urlencode(query)}" if query else "")


def _back_link(came_from, dept, back=None) -> html.A:
    href = _back_href(back) or ("/my-work" if came_from == "my-work" else None)
    if href is None:
        href = f"/queues?department={dept.code}" if dept else "/queues"
    label = BACK_TO[urlsplit(href).path]
    return html.A(label, href=href, className="btn btn-outline-secondary btn-sm", id="claim-back")


def _case_card(session, user, claim):
    case = case_of_claim(session, user, claim.id)
    start = can_start_case(session, user, claim)
    return claim_case_card(case, can_start=start, can_send_back=start and claim.status in OPEN_STATUSES,
                           cases=open_cases_to_add(session, user) if start and case is None else ())


def layout(claim_number: str | None = None, **query):
    user = page_user(Perm.VIEW_CLAIMS, __name__)
    if user is None:
        return not_allowed()
    try:
        view = get_claim_view(read_session(), user, claim_number or "")
    except (NotFound, OutsideDepartments):
        # A claim outside the user's departments looks exactly like a missing one.
        return message("Claim not found", f"There is no claim numbered {claim_number!s:.40}.")
    session = read_session()
    claim, dept = view.claim, view.department
    track_later("claim_opened", claim_number=claim.claim_number)
    work = workspace(session, user, claim)
    departments = [(d.code, d.name) for d in all_departments(session) if d.active and not d.is_triage]
    header = html.Div([
        html.Div([
            html.H2(claim.claim_number, className="mb-1"),
            html.Div([
                dbc.Badge(work["status"], color=STATUS_COLORS.get(claim.status, "secondary"), className="me-2",
                          id="claim-status-badge"),
                dept_badge(dept.name, dept.color) if dept else html.Span("Not routed yet", className="text-muted"),
            ]),
        ]),
        _back_link(query.get("from"), dept, query.get("back")),
    ], className="d-flex justify-content-between align-items-start mb-4 page-header")
    decision = (decision_panel(view.decision, view.departments, current_app.config["SCOPE_SETTINGS"].currency)
                if view.decision
                else dbc.Alert("This claim has no routing decision yet (no champion model when it arrived).",
                               color="info"))
    # Three areas (assets/10-scope.css .claim-layout): on a wide screen the work and the
    # facts stack on the left of the decision; on a phone the decision comes right after
    # the work and the description, before the long lists of facts, parties and links.
    body = html.Div([
        html.Div([action_card(work["actions"]), _description(claim),
                  html.Div(alert_card(alert_of_claim(session, user, claim.id),
                                      can_decide=user.can(Perm.DECIDE_FRAUD),
                                      can_flag=can_flag(session, user, claim), claim_number=claim.claim_number),
                           id="fraud-card-area"),
                  html.Div(_case_card(session, user, claim), id="siu-claim-area")], className="claim-area-work"),
        html.Div([
            decision,
            insight_cards() if view.decision else None,
            dbc.Row([
                dbc.Col(feedback_card(REASONS, departments, work["verdict"], True) if work["can_feedback"]
                        else None, lg=6),
                dbc.Col(notes_card() if work["can_note"] else None, lg=6),
            ]) if work["can_feedback"] or work["can_note"] else None,
            # With the notes: what people add to the claim, before its history.
            documents_card(documents_of_claim(session, user, claim), can_attach=can_attach(user, claim),
                           may_download=sees_personal_data(user)),
            timeline_card(work["timeline"]),
        ], className="claim-area-decision"),
        html.Div([_facts(claim, user), _circumstances(view.facts), parties_card(view.parties),
                  linked_claims_card(linked_claims(session, user, claim),
                                     ring_of_claim(session, user, claim.id))], className="claim-area-facts"),
    ], className="claim-layout")
    return html.Div([
        # The claim number is only a hint from the URL: every callback looks it up and checks access again.
        dcc.Store(id="claim-key", data=claim.claim_number),
        dcc.Store(id="claim-seen", data=work["seen"]),
        # Not None: a memory Store mounted with None sets its data (to undefined) at once, and
        # that ran the refresh callback and redrew the buttons on every claim page opened.
        dcc.Store(id="claim-refresh", data=""),
        # All of the claim, which SIU's "Send back to its department" replaces (callbacks.siu_cases).
        html.Div([header, body], id="claim-page-body"),
    ])
