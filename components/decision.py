"""The stored routing decision rendered for people: words first, then charts."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.charts import floor_pct, probability_bars, shap_waterfall
from components.common import dept_badge
from ml.explain import describe
from services.currency import money

MAX_STEPS = 8


def humanise(feature: str) -> str:
    return feature.replace("_", " ").strip().capitalize()


def _short_value(value, name: str = "", currency: str | None = None) -> str:
    if value is None or value == "":
        return "not given"  # as the reasons in words and the claim facts say it
    if isinstance(value, bool) or str(value).lower() in ("true", "false"):
        return "yes" if str(value).lower() == "true" else "no"
    if isinstance(value, (int, float)) and "amount" in name:
        # Money as the claim facts show it: $5,868.60, not 5,868.6.
        return money(value, currency) if currency else f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    text = str(value)
    return text if len(text) <= 28 else text[:27] + "…"


def reason_text(driver: dict, features: dict, department: str, currency: str | None) -> str:
    """A stored reason as the page shows it: an amount is reworded in the deployment's currency
    ("claimed amount $3,348.90", as the facts and the waterfall; stored as "3,349"), from the
    value and contribution stored with the decision; every other reason is the stored text."""
    name, value, contribution = driver.get("feature"), features.get(driver.get("feature")), driver.get("contribution")
    if (currency and isinstance(name, str) and "amount" in name and isinstance(value, (int, float))
            and not isinstance(value, bool) and isinstance(contribution, (int, float))):
        return describe(name, "numeric", float(contribution), features, [], department,
                        show=lambda _name, v: money(v, currency))
    return driver.get("text", "")


def waterfall_steps(shap_values: dict, features: dict, target: str,
                    currency: str | None = None) -> tuple[float, list[tuple[str, float]]]:
    """Base value and the largest drivers toward ``target``; the rest folded into one step."""
    contributions = dict(shap_values.get(target) or {})
    base = float((shap_values.get("base") or {}).get(target, 0.0))
    ranked = sorted(contributions.items(), key=lambda kv: abs(kv[1]), reverse=True)
    steps = []
    for name, value in ranked[:MAX_STEPS]:
        shown = features.get(name)
        label = (humanise(name) if name == "description" or name not in features
                 else f"{humanise(name)} = {_short_value(shown, name, currency)}")
        steps.append((label, float(value)))
    rest = sum(float(v) for _, v in ranked[MAX_STEPS:])
    if len(ranked) > MAX_STEPS:
        steps.append((f"{len(ranked) - MAX_STEPS} other factors", rest))
    return base, steps


def decision_panel(decision, departments: dict, currency: str | None = None) -> html.Div:
    names = {code: d.name for code, d in departments.items()}
    colors = {code: d.color for code, d in departments.items()}
    routed = departments.get(decision.routed)
    predicted = departments.get(decision.predicted)
    triaged = decision.routed != decision.predicted
    headline = [
        html.Span("Routed to ", className="text-muted"),
        dept_badge(routed.name if routed else decision.routed, routed.color if routed else "#6c757d"),
        html.Span(f" with {floor_pct(decision.confidence)} confidence", className="ms-1"),
    ]
    if triaged:
        headline += [html.Div(
            f"The model's best guess was {predicted.name if predicted else decision.predicted}, below the "
            f"{decision.threshold:.0%} confidence threshold, so a person routes it from Triage.",
            className="small text-muted mt-1")]
    # Words a claims person reads; the method's technical name stays in the tooltip.
    method, technical = (("reasons worked out exactly for this claim", "exact TreeSHAP")
                         if decision.shap_method == "exact"
                         else ("reasons estimated (routed in a batch)", "approximate (Saabas) attributions"))
    meta = html.Div([
        html.Span(f"Model {decision.model_version}", className="me-3", id="decision-model-version"),
        html.Span(f"decided {decision.decided_at_text}", className="me-3"),
        html.Span(method, title=technical),
    ], className="small text-muted mt-2")
    target_name = names.get(decision.predicted, decision.predicted)
    reasons = [html.Li(reason_text(d, decision.features or {}, target_name, currency), className="mb-1")
               for d in (decision.drivers or []) if d.get("text")]
    base, steps = waterfall_steps(decision.shap_values or {}, decision.features or {}, decision.predicted, currency)
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
            dbc.Col(dbc.Card(dbc.CardBody([
                html.Div(f"What pushed it toward {target_name}", className="chart-title"),
                dcc.Graph(id="decision-waterfall", config={"displayModeBar": False},
                          figure=shap_waterfall(base, steps))]), className="shadow-sm h-100"),
                lg=7, className="mb-4"),
        ]),
    ])


def counterfactual_body(result: dict | None, decision_version: str | None = None) -> html.Div:
    if result is None:
        return html.P("No champion model is available to test alternatives.", className="text-muted mb-0")
    note = None
    if decision_version and result.get("model_version") != decision_version:
        note = html.Div(f"Computed with the current model {result['model_version']}, not the one that decided.",
                        className="small text-muted mt-1")
    return html.Div([
        html.P(result["text"], className="mb-1", id="counterfactual-text"),
        html.Div(f"{result['candidates']} small changes of this claim's own facts were scored.",
                 className="small text-muted"),
        note,
    ])


def similar_body(result: dict) -> html.Div:
    items = result.get("items") or []
    if not items:
        return html.P(result.get("note") or "No similar closed claims found.", className="text-muted mb-0")
    rows = [html.Li([
        html.Div([
            html.Div([html.A(i["claim_number"], href=f"/claims/{i['claim_number']}", className="claim-link me-2"),
                      dept_badge(i["department"] or "—", i["color"])]),
            html.Span(f"{i['similarity']:.0%} alike", className="small text-muted text-nowrap ms-2"),
        ], className="d-flex justify-content-between align-items-center"),
        html.Div(i["description"], className="small text-muted"),
    ], className="mb-2") for i in items]
    return html.Div([
        html.Ul(rows, className="list-unstyled mb-1", id="similar-claims-list"),
        html.Div("Closed claims the router treats most like this one: \u201calike\u201d is how often its "
                 "decision rules sort the two claims the same way and how close its department "
                 "probabilities for them are, half each.", className="small text-muted",
                 title="Half: the share of the first 50 boosting rounds' trees where both claims land in the "
                       "same leaf. Half: 1 minus the total variation distance of the two claims' probabilities "
                       "by department."),
    ])


def insight_cards() -> dbc.Row:
    """Filled after the page has opened, each card by its own callback (they re-score the claim)."""
    return dbc.Row([
        dbc.Col(dbc.Card(dbc.CardBody([
            html.H5("What would change the decision", className="card-title"),
            dcc.Loading(html.Div(html.Span("Working it out…", className="text-muted small"),
                                 id="claim-counterfactual"), type="dot"),
        ]), className="shadow-sm"), lg=6, className="mb-4"),
        dbc.Col(dbc.Card(dbc.CardBody([
            html.H5("Similar past claims", className="card-title"),
            dcc.Loading(html.Div(html.Span("Looking…", className="text-muted small"), id="claim-similar"),
                        type="dot"),
        ]), className="shadow-sm"), lg=6, className="mb-4"),
    ])
