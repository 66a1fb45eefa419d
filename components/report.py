"""The one-page printable dashboard report: fixed sizes so the print matches the screen.

The sheet is 990 px wide (A4 or Letter landscape minus 8 mm margins at 96 dpi);
figures get explicit widths and heights because a print does not resize plotly.
"""
from __future__ import annotations

import json

import plotly.graph_objects as go
from dash import dcc, html

from components.charts import plain_title
from components.kpis import BREAKDOWN_TITLES, CARDS, _delta, aside, breakdown_columns, fmt, thin_base

SHEET_WIDTH = 990
SHEET_PADDING = 16  # .report-sheet's left and right padding, on screen and in print (assets/20-report.css)
GAP = 6  # .report-row's gap
# What a row of figures may fill: the sheet's inner width less a margin, so no figure
# reaches the sheet's edge and none spills past the printed page.
ROW_WIDTH = SHEET_WIDTH - 2 * SHEET_PADDING - 12


def row_widths(*shares: float) -> list[int]:
    """Widths of the figures of one row, in proportion to ``shares``, that fit ROW_WIDTH with the gaps."""
    room = ROW_WIDTH - GAP * (len(shares) - 1)
    return [int(room * share / sum(shares)) for share in shares]


STATIC = {"staticPlot": True, "displayModeBar": False}


def shrink(fig: go.Figure, title: str, width: int, height: int) -> dict:
    """A figure shrunk for paper (smaller type and margins), as plain JSON so the
    page can cache it: building and validating plotly figures is most of the
    report's cost."""
    fig.update_layout(width=width, height=height, autosize=False, font_size=10,
                      title={"text": plain_title(title), "font_size": 12, "x": 0, "y": 0.97, "yanchor": "auto",
                             "pad": {"t": 0, "l": 0}},  # the screen's fitted title, one line on paper
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


# Paper has no tooltips: the labels that need their definition get it under the grid.
FOOTNOTE = ("Open backlog: claims open at the end of the period. P90: 9 in 10 claims closed in the period "
            "took at most this long. SLA breach: closed later than the department's service level (days "
            "from report to closing, set per department). Reassignment rate: claims moved by hand to "
            "another department, of the claims SCOPE routed. “vs prev.” compares with the previous "
            "period of equal length.")


def kpi_grid(current: dict, previous: dict, currency: str) -> html.Div:
    cells = [html.Div([
        html.Div(card.label, className="report-kpi-label", title=card.help),
        html.Div(fmt(current.get(card.key), card.kind, currency), className="report-kpi-value",
                 id=f"report-kpi-{card.key}"),
        thin_base(card, current, previous)
        or _delta(current.get(card.key), previous.get(card.key), card.kind, card.better, currency),
        aside(card, current, currency),
    ], className="report-kpi") for card in CARDS]
    return html.Div([html.Div(cells, className="report-kpis"), html.Div(FOOTNOTE, className="report-footnote")])


def header(title: str, filters: list[tuple[str, str]], note: str) -> html.Div:
    return html.Div([
        html.Div([html.H1(title, className="report-title"),
                  html.Div(note, className="report-note")], className="report-heading"),
        html.Dl([item for name, value in filters for item in (html.Dt(name), html.Dd(value))],
                className="report-filters"),
    ], className="report-header")


def siu_line(now: dict, before: dict, currency: str, *, department_note: bool = False) -> html.Div:
    """The dashboard's Special Investigations strip as one line of the sheet (the screen
    showed it, the paper did not)."""
    from services.currency import money_short

    share = now["confirmed_share"]
    closed = f"{now['closed']:,} closed" + (f", {share:.0%} confirmed fraud" if share is not None else "")
    return html.Div([
        html.Span("Special Investigations: ", className="fw-semibold"),
        f"{now['referred']:,} claims moved there by hand ({before['referred']:,} before) · "
        f"{now['opened']:,} cases opened ({before['opened']:,}) · {closed} · saved "
        f"{money_short(now['saved'], currency)} ({money_short(before['saved'], currency)}). Figures in brackets: "
        "the previous period.",
        # as the screen's strip says it: a case's claims sit in the SIU queue, whatever the department filter
        " All departments: the department filter does not apply to these." if department_note else "",
    ], className="report-siu", id="report-siu")


def _breakdown(title: str, rows, currency: str) -> html.Div:
    columns = breakdown_columns(currency)

    def cell(r, key, kind):
        v = getattr(r, key)
        return v if kind == "text" else fmt(v, "count" if kind == "int" else kind, currency)

    head = html.Thead(html.Tr([html.Th(label, className="text-start" if kind == "text" else None)
                               for _, label, kind in columns]))
    body = html.Tbody([html.Tr([html.Td(cell(r, k, kind), className="text-start" if kind == "text" else None)
                                for k, _, kind in columns]) for r in rows]
                      or [html.Tr(html.Td("No claims in this period.", colSpan=len(columns)))])
    return html.Div([html.H2(title, className="report-table-title"),
                     html.Table([head, body], className="report-table")], className="report-table-block")


def breakdown_sheet(breakdowns: dict, currency: str, filters_note: str) -> html.Div:
    """The dashboard's breakdown tables on a second sheet: the screen's department table,
    and by line and region (the exports had them, the paper did not). Printed from a new
    page, so the first sheet stays one page of figures."""
    return html.Div([
        html.Div([html.H1("Breakdowns", className="report-title"),
                  html.Div(filters_note, className="report-note")], className="report-heading report-header"),
        *[_breakdown(BREAKDOWN_TITLES[by], breakdowns[by], currency) for by in ("department", "line", "region")],
    ], className="report-sheet report-sheet-next", id="dashboard-report-breakdowns")
