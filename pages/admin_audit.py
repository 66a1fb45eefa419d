"""Audit log: search by actor, action, target and date; server-side pages; CSV
export of the filtered rows; the hash chain's last verification and Verify now."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.audit_log import VERIFY_JOB, chain_panel, verify_busy
from components.common import not_allowed, page_header
from db.flask_db import read_session
from jobs import on_demand
from services.audit import known_actions, last_verification

dash.register_page(__name__, path="/admin/audit", title="Audit log · SCOPE Assistant", name="Audit log")
POLL_MS = 2_000


def _filters(actions: list[str]) -> dbc.Card:
    field, wide = "col-md-6 col-lg-3 mb-2", "col-md-6 col-lg-4 mb-2"
    return dbc.Card(dbc.CardBody([
        dbc.Row([
            html.Div([dbc.Label("Actor", html_for="audit-actor", className="small"),
                      dbc.Input(id="audit-actor", placeholder="email contains…", maxLength=120, debounce=True)],
                     className=field),
            html.Div([dbc.Label("Action", html_for="audit-action", className="small"),
                      dbc.Input(id="audit-action", placeholder="e.g. claim or claim.status", maxLength=120,
                                list="audit-action-list", debounce=True),
                      html.Datalist(id="audit-action-list", children=[html.Option(value=a) for a in actions])],
                     className=field),
            html.Div([dbc.Label("Target", html_for="audit-target", className="small"),
                      dbc.Input(id="audit-target", placeholder="claim:123, user:5 or an id", maxLength=120,
                                debounce=True)], className="col-md-6 col-lg-2 mb-2"),
            html.Div([dbc.Label("From / to (UTC)", className="small"),
                      html.Div([dbc.Input(id="audit-date-from", type="date", debounce=True, className="me-2"),
                                dbc.Input(id="audit-date-to", type="date", debounce=True)], className="d-flex")],
                     className=wide),
        ]),
        html.Div([
            html.Div(id="audit-search-msg", className="small"),
            html.Div([dbc.Button("Export CSV", id="audit-export", color="outline-secondary", size="sm", n_clicks=0),
                      dcc.Download(id="audit-download")]),
        ], className="d-flex justify-content-between align-items-center mt-2"),
    ]), className="shadow-sm mb-4")


def layout(**_query):
    user = page_user(Perm.VIEW_AUDIT, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    state = on_demand.status(session, VERIFY_JOB)
    chain = dbc.Card(dbc.CardBody([
        html.Div([html.H5("Hash chain", className="card-title mb-0"),
                  dbc.Button("Verify now", id="audit-verify", color="primary", size="sm", n_clicks=0)],
                 className="d-flex justify-content-between align-items-center mb-3"),
        html.Div(chain_panel(state, last_verification(session)), id="audit-chain-status"),
        # Runs while a check is asked for or under way (callbacks.admin_audit.follow_check).
        dcc.Interval(id="audit-chain-poll", interval=POLL_MS, disabled=not verify_busy(state)),
        html.P(["Each entry carries the SHA-256 of its content and of the entry before it. The scheduler "
                "checks the whole chain nightly and when asked here; ",
                html.Code("scope audit verify"), " checks it from the command line."],
               className="small text-muted mt-2 mb-0"),
    ]), className="shadow-sm mb-4")
    entries = dbc.Card(dbc.CardBody([
        html.Div([html.H5("Entries", className="card-title mb-0"),
                  html.Div([dbc.Button("← Newer", id="audit-prev", color="outline-secondary", size="sm",
                                       n_clicks=0, className="me-2"),
                            html.Span(id="audit-pager", className="small text-muted me-2"),
                            dbc.Button("Older →", id="audit-next", color="outline-secondary", size="sm", n_clicks=0)],
                           className="d-flex align-items-center")],
                 className="d-flex justify-content-between align-items-center mb-3"),
        dcc.Loading(html.Div(id="audit-entries"), type="dot"),
    ]), className="shadow-sm mb-4")
    return html.Div([
        page_header("Audit log", "Who did what, when, to which record. Append-only and hash-chained."),
        dcc.Store(id="audit-page", data=0),
        chain, _filters(known_actions(session)), entries,
    ])
