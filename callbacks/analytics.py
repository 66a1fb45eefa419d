"""Usage analytics page: controls write the URL; the URL drives every panel."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode

import dash_bootstrap_components as dbc
from dash import Input, Output, no_update
from dash.exceptions import PreventUpdate

from auth.guard import secure_callback
from auth.permissions import Perm
from components import analytics as view
from db.flask_db import read_session
from services import analytics
from services.analytics import PeriodError, parse_period

KEYS = ("start", "end", "role")
PANELS = 8


def _period(search):
    if not isinstance(search, str) or len(search) > 2000:
        raise PeriodError("the address holds filters that are not valid")
    parsed = parse_qs(search.lstrip("?"))
    return parse_period({k: parsed[k][0] for k in KEYS if parsed.get(k)})


@secure_callback(
    Perm.VIEW_ANALYTICS,
    Output("analytics-url", "search"),
    Input("analytics-range", "start_date"), Input("analytics-range", "end_date"), Input("analytics-role", "value"),
    prevent_initial_call=True,
)
def write_url(start, end, role):
    values = {"start": start, "end": end, "role": role}
    return "?" + urlencode({k: v[:40] for k, v in values.items() if isinstance(v, str) and v})


@secure_callback(
    Perm.VIEW_ANALYTICS,
    Output("analytics-status", "children"), Output("analytics-summary", "children"),
    Output("analytics-funnel", "children"), Output("analytics-funnel-roles", "children"),
    Output("analytics-ttd", "children"), Output("analytics-journeys", "children"),
    Output("analytics-satisfaction", "children"), Output("analytics-pages", "children"),
    Output("analytics-heatmap-page", "options"), Output("analytics-heatmap-page", "value"),
    Input("analytics-url", "search"),
)
def render(search):
    try:
        p = _period(search)
    except PeriodError as exc:
        error = dbc.Alert(f"Invalid filter: {exc}.", color="danger", id="analytics-error")
        return (error,) + (no_update,) * (PANELS + 1)
    session = read_session()
    s = analytics.summary(session, p)
    status = None
    if not s["page_views"] and not s["clicks"] and not s["ratings"]:
        status = dbc.Alert(f"Nobody used SCOPE between {p.start} and {p.end}"
                           + (f" as {p.role}" if p.role else "") + ". Choose a longer period.", color="info",
                           id="analytics-empty")
    f = analytics.funnel(session, p)
    funnel = view.graph(view.funnel_figure(f), "analytics-funnel-graph") if f["total"][0] else \
        view.empty("Funnel: queue → claim → decision", "No visit in this period viewed a queue.")
    ttd = analytics.time_to_decision(session, p)
    ttd_view = view.graph(view.time_to_decision_figure(ttd)) if ttd else \
        view.empty("Time to decision per person", "Nobody opened a claim and then decided on it in this period.")
    j = analytics.journeys(session, p)
    journeys = view.journeys_panel(j, analytics.time_on_page(session, p)) if j["journeys"] else \
        view.empty("Journeys", "No page views in this period.")
    weeks = analytics.satisfaction(session, p)
    satisfaction = view.graph(view.satisfaction_figure(weeks)) if weeks else \
        view.empty("Satisfaction per week", "No feedback on routing and no ratings in this period.")
    pv = analytics.page_views(session, p)
    pages = view.graph(view.page_views_figure(pv)) if pv else \
        view.empty("Page views by page and role", "No page views in this period.")
    click_pages = analytics.click_pages(session, p)
    options = [{"label": f"{page} ({n:,} click{'' if n == 1 else 's'})", "value": page} for page, n in click_pages]
    return (status, view.summary_cards(s), funnel, view.funnel_table(f) if f["by_role"] else None, ttd_view,
            journeys, satisfaction, pages, options, click_pages[0][0] if click_pages else None)


@secure_callback(
    Perm.VIEW_ANALYTICS,
    Output("analytics-heatmap", "children"),
    Input("analytics-heatmap-page", "value"), Input("analytics-url", "search"),
)
def heatmap(page, search):
    try:
        p = _period(search)
    except PeriodError:
        raise PreventUpdate from None
    if page is None:
        return view.empty(None, "No clicks were sampled in this period.")
    if not isinstance(page, str) or len(page) > 120 or not page.isprintable():  # pages are printable paths
        return dbc.Alert("Unknown page.", color="danger")
    points = analytics.clicks(read_session(), p, page)
    if not points:
        return view.empty(None, f"No sampled clicks on {page} in this period.")
    return view.graph(view.heatmap_figure(points, page), "analytics-heatmap-graph")
