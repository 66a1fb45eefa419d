"""Live team workload: open claims per department and adjuster, their age,
and who is over capacity. The content refreshes every 30 seconds."""
from __future__ import annotations

import dash
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.common import not_allowed, page_header

dash.register_page(__name__, path="/workload", title="Workload · SCOPE Assistant", name="Workload")

REFRESH_MS = 30_000


def layout(**_query):
    user = page_user(Perm.VIEW_WORKLOAD, __name__)
    if user is None:
        return not_allowed()
    return html.Div([
        page_header("Team workload", "Open claims per department and adjuster; refreshes every 30 seconds.",
                    right=html.Span(id="workload-updated", className="small text-muted")),
        dcc.Interval(id="workload-interval", interval=REFRESH_MS, n_intervals=0),
        dcc.Loading(html.Div(id="workload-content", className="workload-content"), type="dot",
                    delay_show=600),
    ])
