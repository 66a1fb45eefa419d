"""Operations: department workload and routing quality for managers, read from
rollups only. Filters (period, department) live in the URL so a view can be shared."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed, page_header, stale_notice
from components.workload import SHARED_CAPACITY_NOTE
from db.flask_db import read_session
from services.aggregates import FilterError, data_bounds, filter_options, refreshed_text, staleness
from services.operations import DEFAULT_DAYS, parse_filters

dash.register_page(__name__, path="/operations", title="Operations · SCOPE Assistant", name="Operations")

GRAPH = {"displayModeBar": False}


def _graph(graph_id: str) -> dbc.Card:
    return dbc.Card(dbc.CardBody(dcc.Graph(id=graph_id, config=GRAPH)), className="shadow-sm h-100")


def _section(title: str, note: str) -> html.Div:
    return html.Div([html.H5(title, className="mb-0"), html.Div(note, className="small text-muted")],
                    className="mt-2 mb-3")


def layout(**query):
    user = page_user(Perm.VIEW_OPERATIONS, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    options = filter_options(session)
    bounds = data_bounds(session)
    try:
        f = parse_filters(session, {k: query.get(k) for k in ("start", "end", "department")})
        dept_value = query.get("department") or None
    except FilterError:
        f, dept_value = parse_filters(session, {}), None
    controls = dbc.Row([
        dbc.Col([dbc.Label("Period", html_for="ops-range", className="small text-muted mb-1"),
                 dcc.DatePickerRange(id="ops-range", start_date=f.start.isoformat(), end_date=f.end.isoformat(),
                                     min_date_allowed=bounds[0].isoformat() if bounds else None,
                                     max_date_allowed=bounds[1].isoformat() if bounds else None,
                                     display_format="YYYY-MM-DD", className="d-block")], md="auto"),
        dbc.Col([dbc.Label("Department", html_for="ops-department", className="small text-muted mb-1"),
                 dcc.Dropdown(id="ops-department", value=dept_value, placeholder="All departments",
                              options=[{"label": d["name"], "value": d["code"]} for d in options["departments"]])],
                md=3),
    ], className="g-3 mb-3 align-items-end")
    return html.Div([
        dcc.Location(id="ops-url", refresh=False),
        page_header("Operations",
                    f"Workload now and routing quality over the period, from the rollups ({refreshed_text(session)}). "
                    "The period applies to flows, routing and feedback; workload is today's. "
                    f"It opens on the last {DEFAULT_DAYS} days, not the Dashboard's 90: calibration and the "
                    "confusion matrix need more closed claims than a quarter holds, so pick the same dates "
                    "to compare a figure with the Dashboard's."),
        stale_notice(staleness(session)),
        controls,
        html.Div(id="ops-status"),
        dcc.Loading(html.Div(id="ops-cards"), type="dot", delay_show=600),
        _section("Department workload", "Open claims at the last refresh; ages counted from the report date. "
                                        + SHARED_CAPACITY_NOTE),
        dbc.Row([dbc.Col(_graph("ops-age"), lg=6, className="mb-4"),
                 dbc.Col(_graph("ops-capacity"), lg=6, className="mb-4")]),
        dbc.Row([dbc.Col(_graph("ops-flow"), lg=7, className="mb-4"),
                 dbc.Col(_graph("ops-flow-departments"), lg=5, className="mb-4")]),
        dbc.Card([dbc.CardHeader("Adjusters: open claims against capacity"),
                  dbc.CardBody(html.Div(id="ops-adjusters"), style={"maxHeight": "420px", "overflowY": "auto"})],
                 className="shadow-sm mb-4"),
        _section("Routing quality", "Closed claims in the period by closing day; routed means the first "
                                    "routing decision's department, before any person moved the claim."),
        dbc.Row([dbc.Col(_graph("ops-confusion"), lg=6, className="mb-4"),
                 dbc.Col(_graph("ops-sankey"), lg=6, className="mb-4")]),
        dbc.Row([dbc.Col(_graph("ops-calibration"), lg=7, className="mb-4"),
                 dbc.Col(dbc.Card([dbc.CardHeader("Calibration table"),
                                   dbc.CardBody(html.Div(id="ops-calibration-body"))],
                                  className="shadow-sm h-100"), lg=5, className="mb-4")]),
        dbc.Row([dbc.Col(_graph("ops-reasons"), lg=6, className="mb-4"),
                 dbc.Col(dbc.Card([dbc.CardHeader("Disagreement reasons and the departments adjusters suggested"),
                                   dbc.CardBody(html.Div(id="ops-reasons-body"))],
                                  className="shadow-sm h-100"), lg=6, className="mb-4")]),
    ])
