"""The router models page's pieces: pure functions from model rows (services.models)
to Dash components, shared by the page and the callback that redraws it after a
change of champion."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.charts import confusion_heatmap, per_class_recall
from components.row_actions import ask_button
from services.models import REASON_MAX

AUTO_PROMOTE_ASK = "models-auto-promote-ask"

STATUS_COLORS = {"champion": "success", "candidate": "secondary", "retired": "light"}
# A change of champion reroutes every new claim of the dataset: asked first.
PROMOTE_CONFIRM = ("Make this version the champion? Every new claim of its dataset is routed by it from now on; "
                   "the current champion is retired.")


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
    "Train / holdout": "Closed claims learnt from / recent closed claims kept aside to measure it. Each version "
                       "is measured on its own holdout: compare a candidate with the champion by the "
                       "'champion then' line under its figures (both scored on the same claims).",
}


def _th(label: str) -> html.Th:
    help_text = COLUMN_HELP.get(label)
    if help_text is None:
        return html.Th(label)
    return html.Th(html.Span(label, title=help_text, tabIndex=0, className="kpi-label",
                             **{"aria-label": f"{label}: {help_text}"}))


def _versus(m: dict, key: str):
    """Under a version's own figure, the champion it was trained against on the same
    holdout: the only like-for-like comparison (each row's own figures come from its own
    holdout, later claims for a later version)."""
    other = m.get("champion_on_holdout") or {}
    if m.get("status") == "champion" or other.get(key) is None:
        return None
    return html.Div(f"champion then: {_pct(other[key])}", className="small text-muted text-nowrap models-versus",
                    title=f"{other.get('version')} scored on this version's holdout, when it was trained")


def versions_table(models: list[dict]) -> dbc.Card:
    head = html.Thead(html.Tr([_th(h) for h in ("Version", "Dataset", "Status", "Accuracy", "Macro-F1",
                                                 "Majority-class acc.", "ECE", "Train / holdout", "Trained (UTC)")]))
    body = html.Tbody([
        html.Tr([
            html.Td(m["version"], className="font-monospace small"), html.Td(m["dataset"]),
            html.Td(dbc.Badge(m["status"], color=STATUS_COLORS.get(m["status"], "secondary"),
                              text_color="dark" if m["status"] == "retired" else None)),
            html.Td([_pct(m["accuracy"]), _versus(m, "accuracy")]),
            html.Td([_pct(m["macro_f1"]), _versus(m, "macro_f1")]), html.Td(_pct(m["baseline_accuracy"])),
            html.Td("—" if m["ece"] is None else f"{m['ece']:.3f}"),
            html.Td(f"{m['n_train']:,} / {m['n_holdout']:,}"), html.Td(m["created_at"], className="small"),
        ], className="table-success" if m["status"] == "champion" else None) for m in models
    ])
    return dbc.Card(dbc.CardBody(dbc.Table([head, body], hover=True, responsive=True, className="mb-0 align-middle",
                                           id="models-table")),
                    className="shadow-sm mb-4")


def auto_promote_line(dataset: str, state: dict | None, can_manage: bool) -> html.Div | None:
    """Whether retraining may replace this champion by itself, and the switch for admins."""
    if state is None:
        return None
    on = state["auto_promote"]
    if on:
        text = ("Retraining promotes a new version by itself when it beats this one on macro-F1 "
                "on the same holdout.")
    else:
        when = f" on {state['at']:%Y-%m-%d}" if state.get("at") else ""
        text = (f"Automatic promotion is paused: {state.get('by') or 'an admin'} chose the champion by hand{when}. "
                "Retraining keeps its new versions as candidates.")
    # The champions are redrawn by "Make champion": the button asks through the page's store
    # (components.row_actions); a button with an id of its own was posted at each redraw.
    button = ask_button("Pause automatic promotion" if on else "Let retraining promote again", AUTO_PROMOTE_ASK,
                        {"dataset": dataset, "enable": not on}, color="secondary" if on else "primary", outline=on,
                        className="ms-2 text-nowrap") if can_manage else None
    return html.Div([dbc.Badge("automatic" if on else "paused", color="success" if on else "warning",
                               text_color=None if on else "dark", className="me-2"),
                     html.Span(text, className="small"), button],
                    className="d-flex flex-wrap align-items-center gap-1 mb-2", id=f"models-auto-{dataset}")


def champion_detail(m: dict, styles: dict, state: dict | None = None, can_manage: bool = False) -> html.Div:
    names = {c: n for c, (n, _) in styles.items()}
    colors = {c: col for c, (_, col) in styles.items()}
    return html.Div([
        html.H4([f"Champion for {m['dataset']} ", html.Small(m["version"], className="text-muted font-monospace fs-6")],
                className="mt-2"),
        auto_promote_line(m["dataset"], state, can_manage),
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


def _choice_label(m: dict) -> str:
    other = m.get("champion_on_holdout") or {}
    versus = (f" (champion then {_pct(other['macro_f1'])} on the same claims)"
              if other.get("macro_f1") is not None else "")
    return (f"{m['version']} · {m['dataset']} · {m['status']} · accuracy {_pct(m['accuracy'])} / "
            f"macro-F1 {_pct(m['macro_f1'])}{versus} · trained {m['created_at']}")


def expected_champions(choices: list[dict]) -> dict[str, int | None]:
    """Per offered version id, its dataset's champion as this page shows it."""
    return {str(m["id"]): m["champion_id"] for m in choices}


def change_card(choices: list[dict]) -> dbc.Card:
    """The form to make another version champion (drawn for those who may)."""
    options = choice_options(choices)
    return dbc.Card(dbc.CardBody([
        html.H5("Change the champion", className="card-title"),
        html.P("Roll back to an earlier version when a new champion misbehaves, or promote a candidate by hand. "
               "New claims are routed by the chosen version at once; decisions already made keep their model. "
               "Retraining then keeps its new versions as candidates until you let it promote again. "
               "The change and its reason go to the audit log.", className="text-muted small"),
        dbc.Row([
            dbc.Col([
                dbc.Label("Version", html_for="models-promote-version", className="small fw-semibold"),
                dcc.Dropdown(id="models-promote-version", options=options, clearable=True, searchable=True,
                             placeholder="No other version to choose" if not options else "Choose a version…",
                             disabled=not options, optionHeight=40),
            ], lg=7, className="mb-3"),
            dbc.Col([
                dbc.Label("Reason (required)", html_for="models-promote-reason", className="small fw-semibold"),
                dbc.Textarea(id="models-promote-reason", maxLength=REASON_MAX, rows=2,
                             placeholder="e.g. the new version sends glass claims to Property"),
            ], lg=5, className="mb-3"),
        ]),
        html.Div([
            dcc.ConfirmDialogProvider(
                dbc.Button("Make champion", id="models-promote-button", color="primary", size="sm",
                           disabled=not options),
                id="models-promote-confirm", message=PROMOTE_CONFIRM),
            html.Span(f"Reason: 1–{REASON_MAX} characters.", className="small text-muted"),
        ], className="d-flex align-items-center gap-3"),
        html.Div(id="models-promote-status", className="mt-3", role="status"),
    ]), className="shadow-sm mb-4", id="models-promote-card")


def versions_section(models: list[dict], choices: list[dict] | None, *, can_manage: bool) -> html.Div:
    """The versions table, and for those who may change the champion the champions this
    page shows (a promotion from a page older than a change is refused)."""
    parts = [versions_table(models)]
    if can_manage:
        parts.append(dcc.Store(id="models-expected-champions", data=expected_champions(choices or [])))
    return html.Div(parts)


def champions_section(models: list[dict], styles: dict, states: dict | None = None,
                      can_manage: bool = False) -> html.Div:
    return html.Div([champion_detail(m, styles, (states or {}).get(m["dataset"]), can_manage)
                     for m in models if m["status"] == "champion" and m["per_class"]])


def choice_options(choices: list[dict]) -> list[dict]:
    return [{"label": _choice_label(m), "value": m["id"]} for m in choices]
