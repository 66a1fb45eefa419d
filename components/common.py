"""Small shared building blocks for pages."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def page_header(title: str, subtitle: str | None = None, right=None) -> html.Div:
    return html.Div([
        html.Div([html.H2(title, className="mb-0"),
                  html.P(subtitle, className="text-muted mb-0") if subtitle else None]),
        html.Div(right) if right is not None else None,
    ], className="d-flex flex-wrap column-gap-4 row-gap-2 justify-content-between align-items-end mb-4 page-header")


def message(title: str, text: str, color: str = "warning") -> dbc.Alert:
    return dbc.Alert([html.H5(title, className="alert-heading"), html.P(text, className="mb-0")],
                     color=color, className="mt-3")


def not_allowed(text: str = "Your role does not give access to this page.") -> dbc.Alert:
    return message("Not allowed", text, "danger")


def dept_badge(name: str, color: str) -> html.Span:
    return html.Span(name, className="dept-badge", style={"backgroundColor": color})


def fact_text(value) -> str:
    """A stored fact as people read it: yes/no, grouped digits, words for codes."""
    if value is None or value == "":
        return "not given"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


def stat(label: str, value, hint: str | None = None) -> html.Div:
    return html.Div([html.Div(label, className="stat-label"), html.Div(value, className="stat-value"),
                     html.Div(hint, className="stat-hint") if hint else None], className="stat")


def stale_notice(text: str | None):
    """The rollup pages' warning that their figures are older than the schedule allows."""
    return dbc.Alert(text, color="warning", className="small py-2", id="rollup-stale") if text else None
