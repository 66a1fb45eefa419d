"""Possible fraud rings: groups of claims tied together by their parties'
identifiers (services.fraud_rings), and one ring's claims and links (?ring=…)."""
from __future__ import annotations

import datetime as dt

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask import current_app

from auth.guard import page_user
from auth.permissions import Perm
from components.common import message, not_allowed, page_header, stat
from components.fraud_alerts import fraud_tabs, ring_referral
from components.rings import ring_detail, rings_table
from components.siu_cases import ring_case_card
from db.flask_db import read_session
from services.siu_case_views import open_case_for_ring, ring_claims_for_case
from services.siu_cases import may_work, sees_cases_tab
from services.currency import money
from services.fraud_alerts import ring_claims_to_refer
from services.fraud_rings import MIN_CLAIMS, get_ring, last_detected, list_rings

dash.register_page(__name__, path="/rings", title="Rings · SCOPE Assistant", name="Rings")

LISTED = 200  # the rings with the most open claims; the rest are counted
RULE = (f"A ring is a group of {MIN_CLAIMS} or more claims tied together by a bank account, phone, email, licence "
        "plate, VIN, provider id or address that a person on one claim shares with a party on another. "
        "Identifiers only shops, clinics or attorneys carry, and addresses only people share (households), do not "
        "count. A ring is a lead for the investigators, not a finding.")


def _detected_text(session) -> str:
    when = last_detected(session)
    return (f"Detected {when.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; refreshed every hour." if when
            else "Not detected yet; the detect_rings job runs every hour.")


def layout(ring: str | None = None, **_query):
    user = page_user(Perm.VIEW_CLAIMS, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    code = current_app.config["SCOPE_SETTINGS"].currency
    if ring is not None:
        return _one(session, user, ring, code)
    rings, total = list_rings(session, user, limit=LISTED)
    scope = "" if user.can(Perm.VIEW_ALL_DEPARTMENTS) else " Only the claims of your departments are shown."
    if not rings:
        body = message("No rings found", "No group of claims you can open is tied together by shared "
                       "identifiers.", color="info")
    else:
        body = dbc.Card(dbc.CardBody([
            rings_table(rings, code),
            html.Div(f"Showing the {LISTED} rings with the most open claims, of {total:,}.",
                     className="small text-muted mt-2") if total > len(rings) else None,
        ]), className="shadow-sm")
    return html.Div([
        fraud_tabs("rings", cases=sees_cases_tab(session, user)),
        page_header("Possible fraud rings", "Claims tied together by the identifiers of their parties. "
                    + _detected_text(session) + scope),
        html.P(RULE, className="small text-muted mb-3", id="rings-rule"),
        html.Div([
            stat("Rings", f"{total:,}"),
            stat("Claims in them" + (" (listed)" if total > len(rings) else ""), f"{sum(r.size for r in rings):,}"),
            stat("Still open", f"{sum(r.open_claims for r in rings):,}"),
            stat("Claimed", money(sum(r.claimed for r in rings), code)),
        ], className="d-flex flex-wrap gap-4 mb-3") if rings else None,
        body,
    ])


def _one(session, user, key, code):
    view = get_ring(session, user, key)
    back = html.A("← All rings", href="/rings", className="btn btn-outline-secondary btn-sm", id="ring-back")
    if view is None:
        # Unknown, or not a ring among the claims this user may open: the same answer.
        return html.Div([back, message("Ring not found", f"There is no ring {key!s:.20} among the claims you can "
                                       "open; rings are detected again every hour.")])
    return html.Div([
        fraud_tabs("rings", cases=sees_cases_tab(session, user)),
        page_header(f"Ring {view.key}", f"{view.size} claims tied together by {len(view.links)} shared "
                    f"identifier{'s' if len(view.links) != 1 else ''}. " + _detected_text(session), right=back),
        html.Div([
            stat("Claims", f"{view.size}"),
            stat("Still open", f"{view.open_claims}"),
            stat("Claimed", money(view.claimed, code)),
            stat("Found fraudulent", f"{view.confirmed}", "closed claims with a fraud finding"),
        ], className="d-flex flex-wrap gap-4 mb-3"),
        ring_detail(view, code),
        _referral(session, user, view),
        _case(session, user, view),
    ])


def _case(session, user, view):
    if not may_work(session, user):
        return None
    n = len(ring_claims_for_case(session, view))
    return ring_case_card(view.key, n, open_case_for_ring(session, view)) if n else None


def _referral(session, user, view):
    if not user.can(Perm.DECIDE_FRAUD):
        return None
    n = len(ring_claims_to_refer(session, view))
    return ring_referral(view.key, n) if n else None
