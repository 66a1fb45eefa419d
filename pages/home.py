"""Overview: one card per department queue the user can see, and how those
claims were routed."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import current_app

from auth.guard import page_user
from auth.permissions import Perm
from components.charts import confidence_histogram, open_claims_by_queue
from components.common import not_allowed, page_header
from db.flask_db import read_session
from services.queues import confidence_distribution, overview

dash.register_page(__name__, path="/", title="Overview · SCOPE Assistant", name="Overview")


def _card(q) -> dbc.Col:
    conf = "—" if q.avg_confidence is None else f"{q.avg_confidence:.0%}"
    return dbc.Col(dcc.Link(dbc.Card(dbc.CardBody([
        html.Div([html.Span(className="dept-dot", style={"backgroundColor": q.color}),
                  html.Span(q.name, className="fw-semibold")], className="mb-3"),
        html.Div([
            html.Div([html.Div(f"{q.open_claims:,}", className="stat-value"),
                      html.Div("open", className="stat-label")]),
            html.Div([html.Div(f"{q.new_claims:,}", className="stat-value"), html.Div("new", className="stat-label")]),
            html.Div([html.Div(conf, className="stat-value"), html.Div("mean confidence", className="stat-label")]),
        ], className="d-flex justify-content-between"),
    ]), className="queue-card h-100 shadow-sm"), href=f"/queues?department={q.code}",
        className="text-reset text-decoration-none"),
        md=6, xl=3, className="mb-4")


def layout(**_query):
    user = page_user(Perm.VIEW_QUEUES, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    queues = overview(session, user)
    header = page_header("Overview", f"Signed in as {user.name}. Open claims by department queue.")
    if not queues:
        return html.Div([header, dbc.Alert("You are not assigned to any department yet. Ask an administrator.",
                                           color="info")])
    names = {q.code: q.name for q in queues}
    colors = {q.code: q.color for q in queues}
    threshold = current_app.config["SCOPE_SETTINGS"].confidence_threshold
    charts = dbc.Row([
        dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(figure=open_claims_by_queue(queues), config={"displayModeBar": False})),
                         className="shadow-sm h-100"), lg=6, className="mb-4"),
        dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(
            figure=confidence_histogram(confidence_distribution(session, user), names, colors, threshold),
            config={"displayModeBar": False})), className="shadow-sm h-100"), lg=6, className="mb-4"),
    ])
    return html.Div([header, dbc.Row([_card(q) for q in queues]), charts])
