"""Router model versions with their holdout metrics; the champions in detail."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.guard import page_user
from auth.permissions import Perm
from components.charts import confusion_heatmap, per_class_recall
from components.common import not_allowed, page_header
from db.flask_db import read_session
from services.models import department_styles, list_model_versions

dash.register_page(__name__, path="/models", title="Models · SCOPE Assistant", name="Models")

STATUS_COLORS = {"champion": "success", "candidate": "secondary", "retired": "light"}


def _pct(v) -> str:
    return "—" if v is None else f"{v:.1%}"


# What each metric means, for a claims manager choosing whether to trust a version (the
# headers alone were data-science shorthand: Macro-F1, ECE, majority-class accuracy).
COLUMN_HELP = {
    "Accuracy": "Share of the held-out claims (the most recent ones, not used for training) sent to the "
                "department they finally closed in.",
    "Macro-F1": "Accuracy that weighs every department the same, so a small department the model gets wrong "
                "(e.g. Special Investigations) pulls it down even when the big ones are right. 100% is perfect.",
    "Majority-class acc.": "What sending every claim to the busiest department would score: the model should "
                           "beat it by a wide margin.",
    "ECE": "Calibration error: how far the model's stated confidence is from how often it is right "
           "(0 = a 90% confident routing is right 9 times in 10). Lower is better.",
    "Train / holdout": "Closed claims learnt from / recent closed claims kept aside to measure it.",
}


def _th(label: str) -> html.Th:
    help_text = COLUMN_HELP.get(label)
    if help_text is None:
        return html.Th(label)
    return html.Th(html.Span(label, title=help_text, tabIndex=0, className="kpi-label",
                             **{"aria-label": f"{label}: {help_text}"}))


def _table(models: list[dict]) -> dbc.Card:
    head = html.Thead(html.Tr([_th(h) for h in ("Version", "Dataset", "Status", "Accuracy", "Macro-F1",
                                                 "Majority-class acc.", "ECE", "Train / holdout", "Trained (UTC)")]))
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
    return dbc.Card(dbc.CardBody(dbc.Table([head, body], hover=True, responsive=True, className="mb-0 align-middle")),
                    className="shadow-sm mb-4")


def _champion(m: dict, styles: dict) -> html.Div:
    names = {c: n for c, (n, _) in styles.items()}
    colors = {c: col for c, (_, col) in styles.items()}
    return html.Div([
        html.H4([f"Champion for {m['dataset']} ", html.Small(m["version"], className="text-muted font-monospace fs-6")],
                className="mt-2"),
        html.P(m["split_note"] or "", className="text-muted small"),
        dbc.Row([
            dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(figure=per_class_recall(m["per_class"], names, colors),
                                                    config={"displayModeBar": False})), className="shadow-sm h-100"),
                    lg=6, className="mb-4"),
            dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(figure=confusion_heatmap(m["confusion"], names),
                                                    config={"displayModeBar": False})), className="shadow-sm h-100"),
                    lg=6, className="mb-4"),
        ]),
    ])


def layout(**_query):
    user = page_user(Perm.VIEW_MODELS, __name__)
    if user is None:
        return not_allowed()
    session = read_session()
    models = list_model_versions(session)
    header = page_header("Router models", "Every trained version, its time-ordered holdout metrics and status.")
    if not models:
        return html.Div([header, dbc.Alert("No model has been trained yet: run `scope train --dataset NAME`.",
                                           color="info")])
    styles = department_styles(session)
    champions = [m for m in models if m["status"] == "champion" and m["per_class"]]
    return html.Div([header, _table(models)] + [_champion(m, styles) for m in champions])
