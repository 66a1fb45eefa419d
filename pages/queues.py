"""A department's work queue: a server-side paged, filtered grid over any number of claims."""
from __future__ import annotations

import json

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import current_app

from auth.guard import page_user
from auth.permissions import Perm
from components.common import dept_badge, not_allowed, page_header
from components.queue_filters import filter_panel, queue_grid
from db.flask_db import read_session
from services.queues import (
    BAND_LABELS, CLAIM_STATUSES, InvalidFilter, lines_of_business, parse_filters, visible_departments,
)
from services.saved_filters import list_saved

dash.register_page(__name__, path="/queues", title="Queues · SCOPE Assistant", name="Queues")

PAGE_KEY = "queues"


def initial_filters(f, overdue=None, *, open_only: bool = False) -> dict | None:
    """The filters a queue opens with, from its address: ``f`` (the applied filters the
    page wrote there, as JSON) or Workload's ``overdue=1`` link. A tampered or stale
    value opens the queue unfiltered rather than failing."""
    if isinstance(f, str) and 0 < len(f) <= 4000:
        try:
            applied = parse_filters(json.loads(f)).to_json()
        except (ValueError, InvalidFilter):
            return None
        if open_only:  # My work lists open claims only
            applied["statuses"] = [s for s in applied["statuses"] if s != "closed"]
        return applied
    return {"overdue": True} if overdue == "1" else None


def queue_layout(*, user, page_key: str, scope: str, statuses, lines, title, subtitle, right=None, above=None,
                 with_department=False, initial: dict | None = None):
    """Header, filter panel, status line and grid; shared with "My work". ``initial``:
    panel filters already applied when the page opens."""
    initial = initial or {}
    session = read_session()
    saved = [(s.id, s.name) for s in list_saved(session, user, page_key)] if user.can(Perm.VIEW_QUEUES) else []
    currency = current_app.config["SCOPE_SETTINGS"].currency
    return html.Div([
        page_header(title, subtitle, right=right),
        above,
        dcc.Store(id="queue-department", data=scope),
        dcc.Store(id="queue-page-key", data=page_key),
        dcc.Store(id="queue-filters", data=initial),
        dcc.Store(id="queue-revision", data=0),
        dcc.Store(id="queue-url-sink"),
        filter_panel(currency=currency, statuses=list(statuses), lines=lines, bands=BAND_LABELS, saved=saved,
                     initial=initial),
        html.Div([html.Div(id="queue-status", role="status"),
                  html.Div([html.Span("Red", className="sla-overdue-key"),
                            " report date: open past its department's service level (hover it for the date)"])],
                 className="d-flex justify-content-between flex-wrap gap-2 small text-muted mb-2"),
        queue_grid(currency=currency, with_department=with_department, initial_filters=initial),
    ])


def layout(department: str | None = None, overdue: str | None = None, f: str | None = None, **_query):
    user = page_user(Perm.VIEW_QUEUES, __name__)
    if user is None:
        return not_allowed()
    depts = visible_departments(read_session(), user)
    if not depts:
        return dbc.Alert("You are not assigned to any department yet. Ask an administrator.", color="info")
    codes = {d.code: d for d in depts}
    # A repeated ?department= arrives as a list.
    current = (codes.get(department) if isinstance(department, str) else None) or depts[0]
    tabs = dbc.Nav([
        dbc.NavItem(dbc.NavLink([html.Span(className="dept-dot", style={"backgroundColor": d.color}), d.name],
                                href=f"/queues?department={d.code}", active=d.code == current.code))
        for d in depts
    ], pills=True, className="mb-3 queue-tabs flex-wrap")
    # Triage takes any line; other queues offer the lines they handle.
    line_depts = [d.id for d in depts] if current.is_triage else [current.id]
    lines = lines_of_business(read_session(), line_depts)
    return queue_layout(user=user, page_key=PAGE_KEY, scope=current.code, statuses=CLAIM_STATUSES, lines=lines,
                        title=current.name,
                        subtitle="Claims routed to this queue (open ones unless you filter by status).",
                        right=dept_badge(current.name, current.color), above=tabs,
                        initial=initial_filters(f, overdue))
