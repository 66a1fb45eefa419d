"""Workload page: recomputed on load and on every interval tick."""
from __future__ import annotations

import datetime as dt

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.workload import SHARED_CAPACITY_NOTE, adjuster_bars, adjuster_table, age_bars, department_card
from db.flask_db import read_session
from services.access import AccessDenied
from services.workload import AGE_BUCKETS, adjuster_loads, department_loads

GRAPH_CONFIG = {"displayModeBar": False}


@secure_callback(
    Perm.VIEW_WORKLOAD,
    Output("workload-content", "children"),
    Output("workload-updated", "children"),
    Input("workload-interval", "n_intervals"),
)
def refresh(_n):
    session = read_session()
    user = user_or_none()
    try:
        adjusters = adjuster_loads(session, user)
        departments = department_loads(session, user, adjusters=adjusters)
    except AccessDenied as exc:
        return dbc.Alert(str(exc), color="danger"), ""
    over = [a for a in adjusters if a.over_capacity]
    warning = (dbc.Alert([html.Strong(f"{len(over)} over capacity: "),
                          *[part for i, a in enumerate(over[:8]) for part in (
                              ", " if i else "", dcc.Link(a.name, href=f"/reassign?adjuster={a.id}",
                                                          className="alert-link"),
                              f" ({a.open_claims}/{a.capacity})")],
                          html.Span(" · a name opens their claims on the Reassign board", className="small")],
                         color="warning", className="py-2", id="workload-over")
               if over else None)
    cards = dbc.Row([dbc.Col(department_card(d), xs=12, sm=6, lg=3, className="mb-3") for d in departments])
    shared_note = (html.P(SHARED_CAPACITY_NOTE, className="small text-muted mt-n1 mb-3", id="workload-shared-note")
                   if any(d.shared for d in departments) else None)
    people = (dbc.Row([
        dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(figure=adjuster_bars(adjusters), config=GRAPH_CONFIG,
                                                id="workload-adjuster-chart")), className="shadow-sm h-100"),
                lg=7, className="mb-4"),
        dbc.Col(dbc.Card([dbc.CardHeader("Adjusters"), dbc.CardBody(adjuster_table(adjusters),
                                                                   style={"maxHeight": "520px", "overflowY": "auto"})],
                         className="shadow-sm h-100"), lg=5, className="mb-4"),
    ]) if adjusters else dbc.Alert("No adjusters with a department yet.", color="info"))
    ages = dbc.Card(dbc.CardBody(dcc.Graph(figure=age_bars(departments, AGE_BUCKETS), config=GRAPH_CONFIG,
                                           id="workload-age-chart")), className="shadow-sm mb-4")
    # UTC and said so, like every other time in SCOPE: the server's local clock, unlabelled,
    # read as the manager's own time.
    stamp = f"Updated {dt.datetime.now(dt.timezone.utc):%H:%M:%S} UTC"
    return html.Div([warning, cards, shared_note, people, ages]), stamp
