"""Router model versions with their holdout metrics."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from auth.current import user_or_none
from auth.permissions import Perm
from components.common import not_allowed, page_header
from db.flask_db import read_session
from services.models import list_model_versions

dash.register_page(__name__, path="/models", title="Models · SCOPE Assistant", name="Models")

STATUS_COLORS = {"champion": "success", "candidate": "secondary", "retired": "light"}


def _pct(v) -> str:
    return "—" if v is None else f"{v:.1%}"


def layout(**_query):
    user = user_or_none()
    if user is None or not user.can(Perm.VIEW_MODELS):
        return not_allowed()
    models = list_model_versions(read_session())
    if not models:
        return html.Div([page_header("Router models"), dbc.Alert("No model has been trained yet: run `scope train --dataset NAME`.", color="info")])
    head = html.Thead(html.Tr([html.Th(h) for h in ("Version", "Dataset", "Status", "Accuracy", "Macro-F1",
                                                      "Baseline acc.", "ECE", "Train / holdout", "Trained")]))
    body = html.Tbody([
        html.Tr([
            html.Td(m["version"], className="font-monospace small"), html.Td(m["dataset"]),
            html.Td(dbc.Badge(m["status"], color=STATUS_COLORS.get(m["status"], "secondary"),
                              text_color="dark" if m["status"] == "retired" else None)),
            html.Td(_pct(m["accuracy"])), html.Td(_pct(m["macro_f1"])), html.Td(_pct(m["baseline_accuracy"])),
            html.Td("—" if m["ece"] is None else f"{m['ece']:.3f}"),
            html.Td(f"{m['n_train']:,} / {m['n_holdout']:,}"), html.Td(m["created_at"], className="small"),
        ]) for m in models
    ])
    return html.Div([
        page_header("Router models", "Every trained version, its time-ordered holdout metrics and status."),
        dbc.Card(dbc.CardBody(dbc.Table([head, body], hover=True, responsive=True, className="mb-0 align-middle")),
                 className="shadow-sm"),
    ])
