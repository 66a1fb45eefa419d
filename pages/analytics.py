"""User behaviour analytics for managers and admins: how SCOPE is used, where
people click, how long decisions take and how satisfied people are. The
period and role live in the URL so a view can be shared."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.analytics import ROLE_LABELS
from components.common import not_allowed, page_header
from services.analytics import PeriodError, default_period, parse_period

dash.register_page(__name__, path="/analytics", title="Analytics · SCOPE Assistant", name="Analytics")


def _card(body, body_id: str | None = None, header: str | None = None) -> dbc.Card:
    return dbc.Card([dbc.CardHeader(header) if header else None,
                     dbc.CardBody(body, **({"id": body_id} if body_id else {}))], className="shadow-sm h-100")


def _loading(panel_id: str) -> dcc.Loading:
    return dcc.Loading(html.Div(id=panel_id, className="analytics-panel"), type="dot", delay_show=600)


FUNNEL_NOTE = ("The funnel follows journeys (one browser tab's visit) that began at Queues or My work; claims "
               "opened from a link, an alert or the search are counted in the totals above, not here.")


def layout(**query):
    user = page_user(Perm.VIEW_ANALYTICS, __name__)
    if user is None:
        return not_allowed()
    try:
        p = parse_period({k: query.get(k) for k in ("start", "end", "role")})
    except PeriodError:
        p = default_period()
    controls = dbc.Row([
        dbc.Col([dbc.Label("Period", html_for="analytics-range", className="small text-muted mb-1"),
                 dcc.DatePickerRange(id="analytics-range", start_date=p.start.isoformat(), end_date=p.end.isoformat(),
                                     display_format="YYYY-MM-DD", className="d-block")], md="auto"),
        dbc.Col([dbc.Label("Role", html_for="analytics-role", className="small text-muted mb-1"),
                 dcc.Dropdown(id="analytics-role", value=p.role, placeholder="All roles",
                              options=[{"label": label, "value": role} for role, label in ROLE_LABELS.items()])],
                md=3),
    ], className="g-3 mb-3 align-items-end")
    return html.Div([
        dcc.Location(id="analytics-url", refresh=False),
        page_header("Usage analytics",
                    "How people use SCOPE: page views and key actions recorded on the server, sampled clicks "
                    "and the weekly rating. No claim data is stored."),
        controls,
        html.Div(id="analytics-status"),
        dcc.Loading(html.Div(id="analytics-summary"), type="dot", delay_show=600),
        dbc.Row([dbc.Col(_card([_loading("analytics-funnel"), html.Div(id="analytics-funnel-roles"),
                                html.P(FUNNEL_NOTE, className="small text-muted mt-2 mb-0",
                                       id="analytics-funnel-note")]), lg=6, className="mb-4"),
                 dbc.Col(_card(_loading("analytics-ttd")), lg=6, className="mb-4")]),
        dbc.Row([dbc.Col(_card([
            dbc.Row([dbc.Col(html.H6("Click heatmap", className="fw-semibold mb-0"),
                             className="d-flex align-items-center"),
                     dbc.Col(dcc.Dropdown(id="analytics-heatmap-page", placeholder="Choose a page", clearable=False),
                             md=5)], className="mb-2"),
            _loading("analytics-heatmap")]), lg=7, className="mb-4"),
                 dbc.Col(_card(_loading("analytics-journeys")), lg=5, className="mb-4")]),
        dbc.Row([dbc.Col(_card(_loading("analytics-satisfaction")), lg=6, className="mb-4"),
                 dbc.Col(_card(_loading("analytics-pages")), lg=6, className="mb-4")]),
    ])
