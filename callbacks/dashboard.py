"""Executive dashboard: controls write the URL; the URL drives every figure, every
drill-down and every export. Click payloads and stores come from the browser, so
services.dashboard validates them again on every call."""
from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import parse_qs, urlencode

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, no_update
from dash.exceptions import PreventUpdate
from flask import current_app

from api.usage import track
from auth.current import user_or_none
from auth.guard import secure_callback
from auth.permissions import Perm
from components.dashboard_exports import drill_export_rows, headline_table
from components.siu_cases import period_strip
from components.kpis import (BREAKDOWN_TITLES, breakdown_columns, breakdown_rows, breakdown_table, category_figure,
                             department_figure, drill_columns, drill_table, kpi_cards, received_closed_figure)
from db.flask_db import WriteFailed, read_session, unit_of_work
from services import audit
from services import dashboard as dash_service
from services.aggregates import FilterError
from services.exports import Table, to_csv, to_xlsx
from services.siu_case_views import period_results

KEYS = ("start", "end", "department", "line")
CHARTS = {"dashboard-trend": "period", "dashboard-departments": "department", "dashboard-lines": "line",
          "dashboard-regions": "region"}


def raw_filters(search) -> dict:
    if not isinstance(search, str) or len(search) > 2000:
        raise FilterError("The address holds filters that are not valid.")
    parsed = parse_qs(search.lstrip("?"))
    return {k: parsed[k][0] for k in KEYS if parsed.get(k)}


def _filters(session, search):
    return dash_service.parse(session, raw_filters(search))


def _currency() -> str:
    return current_app.config["SCOPE_SETTINGS"].currency


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
    Output("dashboard-report-link", "href"),
    Input("dashboard-url", "search"),
)
def report_link(search):
    return "/dashboard/report" + (search if isinstance(search, str) and search.startswith("?") else "")


@secure_callback(
    Perm.VIEW_DASHBOARDS,
    Output("dashboard-status", "children"), Output("dashboard-cards", "children"),
    Output("dashboard-trend", "figure"), Output("dashboard-departments", "figure"),
    Output("dashboard-lines", "figure"), Output("dashboard-regions", "figure"),
    Output("dashboard-table", "children"),
    Input("dashboard-url", "search"),
)
def render(search):
    session = read_session()
    try:
        f, _ = _filters(session, search)
    except FilterError as exc:
        return (dbc.Alert(f"Invalid filter: {exc}", color="danger", id="dashboard-error"),
                no_update, no_update, no_update, no_update, no_update, no_update)
    v = dash_service.view(session, f)
    k, b = v["kpis"], v["breakdowns"]
    status = dbc.Alert(f"No claims in {f.start} – {f.end} for these filters.", color="info") \
        if not k["current"]["received"] and not k["current"]["closed"] else None
    figures = dash_service.rendered(session, f, "figures", lambda: {
        "trend": _plain(received_closed_figure(v["series"])),
        "departments": _plain(department_figure(v["department_chart"], selected=v["selected_department"])),
        "lines": _plain(category_figure(v["line_chart"], "Claims received by line of business (click a bar for its "
                                        "claims)", "Claims received", selected=v["selected_line"])),
        "regions": _plain(category_figure(b["region"], "Claims received by region (click a bar for its claims)",
                                          "Claims received")),
    })
    return (status, kpi_cards(k["current"], k["previous"], _currency()), figures["trend"], figures["departments"],
            figures["lines"], figures["regions"], breakdown_table(b["department"], _currency()))


@secure_callback(
    Perm.VIEW_DASHBOARDS,
    Output("dashboard-siu", "children"),
    Input("dashboard-url", "search"),
)
def siu(search):
    """Special Investigations' figures for the dashboard's period (and line of business)."""
    session = read_session()
    try:
        f, _ = _filters(session, search)
    except FilterError:
        return None   # the main render says what is wrong with the filters
    now = period_results(session, f.start, f.end, line=f.line_of_business)
    before_f = f.previous()
    before = period_results(session, before_f.start, before_f.end, line=f.line_of_business)
    return period_strip(now, before, _currency(), department_note=f.department_id is not None)


def _plain(fig) -> dict:
    """A figure as plain JSON types, so it can be cached and sent without plotly's validation again."""
    return json.loads(fig.to_json())


def clicked(graph_id: str, click) -> dict:
    """{"dimension", "value"} from a plotly click; the service checks the value itself."""
    try:
        point = click["points"][0]
        value = point["customdata"]
    except (TypeError, KeyError, IndexError):
        raise FilterError("The clicked point could not be read.") from None
    if not isinstance(value, str):
        raise FilterError("The clicked point could not be read.")
    spec = {"dimension": CHARTS[graph_id], "value": value[:60]}
    if graph_id == "dashboard-trend" and point.get("curveNumber") == 1:  # the Closed line
        spec["measure"] = "closed"
    return spec


def _pager_text(result: dict) -> str:
    if not result["total"]:
        return "No claims."
    first = result["page"] * dash_service.PAGE_SIZE + 1
    last = first + len(result["rows"]) - 1
    text = f"Claims {first:,}–{last:,} of {result['total']:,}, newest first · page {result['page'] + 1} of " \
           f"{result['pages']:,}"
    if result["capped"]:
        text += f" (paging stops at {dash_service.MAX_OFFSET:,}; export or narrow the filters for the rest)"
    return text


@secure_callback(
    Perm.VIEW_DASHBOARDS,
    Output("dashboard-drill", "is_open"), Output("dashboard-drill-title", "children"),
    Output("dashboard-drill-body", "children"), Output("dashboard-drill-pager", "children"),
    Output("dashboard-drill-spec", "data"), Output("dashboard-drill-page", "data"),
    Output("dashboard-drill-prev", "disabled"), Output("dashboard-drill-next", "disabled"),
    Output("dashboard-drill-export-status", "children"),
    Input("dashboard-trend", "clickData"), Input("dashboard-departments", "clickData"),
    Input("dashboard-lines", "clickData"), Input("dashboard-regions", "clickData"),
    Input("dashboard-drill-prev", "n_clicks"), Input("dashboard-drill-next", "n_clicks"),
    State("dashboard-url", "search"), State("dashboard-drill-spec", "data"), State("dashboard-drill-page", "data"),
    prevent_initial_call=True,
)
def drill(trend, departments, lines, regions, _prev, _next, search, spec, page):
    trigger = ctx.triggered_id
    session = read_session()
    try:
        if trigger in CHARTS:
            click = {"dashboard-trend": trend, "dashboard-departments": departments, "dashboard-lines": lines,
                     "dashboard-regions": regions}[trigger]
            spec, page = clicked(trigger, click), 0
        elif trigger in ("dashboard-drill-prev", "dashboard-drill-next"):
            if not isinstance(page, int) or isinstance(page, bool) or not 0 <= page <= dash_service.MAX_OFFSET:
                raise FilterError("The page number is not valid.")
            page += 1 if trigger == "dashboard-drill-next" else -1
        else:
            raise PreventUpdate
        f, opts = _filters(session, search)
        d = dash_service.parse_drill(session, f, opts, spec)
        result = dash_service.drill_page(session, d, opts, max(0, page))
    except FilterError as exc:
        return (True, "Claims", dbc.Alert(str(exc), color="danger", className="mb-0"), "", None, 0, True, True, None)
    title = f"Claims {d.measure} · {d.label}"
    if d.dimension != "period":
        title += f" · {f.start} – {f.end}"
    table = drill_table(result["rows"], _currency(), closed=d.measure == "closed")
    return (True, title, table, _pager_text(result), d.spec(),
            result["page"], result["page"] == 0, result["page"] >= result["pages"] - 1, None)


def _file_scope(f, opts) -> str:
    """The period and filters for the file name: a CSV has no sheet to name them in, and two
    exports of different periods must not look alike in a downloads folder."""
    parts = [f"{f.start:%Y%m%d}-{f.end:%Y%m%d}"]
    if f.department_id is not None:
        parts.append(next((d["code"] for d in opts.get("departments", []) if d.get("id") == f.department_id), "dept"))
    if f.line_of_business:
        parts.append(f.line_of_business)
    return re.sub(r"[^A-Za-z0-9_-]+", "_", "-".join(parts)).lower()


def _send(tables: list[Table], fmt: str, name: str, filters: list[tuple[str, str]], title: str,
          about_last: bool = False) -> dict:
    stamp = "exported-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M")
    if fmt == "xlsx":
        return dcc.send_bytes(to_xlsx(tables, filters, title, currency=_currency(), about_last=about_last),
                              f"{name}-{stamp}.xlsx")
    return dcc.send_string(to_csv(tables, currency=_currency()), f"{name}-{stamp}.csv")


@secure_callback(
    Perm.VIEW_DASHBOARDS,
    Output("dashboard-download", "data"), Output("dashboard-export-status", "children"),
    Output("dashboard-drill-export-status", "children", allow_duplicate=True),
    Input("dashboard-export-csv", "n_clicks"), Input("dashboard-export-xlsx", "n_clicks"),
    Input("dashboard-drill-csv", "n_clicks"), Input("dashboard-drill-xlsx", "n_clicks"),
    State("dashboard-url", "search"), State("dashboard-drill-spec", "data"),
    prevent_initial_call=True,
)
def export(_bc, _bx, _dc, _dx, search, spec):
    trigger = ctx.triggered_id
    if trigger not in ("dashboard-export-csv", "dashboard-export-xlsx", "dashboard-drill-csv",
                       "dashboard-drill-xlsx"):
        raise PreventUpdate
    fmt = "xlsx" if trigger.endswith("xlsx") else "csv"
    is_drill = trigger.startswith("dashboard-drill")
    user = user_or_none()

    def fail(message: str):
        alert = dbc.Alert(message, color="warning", className="mb-0 mt-2 py-2")
        return (no_update, no_update, alert) if is_drill else (no_update, alert, no_update)

    try:
        with unit_of_work() as session:
            f, opts = _filters(session, search)
            filters = dash_service.describe_filters(f, opts)
            if is_drill:
                d = dash_service.parse_drill(session, f, opts, spec)
                rows = drill_export_rows(dash_service.drill_all(session, d, opts))
                tables = [Table("Claims", drill_columns(_currency()), rows)]
                filters = dash_service.describe_filters(f, opts, d)
                # The drilled cell too: two cells of one period must not download under one name.
                cell = re.sub(r"[^A-Za-z0-9_-]+", "_", f"{d.measure}-{d.label}").strip("_").lower()[:60]
                name, title = f"scope-claims-{_file_scope(f, opts)}-{cell}", f"SCOPE claims {d.measure} · {d.label}"
            else:
                v = dash_service.view(session, f)
                before = f.previous()
                # The KPI cards first, with the period and filters: a CSV has no sheet to name them in.
                tables = [headline_table(v["kpis"]["current"], v["kpis"]["previous"], filters,
                                         f"{before.start.isoformat()} to {before.end.isoformat()} (previous period)",
                                         _currency())]
                tables += [Table(BREAKDOWN_TITLES[by], breakdown_columns(_currency()),
                                 breakdown_rows(v["breakdowns"][by])) for by in ("department", "line", "region")]
                name, title = (f"scope-breakdown-{_file_scope(f, opts)}",
                               "SCOPE executive dashboard: headline figures and breakdowns")
            audit.record(session, actor=user.email, actor_id=user.id, action="dashboard.export",
                         target_type="dashboard", target_id="drill" if is_drill else "breakdown",
                         after={"format": fmt, "rows": sum(len(t.rows) for t in tables),
                                "filters": dict(filters)})
            track(session, "export")
    except FilterError as exc:
        return fail(str(exc))
    except WriteFailed:
        return fail("The export could not be recorded; nothing was downloaded. Try again.")
    return _send(tables, fmt, name, filters, title, about_last=not is_drill), None, None
