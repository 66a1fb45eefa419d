"""Overview: one card per department queue the user can see."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.current import user_or_none
from auth.permissions import Perm
from components.common import not_allowed, page_header
from db.flask_db import read_session
from services.queues import overview

dash.register_page(__name__, path="/", title="Overview · SCOPE Assistant", name="Overview")


def _card(q) -> dbc.Col:
    conf = "—" if q.avg_confidence is None else f"{q.avg_confidence:.0%}"
    return dbc.Col(dcc.Link(dbc.Card(dbc.CardBody([
        html.Div([html.Span(className="dept-dot", style={"backgroundColor": q.color}),
                  html.Span(q.name, className="fw-semibold")], className="mb-3"),
        html.Div([
            html.Div([html.Div(f"{q.open_claims:,}", className="stat-value"), html.Div("open", className="stat-label")]),
            html.Div([html.Div(f"{q.new_claims:,}", className="stat-value"), html.Div("new", className="stat-label")]),
            html.Div([html.Div(conf, className="stat-value"), html.Div("mean confidence", className="stat-label")]),
        ], className="d-flex justify-content-between"),
    ]), className="queue-card h-100 shadow-sm"), href=f"/queues?department={q.code}", className="text-reset text-decoration-none"),
        md=6, xl=3, className="mb-4")


def layout(**_query):
    user = user_or_none()
    if user is None or not user.can(Perm.VIEW_QUEUES):
        return not_allowed()
    queues = overview(read_session(), user)
    body = (dbc.Row([_card(q) for q in queues]) if queues
            else dbc.Alert("You are not assigned to any department yet. Ask an administrator.", color="info"))
    return html.Div([page_header("Department queues", f"Signed in as {user.name}. Open claims by queue."), body])
