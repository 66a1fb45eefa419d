"""Executive dashboard: controls write the URL; the URL drives every figure."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlencode

import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, no_update
from dash.exceptions import PreventUpdate

from auth.guard import secure_callback
from auth.permissions import Perm
from components.kpis import (breakdown_csv, breakdown_table, category_figure, department_figure, drill_table,
                             kpi_cards, received_closed_figure)
from db.flask_db import read_session
from services.aggregates import (DRILL_LIMIT, FilterError, breakdown, drill_claims, kpis_with_previous,
                                 parse_filters, series)

KEYS = ("start", "end", "department", "line")


def _raw(search) -> dict:
    if not isinstance(search, str) or len(search) > 2000:
        raise FilterError("The address holds filters that are not valid.")
    parsed = parse_qs(search.lstrip("?"))
    return {k: parsed[k][0] for k in KEYS if parsed.get(k)}


def _filters(search):
    session = read_session()
    return session, parse_filters(session, _raw(search))


@secure_callback(
    Perm.VIEW_DASHBOARDS,
    Output("dashboard-url", "search"),
    Input("dashboard-range", "start_date"), Input("dashboard-range", "end_date"),
    Input("dashboard-department", "value"), Input("dashboard-line", "value"),
    prevent_initial_call=True,
)
def write_url(start, end, department, line):
    values = {"start": start, "end": end, "department": department, "line": line}
    return "?" + urlencode({k: v[:40] for k, v in values.items() if isinstance(v, str) and v})


@secure_callback(
    Perm.VIEW_DASHBOARDS,
    Output("dashboard-status", "children"), Output("dashboard-cards", "children"),
    Output("dashboard-trend", "figure"), Output("dashboard-departments", "figure"),
    Output("dashboard-lines", "figure"), Output("dashboard-regions", "figure"),
    Output("dashboard-table", "children"),
    Input("dashboard-url", "search"),
)
def render(search):
    try:
        session, f = _filters(search)
    except FilterError as exc:
        return (dbc.Alert(f"Invalid filter: {exc}", color="danger", id="dashboard-error"),
                no_update, no_update, no_update, no_update, no_update, no_update)
    k = kpis_with_previous(session, f)
    departments = breakdown(session, f, "department")
    status = dbc.Alert(f"No claims in {f.start} – {f.end} for these filters.", color="info") \
        if not k["current"]["received"] and not k["current"]["closed"] else None
    return (status, kpi_cards(k["current"], k["previous"]), received_closed_figure(series(session, f)),
            department_figure(departments),
            category_figure(breakdown(session, f, "line"), "Claims received by line of business", "Claims received"),
            category_figure(breakdown(session, f, "region"), "Claims received by region", "Claims received"),
            breakdown_table(departments))


@secure_callback(
    Perm.VIEW_DASHBOARDS,
    Output("dashboard-drill", "is_open"), Output("dashboard-drill-title", "children"),
    Output("dashboard-drill-body", "children"),
    Input("dashboard-departments", "clickData"), State("dashboard-url", "search"),
    prevent_initial_call=True,
)
def drill(click, search):
    try:
        code = click["points"][0]["customdata"]
        if not isinstance(code, str):
            raise TypeError
    except (TypeError, KeyError, IndexError):
        raise PreventUpdate from None
    try:
        session, f = _filters(search)
        rows = drill_claims(session, f, code)
    except FilterError as exc:
        return True, "Claims", dbc.Alert(str(exc), color="danger")
    title = f"{code}: claims received {f.start} – {f.end}"
    if len(rows) >= DRILL_LIMIT:
        title += f" (newest {DRILL_LIMIT})"
    return True, title, drill_table(rows)


@secure_callback(
    Perm.VIEW_DASHBOARDS,
    Output("dashboard-download", "data"),
    Input("dashboard-export", "n_clicks"), State("dashboard-url", "search"),
    prevent_initial_call=True,
)
def export(_n, search):
    try:
        session, f = _filters(search)
    except FilterError:
        raise PreventUpdate from None
    text = breakdown_csv({d: breakdown(session, f, d) for d in ("department", "line", "region")})
    return dcc.send_string(text, f"scope-breakdown-{f.start}-{f.end}-{dt.date.today()}.csv")
