"""Operations page: controls write the URL; the URL drives every figure."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode

import plotly.io

import dash_bootstrap_components as dbc
from dash import Input, Output, no_update

from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components import operations as figs
from components.workload import adjuster_table
from db.flask_db import read_session
from services.access import AccessDenied
from services.aggregates import FilterError
from services import operations
from services.operations import page_data, parse_filters
from services.workload import AdjusterLoad

KEYS = ("start", "end", "department")
OUTPUTS = 12


def _raw(search) -> dict:
    if search is not None and (not isinstance(search, str) or len(search) > 2000):
        raise FilterError("The address holds filters that are not valid.")
    parsed = parse_qs((search or "").lstrip("?"))
    return {k: parsed[k][0] for k in KEYS if parsed.get(k)}


@secure_callback(
    Perm.VIEW_OPERATIONS,
    Output("ops-url", "search"),
    Input("ops-range", "start_date"), Input("ops-range", "end_date"), Input("ops-department", "value"),
    prevent_initial_call=True,
)
def write_url(start, end, department):
    values = {"start": start, "end": end, "department": department}
    return "?" + urlencode({k: v[:40] for k, v in values.items() if isinstance(v, str) and v})


@secure_callback(
    Perm.VIEW_OPERATIONS,
    Output("ops-status", "children"), Output("ops-cards", "children"),
    Output("ops-age", "figure"), Output("ops-capacity", "figure"),
    Output("ops-flow", "figure"), Output("ops-flow-departments", "figure"),
    Output("ops-adjusters", "children"),
    Output("ops-confusion", "figure"), Output("ops-sankey", "figure"),
    Output("ops-calibration", "figure"), Output("ops-calibration-body", "children"),
    Output("ops-reasons", "figure"), Output("ops-reasons-body", "children"),
    Input("ops-url", "search"),
)
def render(search):
    session = read_session()
    try:
        f = parse_filters(session, _raw(search))
        data = page_data(session, user_or_none(), f)
    except (FilterError, AccessDenied) as exc:
        return (dbc.Alert(f"Invalid filter: {exc}" if isinstance(exc, FilterError) else str(exc),
                          color="danger", id="ops-error"),) + (no_update,) * OUTPUTS
    # Building plotly figures costs more than reading the rollups: keep them, as JSON, next to the data.
    figures = operations.cached(session, f, "figures", lambda: _figures(data))
    adjusters = [AdjusterLoad(a["id"], a["name"], "", tuple(a["departments"]), a["open"], a["capacity"],
                              tuple(a["department_names"])) for a in data["workload"]["adjusters"]]
    empty = not data["flow"]["periods"] and not data["routing"]["total"]
    status = dbc.Alert(f"No claims received or closed in {f.start} – {f.end} for these filters.",
                       color="info") if empty else None
    age, capacity, flow, flow_departments, confusion, sankey, calibration, reasons = figures
    return (status, figs.summary_cards(data), age, capacity, flow, flow_departments,
            adjuster_table(adjusters) if adjusters else dbc.Alert("No adjusters in this department.", color="info"),
            confusion, sankey, calibration, figs.calibration_table(data["routing"]),
            reasons, figs.reasons_table(data["feedback"]))


def _figures(data: dict) -> list[dict]:
    built = [figs.age_figure(data["workload"]), figs.capacity_figure(data["workload"]), figs.flow_figure(data["flow"]),
             figs.flow_by_department_figure(data["flow"]), figs.confusion_figure(data["routing"]),
             figs.sankey_figure(data["moves"]), figs.calibration_figure(data["routing"]),
             figs.reasons_figure(data["feedback"])]
    return [json.loads(plotly.io.to_json(fig)) for fig in built]
