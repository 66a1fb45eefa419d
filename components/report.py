"""The one-page printable dashboard report: fixed sizes so the print matches the screen.

The sheet is 990 px wide (A4 or Letter landscape minus 8 mm margins at 96 dpi);
figures get explicit widths and heights because a print does not resize plotly.
"""
from __future__ import annotations

import json

import plotly.graph_objects as go
from dash import dcc, html

from components.kpis import CARDS, _delta, fmt

SHEET_WIDTH = 990
STATIC = {"staticPlot": True, "displayModeBar": False}


def shrink(fig: go.Figure, title: str, width: int, height: int) -> dict:
    """A figure shrunk for paper (smaller type and margins), as plain JSON so the
    page can cache it: building and validating plotly figures is most of the
    report's cost."""
    fig.update_layout(width=width, height=height, autosize=False, font_size=10,
                      title={"text": title, "font_size": 12, "x": 0, "y": 0.97},
                      margin={"l": 8, "r": 30, "t": 30, "b": 30},
                      legend={"orientation": "h", "y": 1.0, "x": 1, "xanchor": "right", "yanchor": "bottom",
                              "font_size": 10})
    fig.update_xaxes(title_font_size=10, tickfont_size=9)
    fig.update_yaxes(title_font_size=10, tickfont_size=9)
    fig.update_traces(selector={"type": "bar"}, textfont_size=9)
    bars = max((len(t.y or ()) for t in fig.data if t.type == "bar"), default=0)
    if bars:  # one or two fat bars read as a block of colour; keep them slim
        fig.update_layout(bargap=0.25 if bars >= 4 else 0.6)
    return json.loads(fig.to_json())


def static_graph(figure: dict) -> dcc.Graph:
    """A shrunk figure on the sheet: no hover, no clicks, the size it was drawn for."""
    layout = figure.get("layout", {})
    return dcc.Graph(figure=figure, config=STATIC,
                     style={"width": f"{layout.get('width')}px", "height": f"{layout.get('height')}px"},
                     className="report-figure")


def kpi_grid(current: dict, previous: dict) -> html.Div:
    cells = [html.Div([
        html.Div(label, className="report-kpi-label"),
        html.Div(fmt(current.get(key), kind), className="report-kpi-value", id=f"report-kpi-{key}"),
        _delta(current.get(key), previous.get(key), kind, better),
    ], className="report-kpi") for key, label, kind, better in CARDS]
    return html.Div(cells, className="report-kpis")


def header(title: str, filters: list[tuple[str, str]], note: str) -> html.Div:
    return html.Div([
        html.Div([html.H1(title, className="report-title"),
                  html.Div(note, className="report-note")], className="report-heading"),
        html.Dl([item for name, value in filters for item in (html.Dt(name), html.Dd(value))],
                className="report-filters"),
    ], className="report-header")
