"""Fraud alerts: open claims outside Special Investigations with signs of fraud
(services.fraud_alerts), for managers to refer to SIU or dismiss; ?status=… shows
the decided ones, ?claim=… one claim's alert."""
from __future__ import annotations

import datetime as dt

import dash
from dash import dcc, html
from flask import current_app

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed, page_header
from components.fraud_alerts import alerts_href, decision_modal, fraud_tabs, list_body, summary
from db.flask_db import read_session
from services.siu_cases import sees_cases_tab, siu_id
from services.fraud_alerts import MODEL_THRESHOLD, STATUS_LABELS, counts, last_raised, list_alerts, open_totals

dash.register_page(__name__, path="/fraud-alerts", title="Fraud alerts · SCOPE Assistant", name="Fraud alerts")

# A page of alerts: each row carries its reasons and two buttons (200 rows were 0.7 MB and
# 130 ms of rendering at a million claims; 50 are 35 ms).
PER_PAGE = 50
RULE = ("An alert is raised on an open claim outside Special Investigations when it is in a possible fraud ring, "
        "when a person on it shares an identifier with a claim found fraudulent, when the router gives Special "
        f"Investigations {MODEL_THRESHOLD:.0%} or more, or when someone flags it. Managers refer the claim to "
        "SIU or dismiss the alert; a dismissed alert comes back only for a new kind of signal.")


def _raised_text(session) -> str:
    when = last_raised(session)
    return (f"Checked {when.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; every hour." if when
            else "Not checked yet; the raise_fraud_alerts job runs every hour.")


def _page_number(value) -> int:
    # ASCII digits only: "²".isdigit() is true and int("²") fails.
    ok = isinstance(value, str) and 0 < len(value) < 6 and value.isascii() and value.isdigit()
    return max(1, int(value)) if ok else 1


def _siu_only(session, user) -> bool:
    """An SIU adjuster who works no other queue: open alerts never fall on their claims."""
    if user.can(Perm.VIEW_ALL_DEPARTMENTS):
        return False
    siu = siu_id(session)
    return siu is not None and set(user.department_ids) == {siu}


def layout(status: str | None = None, claim: str | None = None, page: str | None = None, **_query):
    user = page_user(Perm.VIEW_CLAIMS, __name__)
    if user is None:
        return not_allowed()
    status = status if isinstance(status, str) and status in STATUS_LABELS else "open"  # ?status=a&status=b: a list
    # A claim filter that names no claim (too long, unknown) lists nothing, not everything.
    claim = claim[:41] if isinstance(claim, str) and claim else None
    session = read_session()
    code = current_app.config["SCOPE_SETTINGS"].currency
    number = _page_number(page)
    alerts, total = list_alerts(session, user, status=status, claim_number=claim, limit=PER_PAGE,
                                offset=(number - 1) * PER_PAGE)
    can_decide = user.can(Perm.DECIDE_FRAUD)
    scope = "" if user.can(Perm.VIEW_ALL_DEPARTMENTS) else " Only the claims of your departments are shown."
    only = html.Div([f"Showing the alert on {claim:.40}. ", html.A("Show all", href=alerts_href(status))],
                    className="small mb-2", id="fraud-claim-filter") if claim else None
    return html.Div([
        dcc.Store(id="fraud-view", data={"claim": claim, "page": number}),
        fraud_tabs("alerts", cases=sees_cases_tab(session, user)),
        page_header("Fraud alerts", "Claims outside Special Investigations that show signs of fraud. "
                    + _raised_text(session) + scope),
        html.P(RULE + (" Flag a claim for SIU review from its page." if user.can(Perm.FLAG_FRAUD) else ""),
               className="small text-muted mb-3", id="fraud-rule"),
        html.Div(summary(status, counts(session, user), claim, alerts, total, code,
                         open_totals(session, user) if status == "open" and alerts and claim is None else None),
                 id="fraud-summary"),
        only,
        html.Div(id="fraud-result"),
        html.Div(list_body(alerts, total, code, status=status, can_decide=can_decide, page=number,
                           per_page=PER_PAGE, siu_only=_siu_only(session, user)), id="fraud-list"),
        decision_modal() if can_decide and status == "open" else None,
    ])
