"""Admin: departments and their service level (days from report to closing)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.common import dept_badge, not_allowed, page_header
from db.flask_db import read_session
from jobs.scheduler import schedule_of
from pages.admin_jobs import describe_schedule
from services.departments import MAX_SLA_DAYS, MIN_SLA_DAYS, department_rows

dash.register_page(__name__, path="/admin/departments", title="Departments · SCOPE Assistant", name="Departments")


def _status(row: dict):
    badges = [dbc.Badge("active" if row["active"] else "inactive", color="success" if row["active"] else "secondary",
                        className="me-1")]
    if row["is_triage"]:
        badges.append(dbc.Badge("triage", color="light", text_color="dark"))
    return badges


def departments_table(rows: list[dict]):
    # The level (what this page is for) and its effect come first: on a phone the columns
    # after the third sit off the edge of the scrolling table.
    head = html.Thead(html.Tr([html.Th("Department"), html.Th("Service level (days)"),
                               html.Th("Open claims", className="text-end"),
                               html.Th("Past the level now", className="text-end"),
                               html.Th("Lines of business"), html.Th("Status")], className="align-bottom"))
    body = []
    for r in rows:
        body.append(html.Tr([
            html.Td([dept_badge(r["name"], r["color"]),
                     html.Div(r["code"], className="small text-muted font-monospace mt-1")]),
            html.Td(html.Div([
                dbc.Input(id={"type": "dept-sla", "id": r["id"]}, type="number", value=r["sla_days"],
                          min=MIN_SLA_DAYS, max=MAX_SLA_DAYS, step=1, size="sm", style={"width": "5.5rem"}),
                dbc.Button("Save", id={"type": "dept-sla-save", "id": r["id"]}, color="outline-primary", size="sm",
                           n_clicks=0),
            ], className="d-flex align-items-center gap-2")),
            html.Td(f"{r['open']:,}", className="text-end"),
            html.Td(f"{r['past_sla']:,}", className="text-end" + (" text-danger fw-semibold" if r["past_sla"] else ""),
                    id=f"dept-past-{r['code']}"),
            html.Td(", ".join(lob.replace("_", " ") for lob in r["lines_of_business"]) or "—", className="small"),
            html.Td(_status(r)),
        ], id=f"dept-row-{r['code']}", className="dept-row" + ("" if r["active"] else " text-muted")))
    # The levels as rendered: a save is refused if someone else changed the level meanwhile.
    loaded = dcc.Store(id="departments-loaded", data={str(r["id"]): r["sla_days"] for r in rows})
    return html.Div([dbc.Table([head, html.Tbody(body)], hover=True, responsive=True, className="mb-0 align-middle",
                               id="departments-table"), loaded])


def _when_note():
    expression = schedule_of("refresh_aggregates")
    refresh = describe_schedule(expression) or f"on the schedule {expression} (UTC)"
    return dbc.Card(dbc.CardBody([
        html.H6("When a change shows", className="card-title"),
        html.Ul([
            html.Li(["Workload and Operations: open claims ", html.Strong("past SLA"), " use the new level at once "
                     "(Operations counts the open claims of its last refresh)."]),
            html.Li(["Dashboard: ", html.Strong("SLA breaches"), " (closed claims over their department's level, "
                     f"all history) are recounted at the next aggregates refresh, {refresh}."]),
        ], className="small mb-0 ps-3"),
    ]), className="shadow-sm mb-4", id="departments-note")


def layout(**_query):
    user = page_user(Perm.MANAGE_DEPARTMENTS, __name__)
    if user is None:
        return not_allowed()
    rows = department_rows(read_session(), user)
    listing = dbc.Card(dbc.CardBody([
        html.Div(departments_table(rows), id="departments-list"),
        html.Div(id="departments-status", className="mt-3", role="status"),
    ]), className="shadow-sm mb-4")
    return html.Div([
        page_header("Departments", "Service level per department: the days from report to closing before a claim "
                                   f"counts as an SLA breach ({MIN_SLA_DAYS}–{MAX_SLA_DAYS})."),
        _when_note(), listing,
    ])
