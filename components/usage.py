"""The weekly one-question rating card."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

QUESTION = "How useful was SCOPE today?"


def rating_card(rating_id: int) -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.Div([html.Span(QUESTION, className="fw-semibold me-3"),
                  dbc.RadioItems(id="usage-rating-value", inline=True, className="d-inline-block rating-scale",
                                 options=[{"label": str(i), "value": i} for i in range(1, 6)]),
                  html.Span("1 = not useful · 5 = very useful", className="small text-muted ms-2")],
                 className="d-flex flex-wrap align-items-center mb-2"),
        dbc.InputGroup([dbc.Input(id="usage-rating-comment", placeholder="Anything we should improve? (optional)",
                                  maxLength=500, size="sm"),
                        dbc.Button("Send", id="usage-rating-send", size="sm", color="primary")], size="sm"),
        html.Div(id="usage-rating-msg", className="small mt-1"),
        dcc.Store(id="usage-rating-id", data=rating_id),
    ], className="py-2"), className="shadow-sm usage-rating mt-2", id="usage-rating-card")


def thanks(text: str = "Thank you: your rating is recorded.") -> html.Span:
    return html.Span(text, className="text-success")
