"""Printable executive report: the dashboard's filters, KPI cards with their change,
the trend and the breakdown charts on one A4 or Letter page (landscape), the
breakdown tables on the next. Same URL filters as /dashboard, same cached rollup reads."""
from __future__ import annotations

import datetime as dt

import dash
from dash import html
from flask import current_app

from auth.guard import page_user
from auth.permissions import Perm
from components.common import message, not_allowed
from components.kpis import category_figure, department_figure, received_closed_figure
from components.report import breakdown_sheet, header, kpi_grid, row_widths, shrink, siu_line, static_graph
from db.flask_db import read_session
from services import dashboard as dash_service
from services.aggregates import FilterError
from services.siu_case_views import period_results

dash.register_page(__name__, path="/dashboard/report", title="Executive report · SCOPE Assistant",
                   name="Executive report")


def _departments(v: dict, width: int) -> dict:
    fig = department_figure(v["department_chart"], selected=v["selected_department"])
    return shrink(fig, fig.layout.title.text, width, 230)


def _lines(v: dict, width: int) -> dict:
    fig = category_figure(v["line_chart"], "Claims received by line of business", "Claims received",
                          selected=v["selected_line"])
    return shrink(fig, fig.layout.title.text, width, 190)


def layout(**query):
    user = page_user(Perm.VIEW_DASHBOARDS, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    try:
        f, opts = dash_service.parse(session, {k: query.get(k) for k in ("start", "end", "department", "line")})
    except FilterError as exc:
        return message("Invalid filter", f"{exc} Open the dashboard and choose the filters again.", "danger")
    v = dash_service.view(session, f)
    filters = dash_service.describe_filters(f, opts)
    k, b = v["kpis"], v["breakdowns"]
    previous = f.previous()
    currency = current_app.config["SCOPE_SETTINGS"].currency
    note = (f"Claims figures from the KPI rollup; changes compare with {previous.start} – {previous.end}. "
            f"Printed {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by {user.name}.")
    trend_w, dept_w = row_widths(3, 2)
    line_w, region_w = row_widths(1, 1)
    figures = dash_service.rendered(session, f, "report", lambda: {
        "trend": shrink(received_closed_figure(v["series"]),
                        f"Claims received vs closed per {v['series']['grain']}", trend_w, 230),
        "departments": _departments(v, dept_w),
        "lines": _lines(v, line_w),
        "regions": shrink(category_figure(b["region"], "", "Claims received"), "Claims received by region",
                          region_w, 190),
    })
    return html.Div([
        html.Div("Use your browser's Print (Ctrl+P) for paper or PDF, in landscape: the figures fill the first "
                 "A4 or Letter page, the breakdown tables the next.", className="report-hint d-print-none"),
        html.Div([
            header("SCOPE executive report", filters, note),
            kpi_grid(k["current"], k["previous"], currency),
            siu_line(period_results(session, f.start, f.end, line=f.line_of_business),
                     period_results(session, previous.start, previous.end, line=f.line_of_business), currency,
                     department_note=f.department_id is not None),
            html.Div([static_graph(figures["trend"]), static_graph(figures["departments"])],
                     className="report-row"),
            html.Div([static_graph(figures["lines"]), static_graph(figures["regions"])], className="report-row"),
        ], className="report-sheet", id="dashboard-report"),
        breakdown_sheet(b, currency, "; ".join(f"{name}: {value}" for name, value in filters) + "."),
    ])
