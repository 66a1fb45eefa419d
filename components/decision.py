"""The stored routing decision rendered for people: words first, then charts."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.charts import probability_bars, shap_waterfall
from components.common import dept_badge

MAX_STEPS = 8


def humanise(feature: str) -> str:
    return feature.replace("_", " ").strip().capitalize()


def _short_value(value) -> str:
    if value is None or value == "":
        return "missing"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    text = str(value)
    return text if len(text) <= 28 else text[:27] + "…"


def waterfall_steps(shap_values: dict, features: dict, target: str) -> tuple[float, list[tuple[str, float]]]:
    """Base value and the largest drivers toward ``target``; the rest folded into one step."""
    contributions = dict(shap_values.get(target) or {})
    base = float((shap_values.get("base") or {}).get(target, 0.0))
    ranked = sorted(contributions.items(), key=lambda kv: abs(kv[1]), reverse=True)
    steps = []
    for name, value in ranked[:MAX_STEPS]:
        shown = features.get(name)
        label = humanise(name) if name == "description" or shown is None else f"{humanise(name)} = {_short_value(shown)}"
        steps.append((label, float(value)))
    rest = sum(float(v) for _, v in ranked[MAX_STEPS:])
    if len(ranked) > MAX_STEPS:
        steps.append((f"{len(ranked) - MAX_STEPS} other factors", rest))
    return base, steps


def decision_panel(decision, departments: dict) -> html.Div:
    names = {code: d.name for code, d in departments.items()}
    colors = {code: d.color for code, d in departments.items()}
    routed = departments.get(decision.routed)
    predicted = departments.get(decision.predicted)
    triaged = decision.routed != decision.predicted
    headline = [
        html.Span("Routed to ", className="text-muted"),
        dept_badge(routed.name if routed else decision.routed, routed.color if routed else "#6c757d"),
        html.Span(f" with {decision.confidence:.0%} confidence", className="ms-1"),
    ]
    if triaged:
        headline += [html.Div(
            f"The model's best guess was {predicted.name if predicted else decision.predicted}, below the "
            f"{decision.threshold:.0%} confidence threshold, so a person routes it from Triage.",
            className="small text-muted mt-1")]
    method = "exact TreeSHAP" if decision.shap_method == "exact" else "approximate (Saabas) attributions, computed in bulk"
    meta = html.Div([
        html.Span(f"Model {decision.model_version}", className="me-3", id="decision-model-version"),
        html.Span(f"decided {decision.decided_at}", className="me-3"),
        html.Span(method),
    ], className="small text-muted mt-2")
    reasons = [html.Li(d.get("text", ""), className="mb-1") for d in (decision.drivers or []) if d.get("text")]
    base, steps = waterfall_steps(decision.shap_values or {}, decision.features or {}, decision.predicted)
    target_name = names.get(decision.predicted, decision.predicted)
    return html.Div([
        dbc.Card(dbc.CardBody([
            html.H5("Routing decision", className="card-title"),
            html.Div(headline, className="fs-5"),
            meta,
            html.H6("Why, in words", className="mt-4"),
            html.Ul(reasons, className="reasons mb-0", id="decision-reasons") if reasons
            else html.P("No explanation was stored with this decision.", className="text-muted"),
        ]), className="shadow-sm mb-4"),
        dbc.Row([
            dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(
                id="decision-probabilities", config={"displayModeBar": False},
                figure=probability_bars(decision.probabilities, names, colors, decision.threshold))),
                className="shadow-sm h-100"), lg=5, className="mb-4"),
            dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(
                id="decision-waterfall", config={"displayModeBar": False},
                figure=shap_waterfall(base, steps, target_name))), className="shadow-sm h-100"), lg=7, className="mb-4"),
        ]),
    ])
