"""Threshold alerts: open alerts, the rules (managers edit them) and the history."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.alerts import ACK_ASK, DELETE_ASK, EDIT_ASK, PERIOD_WORDS, TOGGLE_ASK
from components.common import not_allowed, page_header
from db.flask_db import read_session
from services.alerts import METRICS, department_options

dash.register_page(__name__, path="/alerts", title="Alerts · SCOPE Assistant", name="Alerts")

SEVERITIES = (("info", "Info"), ("warning", "Warning"), ("critical", "Critical"))


def _field(label: str, control, field_id: str, width=6, hint=None):
    return dbc.Col([dbc.Label(label, html_for=field_id, className="small text-muted mb-1"), control,
                    html.Div(hint, className="form-text") if hint else None], md=width, className="mb-3")


def editor(departments: list[dict]) -> dbc.Modal:
    metric_options = [{"label": m.label, "value": m.key} for m in METRICS.values()]
    body = dbc.Row([
        _field("Metric", dcc.Dropdown(id="alert-form-metric", options=metric_options, clearable=False,
                                      value="reassignment_rate"), "alert-form-metric", 12),
        _field("Comparison", dbc.RadioItems(id="alert-form-comparison", inline=True, value="above",
                                            options=[{"label": "above", "value": "above"},
                                                     {"label": "below", "value": "below"}]),
               "alert-form-comparison", 5),
        _field("Threshold", dbc.InputGroup([
            # No min: the browser turns a value under it into "no value" ("Enter a threshold." for -5);
            # the server says what is wrong (services.alerts._number).
            dbc.Input(id="alert-form-threshold", type="number", step="any", value=5),
            dbc.InputGroupText("%", id="alert-form-unit"),
        ]), "alert-form-threshold", 7),
        _field("Period", dcc.Dropdown(id="alert-form-period", clearable=False, value="this_week",
                                      options=[{"label": v.capitalize(), "value": k}
                                               for k, v in PERIOD_WORDS.items()]), "alert-form-period", 6),
        _field("Department", dcc.Dropdown(id="alert-form-department", placeholder="All departments",
                                          options=[{"label": d["name"], "value": d["code"]} for d in departments]),
               "alert-form-department", 6),
        _field("Severity", dbc.RadioItems(id="alert-form-severity", inline=True, value="warning",
                                          options=[{"label": label, "value": v} for v, label in SEVERITIES]),
               "alert-form-severity", 7),
        _field("Enabled", dbc.Switch(id="alert-form-enabled", value=True, label="checked every 5 minutes"),
               "alert-form-enabled", 5),
        _field("Name (optional)", dbc.Input(id="alert-form-name", maxLength=120,
                                            placeholder="Written from the condition when empty"),
               "alert-form-name", 12),
    ])
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle("New rule", id="alert-form-title")),
        dbc.ModalBody([body, html.Div(id="alert-form-error")]),
        dbc.ModalFooter([dbc.Button("Cancel", id="alert-form-cancel", color="secondary", outline=True, n_clicks=0),
                         dbc.Button("Save rule", id="alert-form-save", color="primary", n_clicks=0)]),
    ], id="alert-form", is_open=False, size="lg")


def _delete_confirm() -> dbc.Modal:
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle("Delete this rule?")),
        dbc.ModalBody(html.Div(id="alert-delete-text")),
        dbc.ModalFooter([dbc.Button("Keep it", id="alert-delete-cancel", color="secondary", outline=True, n_clicks=0),
                         dbc.Button("Delete rule", id="alert-delete-confirm", color="danger", n_clicks=0)]),
    ], id="alert-delete", is_open=False)


def _filters() -> dbc.Row:
    return dbc.Row([
        dbc.Col(dcc.Dropdown(id="alerts-filter-status", value="all", clearable=False,
                             options=[{"label": "Open and resolved", "value": "all"},
                                      {"label": "Open only", "value": "open"},
                                      {"label": "Resolved only", "value": "resolved"}]), md=3),
        dbc.Col(dcc.Dropdown(id="alerts-filter-severity", placeholder="Any severity",
                             options=[{"label": label, "value": v} for v, label in SEVERITIES]), md=3),
        dbc.Col(dcc.Dropdown(id="alerts-filter-metric", placeholder="Any metric",
                             options=[{"label": m.label, "value": m.key} for m in METRICS.values()]), md=4),
    ], className="g-2 mb-3")


def layout(**_query):
    user = page_user(Perm.VIEW_ALERTS, __name__)
    if user is None:
        return not_allowed()
    can_edit = user.can(Perm.MANAGE_ALERTS)
    actions = html.Div([
        dbc.Button("Check now", id="alerts-check", color="secondary", outline=True, size="sm", n_clicks=0,
                   className="me-2"),
        dbc.Button("New rule", id="alerts-new", color="primary", size="sm", n_clicks=0),
    ]) if can_edit else None
    manager_only = [editor(department_options(read_session())), _delete_confirm()] if can_edit else []
    return html.Div([
        dcc.Store(id="alerts-version", data=0),
        *[dcc.Store(id=i) for i in (EDIT_ASK, TOGGLE_ASK, DELETE_ASK, ACK_ASK)],
        dcc.Store(id="alert-form-rule", data=None),
        dcc.Store(id="alert-delete-rule", data=None),
        page_header("Threshold alerts",
                    "Rules on the dashboard KPIs, checked a minute after each rollup refresh (every 5 minutes).",
                    right=actions),
        html.Div(id="alerts-status"),
        dbc.Card([dbc.CardHeader("Open alerts"), dbc.CardBody(html.Div(id="alerts-open"))],
                 className="shadow-sm mb-4"),
        dbc.Card([dbc.CardHeader("Rules"), dbc.CardBody(html.Div(id="alerts-rules"))], className="shadow-sm mb-4"),
        dbc.Card([dbc.CardHeader("History"), dbc.CardBody([_filters(), html.Div(id="alerts-history")])],
                 className="shadow-sm mb-4"),
        *manager_only,
    ])
