"""A department's work queue: a server-side paged grid over any number of claims."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.current import user_or_none
from auth.permissions import Perm
from components.common import dept_badge, not_allowed, page_header
from db.flask_db import read_session
from services.queues import visible_departments

dash.register_page(__name__, path="/queues", title="Queues · SCOPE Assistant", name="Queues")

COLUMNS = [
    {"field": "claim_number", "headerName": "Claim", "cellRenderer": "ClaimLink", "filter": "agTextColumnFilter",
     "pinned": "left", "width": 190},
    {"field": "report_date", "headerName": "Reported", "width": 120, "sort": "desc"},
    {"field": "loss_date", "headerName": "Loss date", "width": 120},
    {"field": "line_of_business", "headerName": "Line", "filter": "agTextColumnFilter", "width": 150},
    {"field": "status", "headerName": "Status", "filter": "agTextColumnFilter", "width": 120},
    {"field": "claimed_amount", "headerName": "Claimed", "type": "rightAligned", "width": 130,
     "valueFormatter": {"function": "params.value == null ? '' : d3.format(',.0f')(params.value)"}},
    {"field": "confidence", "headerName": "Confidence", "sortable": False, "width": 120, "type": "rightAligned",
     "valueFormatter": {"function": "params.value == null ? '—' : d3.format('.0%')(params.value)"}},
    {"field": "state", "headerName": "State", "filter": "agTextColumnFilter", "width": 100},
    {"field": "adjuster", "headerName": "Adjuster", "sortable": False, "width": 140},
    {"field": "description", "headerName": "Description", "sortable": False, "flex": 1, "minWidth": 260},
]


def layout(department: str | None = None, **_query):
    user = user_or_none()
    if user is None or not user.can(Perm.VIEW_QUEUES):
        return not_allowed()
    depts = visible_departments(read_session(), user)
    if not depts:
        return dbc.Alert("You are not assigned to any department yet. Ask an administrator.", color="info")
    codes = {d.code: d for d in depts}
    current = codes.get(department) or depts[0]
    tabs = dbc.Nav([
        dbc.NavItem(dbc.NavLink([html.Span(className="dept-dot", style={"backgroundColor": d.color}), d.name],
                                href=f"/queues?department={d.code}", active=d.code == current.code))
        for d in depts
    ], pills=True, className="mb-3 queue-tabs flex-wrap")
    grid = dag.AgGrid(
        id="queue-grid",
        columnDefs=COLUMNS,
        defaultColDef={"sortable": True, "resizable": True, "filterParams": {"maxNumConditions": 1, "buttons": ["reset"]}},
        rowModelType="infinite",
        dashGridOptions={"rowBuffer": 0, "cacheBlockSize": 100, "maxBlocksInCache": 20, "pagination": True,
                         "paginationPageSize": 25, "paginationPageSizeSelector": [25, 50, 100],
                         "animateRows": False, "suppressCellFocus": True},
        style={"height": "680px"},
        className="ag-theme-quartz",
    )
    return html.Div([
        page_header(current.name, "Open claims routed to this queue, newest first.",
                    right=dept_badge(current.code, current.color)),
        tabs,
        dcc.Store(id="queue-department", data=current.code),
        html.Div(id="queue-status", className="small text-muted mb-2"),
        grid,
    ])
