"""The claim's history as a vertical timeline. Every user-typed text is a
plain text child (Dash escapes it): notes and comments never become HTML."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

KIND_COLORS = {"intake": "#6c757d", "routed": "#0072B2", "moved": "#0072B2", "status": "#E69F00",
               "assigned": "#56B4E9", "note": "#343a40", "feedback": "#CC79A7", "now": "#adb5bd",
               "document": "#009E73", "document_removed": "#6c757d",
               "fraud_flag": "#D55E00", "fraud_dismissed": "#6c757d", "siu_case": "#E69F00",
               # an SIU case's activity (components.siu_cases)
               "siu-opened": "#0072B2", "siu-note": "#343a40", "siu-claim_added": "#56B4E9",
               "siu-claim_removed": "#6c757d", "siu-lead": "#56B4E9", "siu-closed": "#D55E00",
               "siu-reopened": "#E69F00", "siu-task_added": "#56B4E9", "siu-task_edited": "#56B4E9",
               "siu-task_done": "#009E73", "siu-task_reopened": "#E69F00",
               "siu-task_removed": "#6c757d"}

DOT = {"position": "absolute", "left": "0", "top": ".75rem", "width": ".6rem", "height": ".6rem", "borderRadius": "50%"}
# Notes keep their line breaks and are quoted, so they read as the person's words.
NOTE = {"whiteSpace": "pre-wrap", "borderLeft": "3px solid #dee2e6", "paddingLeft": ".6rem", "color": "#343a40"}


def _when(at) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at is not None else ""


def timeline_items(items: list[dict]) -> html.Ul | html.P:
    if not items:
        return html.P("Nothing has happened to this claim yet.", className="text-muted mb-0")
    out = []
    for item in items:
        color = KIND_COLORS.get(item["kind"], "#6c757d")
        out.append(html.Li([
            html.Span(className="timeline-dot", style={**DOT, "backgroundColor": color}),
            html.Div([
                html.Span(item["title"], className="fw-semibold me-2"),
                html.Span(item["detail"], className="text-muted small me-2") if item.get("detail") else None,
            ]),
            html.Div([html.Span(_when(item["at"]), className="me-2"),
                      html.Span(item["actor"]) if item.get("actor") else None], className="small text-muted"),
            html.Div(item["note"], className="timeline-note small mt-1", style=NOTE) if item.get("note") else None,
        ], className=f"timeline-item kind-{item['kind']}", style={"position": "relative", "paddingLeft": "1.3rem"}))
    return html.Ul(out, className="timeline list-unstyled mb-0", id="claim-timeline-list")


def timeline_card(rendered) -> dbc.Card:
    """``rendered``: the output of ``timeline_items`` (callbacks re-render the same slot)."""
    return dbc.Card(dbc.CardBody([html.H5("History", className="card-title"),
                                  html.Div(rendered, id="claim-timeline")]),
                    className="shadow-sm mb-4")
