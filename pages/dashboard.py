"""Executive dashboard: KPIs against the previous period, trends and breakdowns,
read from the KPI rollups only. Filters live in the URL so a view can be shared."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed, page_header, stale_notice
from db.flask_db import read_session
from services import dashboard as dash_service
from services.aggregates import FilterError, refreshed_text, staleness

dash.register_page(__name__, path="/dashboard", title="Dashboard · SCOPE Assistant", name="Dashboard")

GRAPH = {"displayModeBar": False}


def _graph(graph_id: str) -> dbc.Card:
    return dbc.Card(dbc.CardBody(dcc.Graph(id=graph_id, config=GRAPH)), className="shadow-sm h-100")


def _button(label: str, button_id: str) -> dbc.Button:
    return dbc.Button(label, id=button_id, color="secondary", outline=True, size="sm")


def layout(**query):
    user = page_user(Perm.VIEW_DASHBOARDS, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    options = dash_service.options(session)
    bounds = options["bounds"]
    try:
        f, _ = dash_service.parse(session, {k: query.get(k) for k in ("start", "end", "department", "line")})
        dept_value, line_value = query.get("department") or None, query.get("line") or None
    except FilterError:
        f, dept_value, line_value = dash_service.default_filters(session), None, None
    controls = dbc.Row([
        dbc.Col([dbc.Label("Period", html_for="dashboard-range", className="small text-muted mb-1"),
                 dcc.DatePickerRange(id="dashboard-range", start_date=f.start.isoformat(), end_date=f.end.isoformat(),
                                     min_date_allowed=bounds[0] if bounds else None,
                                     max_date_allowed=bounds[1] if bounds else None,
                                     display_format="YYYY-MM-DD", className="d-block")], md="auto"),
        dbc.Col([dbc.Label("Department", html_for="dashboard-department", className="small text-muted mb-1"),
                 dcc.Dropdown(id="dashboard-department", value=dept_value, placeholder="All departments",
                              options=[{"label": d["name"], "value": d["code"]} for d in options["departments"]])],
                md=3),
        dbc.Col([dbc.Label("Line of business", html_for="dashboard-line", className="small text-muted mb-1"),
                 dcc.Dropdown(id="dashboard-line", value=line_value, placeholder="All lines",
                              options=[{"label": v.replace("_", " ").title(), "value": v} for v in options["lines"]])],
                md=3),
        dbc.Col(html.Div([
            dbc.Button("Printable report", id="dashboard-report-link", href="/dashboard/report", target="_blank",
                       color="secondary", outline=True, size="sm", external_link=True),
        ], className="d-flex gap-2"), md="auto", className="ms-auto d-flex align-items-end"),
    ], className="g-3 mb-3 align-items-end")
    return html.Div([
        dcc.Location(id="dashboard-url", refresh=False),
        page_header("Executive dashboard",
                    f"Figures from the KPI rollup ({refreshed_text(session)}); changes compare with the "
                    "previous period of equal length."),
        stale_notice(staleness(session)),
        controls,
        html.Div(id="dashboard-status"),
        dcc.Loading(html.Div(id="dashboard-cards"), type="dot", delay_show=600),
        html.Div(id="dashboard-siu"),
        dbc.Row([dbc.Col(_graph("dashboard-trend"), lg=7, className="mb-4"),
                 dbc.Col(_graph("dashboard-departments"), lg=5, className="mb-4")]),
        dbc.Row([dbc.Col(_graph("dashboard-lines"), lg=6, className="mb-4"),
                 dbc.Col(_graph("dashboard-regions"), lg=6, className="mb-4")]),
        dbc.Card([dbc.CardHeader(html.Div([
            html.Span("Breakdown by department"),
            # the headline figures (the cards) too; on a phone the buttons wrap under the title, not into it
            html.Div([html.Span("Export figures and breakdowns:", className="small text-muted me-1 d-none d-sm-inline"),
                      html.Span("Export all:", className="small text-muted me-1 d-sm-none"),
                      _button("CSV", "dashboard-export-csv"), _button("Excel", "dashboard-export-xlsx")],
                     className="d-flex gap-2 align-items-center text-nowrap")],
            className="d-flex flex-wrap gap-2 justify-content-between align-items-center")),
            dbc.CardBody([html.Div(id="dashboard-export-status"), html.Div(id="dashboard-table")])],
            className="shadow-sm mb-4"),
        dcc.Download(id="dashboard-download"),
        dcc.Store(id="dashboard-drill-spec"), dcc.Store(id="dashboard-drill-page", data=0),
        dbc.Modal([
            dbc.ModalHeader(dbc.ModalTitle(id="dashboard-drill-title")),
            dbc.ModalBody([html.Div(id="dashboard-drill-pager", className="small text-muted mb-2"),
                           html.Div(id="dashboard-drill-body"), html.Div(id="dashboard-drill-export-status")],
                          style={"maxHeight": "65vh", "overflowY": "auto"}),
            dbc.ModalFooter([
                html.Div([html.Span("Export this list:", className="small text-muted me-1"),
                          _button("CSV", "dashboard-drill-csv"), _button("Excel", "dashboard-drill-xlsx")],
                         className="d-flex gap-2 align-items-center me-auto"),
                dbc.ButtonGroup([_button("‹ Newer", "dashboard-drill-prev"),
                                 _button("Older ›", "dashboard-drill-next")]),
            ]),
        ], id="dashboard-drill", size="xl", is_open=False),
    ])
