"""Reassignment board: pick claims (a department queue, filtered, or pasted
claim numbers), choose where they go and why, and move them in one step.

The grid uses the client-side row model: a selection is capped at
services.reassignment.BOARD_MAX (2,000) rows, which the browser handles well;
bigger queues are narrowed with the status/line filters first."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed, page_header
from db.flask_db import read_session
from services.queues import OPEN_STATUSES, visible_departments
from services.reassignment import (BOARD_MAX, COMMENT_MAX, MAX_BULK, REASON_CODES, board_adjusters, line_label,
                                   lines_of_business, status_label)

dash.register_page(__name__, path="/reassign", title="Reassign · SCOPE Assistant", name="Reassign")

COLUMNS = [
    {"field": "claim_number", "headerName": "Claim", "cellRenderer": "ClaimLink", "pinned": "left", "width": 200,
     "filter": "agTextColumnFilter"},
    {"field": "department_name", "headerName": "Department", "width": 190},
    {"field": "adjuster", "headerName": "Adjuster", "width": 160},
    {"field": "status_label", "headerName": "Status", "width": 120},
    {"field": "line_label", "headerName": "Line", "width": 160, "filter": "agTextColumnFilter"},
    {"field": "state", "headerName": "State", "width": 90},
    {"field": "report_date", "headerName": "Reported", "width": 120},
    # The queue grid's renderer (rounds down): 0.99925 reads "99%" as in the queue, not "100%" as d3's ".0%"
    # showed. The rows carry the confidence rounded to 3 decimals (services.reassignment._board_query).
    {"field": "confidence", "headerName": "Confidence", "width": 130, "type": "rightAligned",
     "cellRenderer": "ConfidenceBar"},
]  # each row still carries its version (the move's optimistic lock); a column of it told a manager nothing


def _source(depts, lines, adjusters, *, department=None, adjuster=None) -> dbc.Card:
    lines = [{"label": line_label(v), "value": v} for v in lines]
    return dbc.Card([dbc.CardHeader("1 · Choose claims"), dbc.CardBody([
        dbc.Label("Department queue", html_for="reassign-source-dept"),
        dcc.Dropdown(id="reassign-source-dept", options=[{"label": d.name, "value": d.code} for d in depts],
                     placeholder="Department…", clearable=True, value=department),
        dbc.Label("Adjuster", className="mt-2", html_for="reassign-source-adjuster"),
        dcc.Dropdown(id="reassign-source-adjuster", options=[{"label": n, "value": i} for i, n in adjusters],
                     placeholder="Anyone's (or pick one to rebalance)", clearable=True, value=adjuster),
        dbc.Row([
            dbc.Col([dbc.Label("Status", className="mt-2", html_for="reassign-source-status"),
                     dcc.Dropdown(id="reassign-source-status", placeholder="Any open",
                                  options=[{"label": status_label(s), "value": s} for s in OPEN_STATUSES])]),
            dbc.Col([dbc.Label("Line", className="mt-2", html_for="reassign-source-line"),
                     dcc.Dropdown(id="reassign-source-line", options=lines, placeholder="Any line")]),
        ]),
        dbc.Label("…or paste claim numbers", className="mt-2", html_for="reassign-numbers"),
        dbc.Textarea(id="reassign-numbers", rows=3, maxLength=BOARD_MAX * 42,
                     placeholder="One per line, or separated by commas"),
        dbc.Button("Load claims", id="reassign-load", color="secondary", className="mt-3 w-100"),
    ])], className="shadow-sm mb-3")


def _target(depts) -> dbc.Card:
    # The words only: with the code in front, the chosen reason showed as "WORKLOAD_BALANC…" in the narrow column.
    reasons = [{"label": label, "value": code} for code, label in REASON_CODES.items()]
    return dbc.Card([dbc.CardHeader("2 · Move the selected claims"), dbc.CardBody([
        dbc.Label("Target department", html_for="reassign-target-dept"),
        dcc.Dropdown(id="reassign-target-dept", options=[{"label": d.name, "value": d.code} for d in depts],
                     placeholder="Keep their department"),
        html.Div(id="reassign-dept-hint", className="small text-muted mt-1"),
        dbc.Label("Adjuster", className="mt-2", html_for="reassign-target-adjuster"),
        dcc.Dropdown(id="reassign-target-adjuster", options=[], placeholder="Leave unassigned"),
        html.Div(id="reassign-adjuster-hints", className="mt-2"),
        dbc.Label(["Reason ", html.Span("(required)", className="text-danger small")], className="mt-2",
                  html_for="reassign-reason"),
        dcc.Dropdown(id="reassign-reason", options=reasons, placeholder="Why are they moving?"),
        dbc.Label("Comment", className="mt-2", html_for="reassign-comment"),
        dbc.Textarea(id="reassign-comment", rows=2, maxLength=COMMENT_MAX, placeholder="Optional note for the history"),
        dbc.Button("Move selected claims", id="reassign-move", color="primary", className="mt-3 w-100"),
        html.Div(id="reassign-result", className="mt-3"),
    ])], className="shadow-sm mb-3")


def layout(department: str | None = None, adjuster: str | None = None, **_query):
    user = page_user(Perm.REASSIGN, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    depts = visible_departments(session, user)
    adjusters = board_adjusters(session, user)
    # From Workload's "rebalance" links: only values the pickers offer (the address is untrusted).
    chosen_adjuster = next((i for i, _ in adjusters if isinstance(adjuster, str) and adjuster == str(i)), None)
    chosen_dept = next((d.code for d in depts if d.code == department), None)
    grid = dag.AgGrid(
        id="reassign-grid", columnDefs=COLUMNS, rowData=[],
        defaultColDef={"sortable": True, "resizable": True},
        getRowId="params.data.id + ''",  # a string: AG Grid warned on numbers (String() is not in its evaluator)
        dashGridOptions={"rowSelection": {"mode": "multiRow", "selectAll": "filtered"},
                         "selectionColumnDef": {"pinned": "left", "width": 48},
                         "pagination": True, "paginationPageSize": 50, "paginationPageSizeSelector": [50, 100, 500],
                         "animateRows": False, "suppressCellFocus": True,
                         "localeText": {"noRowsToShow": "No claims loaded yet."}},
        style={"height": "640px"}, className="ag-theme-quartz",
    )
    return html.Div([
        page_header("Reassign claims", f"Move up to {MAX_BULK} claims at a time to another department or adjuster. "
                                       "Every move is recorded in the claim history and the audit log."),
        dbc.Row([
            dbc.Col([_source(depts, lines_of_business(session), adjusters, department=chosen_dept,
                             adjuster=chosen_adjuster), _target(depts)], lg=4, xl=3),
            dbc.Col([html.Div("Choose a department queue or paste claim numbers, then Load claims.",
                              id="reassign-status", className="small text-muted mb-2"),
                     html.Div(id="reassign-selected", className="small fw-semibold mb-2"), grid,
                     # the filters the listing was loaded with: a move lists the same claims again
                     dcc.Store(id="reassign-loaded")], lg=8, xl=9),
        ]),
    ])
