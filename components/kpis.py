"""Executive dashboard pieces: KPI cards and figures from plain data."""
from __future__ import annotations

import datetime as dt

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import html

from components.charts import FONT, fitted_title
from services import currency as money
from services.kpi_cards import (  # noqa: F401  (CARDS, Card, fmt, change_words...: imported from here too)
    CARDS, COMPARABLE_SHARE, NO_COMPARISON, Card, arrow, aside_text, change_text, change_words, fmt, instead_of_change,
    thin_now,
)

RECEIVED = "#0072B2"
CLOSED = "#009E73"


def _delta(current, previous, kind: str, better: bool | None, currency: str | None = None) -> html.Span:
    """The change against the previous period, on one short line; the previous
    value itself is in the tooltip. None on either side (no data then, or a rate
    without a denominator) is no comparison, never a change against 0."""
    if current is None or previous is None:
        return html.Span(NO_COMPARISON, className="text-muted small kpi-delta",
                         title="The previous period has no figure to compare with.")
    diff, text = change_text(current, previous, kind)
    color = "text-muted"
    if better is not None and diff:
        color = "text-success" if (diff > 0) == better else "text-danger"
    return html.Span([f"{arrow(diff)} {text} ", html.Span("vs prev.", className="text-muted")],
                     className=f"small {color} kpi-delta", title=f"Previous period: {fmt(previous, kind, currency)}")


def thin_base(card: Card, current: dict, previous: dict | None = None) -> html.Span | None:
    """In place of the change: for a rate with fewer than MIN_RATE_SAMPLE claims behind it,
    "only 6 routed claims" (6 moves of 1 claim routed on a Monday read as 600%); when only
    the previous period's rate is that thin (before go-live), no comparison; for a figure
    whose periods are not alike (money still being paid), why there is none."""
    instead = instead_of_change(card, current, previous)
    if instead is None:
        return None
    words, title, classes = instead
    return html.Span(words, className=classes, title=title)


def aside(card: Card, current: dict, currency: str) -> html.Div | None:
    """The card's second figure (services.kpi_cards.aside_text), under its change."""
    text = aside_text(card, current, currency)
    if text is None:
        return None
    return html.Div(text[0], id=f"kpi-aside-{card.key}", className="small text-muted lh-sm mt-1", title=text[1])


def kpi_cards(current: dict, previous: dict, currency: str) -> dbc.Row:
    cols = []
    for card in CARDS:
        label_id = f"kpi-label-{card.key}"
        cols.append(dbc.Col(dbc.Card(dbc.CardBody([
            html.Div(card.label, id=label_id, tabIndex=0, className="kpi-label text-muted small text-truncate",
                     **{"aria-label": f"{card.label}: {card.help}"}),
            dbc.Tooltip(card.help, target=label_id, placement="top"),
            html.Div(fmt(current.get(card.key), card.kind, currency),
                     className="fs-4 fw-semibold" + (" text-muted" if thin_now(card, current) else ""),
                     id=f"kpi-{card.key}"),
            thin_base(card, current, previous)
            or _delta(current.get(card.key), previous.get(card.key), card.kind, card.better, currency),
            aside(card, current, currency),
        ], className="py-2"), className="shadow-sm h-100"), xs=6, md=4, xl=2, className="mb-3"))
    return dbc.Row(cols, id="dashboard-kpis")


def _style(fig: go.Figure, title: str, height: int = 360, *, legend: int = 0) -> go.Figure:
    fitted, top = fitted_title(title, legend=legend)
    fig.update_layout(title=fitted, height=height + top - 50, font=FONT,
                      margin=dict(l=10, r=20, t=top, b=40), plot_bgcolor="white", paper_bgcolor="white",
                      legend=dict(orientation="h", y=1.02, x=0, xanchor="left", yanchor="bottom"))
    fig.update_xaxes(gridcolor="#eee")
    fig.update_yaxes(gridcolor="#eee", rangemode="tozero")
    return fig


NO_CLAIMS = "No claims for these filters"


def _no_claims(fig: go.Figure) -> go.Figure:
    """A figure with nothing to plot says so in its middle, without axes (bare axes from
    0 to 1.2, or a flat line at zero, looked like data)."""
    fig.add_annotation(text=NO_CLAIMS, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font=dict(color="#6c757d", size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_traces(visible=False)  # a line of zeros would still be drawn
    fig.update_layout(showlegend=False)
    return fig


def partial_weeks(series: dict) -> tuple[list[str], list[int], list[str]]:
    """Marker symbols, sizes and hover notes that set apart the weeks the period cuts
    (its first and last week usually hold fewer than 7 of their days)."""
    days = series.get("days") or [7 if series["grain"] == "week" else 1] * len(series["periods"])
    cut = [series["grain"] == "week" and d < 7 for d in days]
    return (["circle-open" if c else "circle" for c in cut], [8 if c else 4 for c in cut],
            [f"<br>only {d} of its 7 days are in the period" if c else "" for c, d in zip(cut, days)])


def partial_legend() -> go.Scatter:
    """A legend entry (no data, nothing to click) explaining the open markers."""
    return go.Scatter(x=[None], y=[None], mode="markers", name="Partial week",
                      marker=dict(symbol="circle-open", size=8, color="#6c757d"), hoverinfo="skip")


def date_ticks(fig: go.Figure, periods: list, unit: str) -> None:
    """Whole days (or weeks) on a short period's axis. Left alone, Plotly spreads one
    day over milliseconds ('23:59:59.9995') and a few days over hours."""
    if not periods or len(periods) > 14:
        return
    # Operations' cached data carries the periods as ISO strings, the dashboard's as dates.
    periods = [dt.date.fromisoformat(p[:10]) if isinstance(p, str) else p for p in periods]
    step = dt.timedelta(days=7 if unit == "week" else 1)
    fig.update_xaxes(type="date", tickformat="%b %d<br>%Y", tick0=periods[0], dtick=step.days * 86_400_000)
    if len(periods) == 1:
        fig.update_xaxes(range=[periods[0] - step, periods[0] + step])


def received_closed_figure(series: dict, height: int = 360) -> go.Figure:
    unit = "week" if series["grain"] == "week" else "day"
    keys = [p.isoformat() for p in series["periods"]]
    when = "week of %{x|%Y-%m-%d}" if unit == "week" else "%{x|%a %Y-%m-%d}"
    symbols, sizes, notes = partial_weeks(series)
    if len(series["periods"]) == 1:  # a lone point has no line to show it: a marker that can be seen
        sizes = [max(s, 9) for s in sizes]
    fig = go.Figure([
        go.Scatter(x=series["periods"], y=series["received"], name="Received", mode="lines+markers",
                   line=dict(color=RECEIVED, width=2), marker=dict(size=sizes, symbol=symbols), customdata=keys,
                   text=notes,
                   hovertemplate=f"{when}: %{{y:,}} received%{{text}}<br>Click for the claims<extra></extra>"),
        go.Scatter(x=series["periods"], y=series["closed"], name="Closed", mode="lines+markers",
                   line=dict(color=CLOSED, width=2), marker=dict(size=sizes, symbol=symbols), customdata=keys,
                   text=notes,
                   hovertemplate=f"{when}: %{{y:,}} closed%{{text}}<br>Click for the claims<extra></extra>"),
    ])
    if any(notes):
        fig.add_trace(partial_legend())
    fig.update_xaxes(title_text="Report / closing date")
    date_ticks(fig, series["periods"], unit)
    fig.update_yaxes(title_text=f"Claims per {unit}")
    _style(fig, f"Claims received vs closed per {unit} (click a point for its claims)", height, legend=len(fig.data))
    if not any(series["received"]) and not any(series["closed"]):
        return _no_claims(fig)
    return fig


MUTED = "#ced4da"


def department_figure(rows, height: int | None = None, selected: str | None = None) -> go.Figure:
    """Claims received per department. ``selected`` (a department filter's code) keeps
    every department on the chart and highlights that one, the others greyed: one bar
    alone would say nothing, its share of the whole says how much of the work it has."""
    rows = [r for r in rows if r.key and r.received][::-1]
    total = sum(r.received for r in rows)
    chosen = next((r for r in rows if r.key == selected), None) if selected else None

    def color(r):
        return (r.color or "#6c757d") if chosen is None or r is chosen else MUTED

    def label(r):
        return f"{r.received:,} ({r.received / total:.0%})" if r is chosen and total else f"{r.received:,}"

    fig = go.Figure(go.Bar(
        y=[r.label for r in rows], x=[r.received for r in rows], orientation="h",
        marker_color=[color(r) for r in rows], customdata=[r.key for r in rows],
        text=[label(r) for r in rows], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:,} claims received<br>Click for the claims<extra></extra>",
    ))
    fig.update_xaxes(title_text="Claims received", range=[0, max((r.received for r in rows), default=1) * 1.2])
    if selected is None:
        title = "Claims received by department (click a bar for its claims)"
    elif chosen is not None:
        title = f"{chosen.label}: {chosen.received / total:.0%} of all claims received (click a bar for its claims)"
    else:
        title = "Claims received by department: none for the chosen department"
    fig = _style(fig, title, height or max(300, 90 + 36 * len(rows)))
    if chosen is not None:  # the chosen department's name stands out among the greyed ones
        fig.update_yaxes(ticktext=[f"<b>{r.label}</b>" if r is chosen else r.label for r in rows],
                         tickvals=[r.label for r in rows])
    return fig if rows else _no_claims(fig)


def category_figure(rows, title: str, axis: str, top: int = 12, height: int | None = None,
                    selected: str | None = None) -> go.Figure:
    """Bars per line of business or region; customdata holds the key a click drills into.
    ``selected`` (a line filter's key) highlights that bar among the others, greyed, and
    the title gives its share, as department_figure does for a department filter."""
    rows = [r for r in rows if r.received][:top][::-1]
    total = sum(r.received for r in rows)
    chosen = next((r for r in rows if r.key == selected), None) if selected is not None else None
    fig = go.Figure(go.Bar(
        y=[r.label for r in rows], x=[r.received for r in rows], orientation="h",
        marker_color=[RECEIVED if chosen is None or r is chosen else MUTED for r in rows],
        customdata=[r.key for r in rows],
        text=[f"{r.received:,} ({r.received / total:.0%})" if r is chosen else f"{r.received:,}" for r in rows],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:,} claims<br>Click for the claims<extra></extra>",
    ))
    # room right of the longest bar for its outside label ("420 (54%)" was cut off)
    fig.update_xaxes(title_text=axis, range=[0, max((r.received for r in rows), default=1) * 1.2])
    if chosen is not None and title:
        title = f"{chosen.label}: {chosen.received / total:.0%} of {title[0].lower()}{title[1:]}"
    fig = _style(fig, title, height or max(300, 90 + 30 * len(rows)))
    if chosen is not None:
        fig.update_yaxes(ticktext=[f"<b>{r.label}</b>" if r is chosen else r.label for r in rows],
                         tickvals=[r.label for r in rows])
    return fig if rows else _no_claims(fig)


# (key, header, kind) for the table on the page and the exports (services.exports kinds);
# a money header names the currency: "Reserve (€)".
_BREAKDOWN = (("label", "Group", "text"), ("received", "Received", "int"), ("closed", "Closed", "int"),
              ("reserve", "Reserve", "money"), ("paid", "Paid", "money"),
              ("routing_accuracy", "Routing accuracy", "pct"),
              ("auto_routed_share", "Routed automatically", "pct"), ("sla_breaches", "SLA breaches", "int"))
_DRILL = (("claim_number", "Claim", "text"), ("report_date", "Reported", "date"),
          ("loss_date", "Loss date", "date"), ("closed_date", "Closed", "date"),
          ("line_of_business", "Line of business", "text"),
          ("department", "Department", "text"), ("status", "Status", "text"), ("region", "Region", "text"),
          ("claimed", "Claimed", "money"), ("reserve", "Reserve", "money"), ("paid", "Paid", "money"))
BREAKDOWN_TITLES = {"department": "By department", "line": "By line of business", "region": "By region"}


def _with_currency(columns, currency: str) -> list[tuple[str, str, str]]:
    sign = money.symbol(currency)
    return [(k, f"{h} ({sign})" if kind == "money" else h, kind) for k, h, kind in columns]


def breakdown_columns(currency: str) -> list[tuple[str, str, str]]:
    return _with_currency(_BREAKDOWN, currency)


def drill_columns(currency: str) -> list[tuple[str, str, str]]:
    return _with_currency(_DRILL, currency)


def breakdown_table(rows, currency: str) -> dbc.Table:
    def cell(r, key, kind):
        v = getattr(r, key)
        return v if kind == "text" else fmt(v, "count" if kind == "int" else kind, currency)

    columns = breakdown_columns(currency)
    head = html.Thead(html.Tr([html.Th(label) for _, label, _ in columns]))
    body = html.Tbody([html.Tr([html.Td(cell(r, k, kind)) for k, _, kind in columns]) for r in rows])
    # responsive: eight columns are ~780 px wide; on a phone the table scrolls sideways inside its card.
    return dbc.Table([head, body], size="sm", hover=True, striped=True, responsive=True, className="mb-0")


def breakdown_rows(rows) -> list[dict]:
    """Breakdown rows as plain dicts for services.exports."""
    return [{k: getattr(r, k) for k, _, _ in _BREAKDOWN} for r in rows]


def drill_table(rows: list[dict], currency: str, closed: bool = False) -> html.Div:
    """The claims behind a click; ``closed`` adds the closing date (a drill on the Closed line)."""
    if not rows:
        return html.P("No claims behind this point.", className="text-muted")
    head = html.Thead(html.Tr([html.Th(h) for h in ("Claim", "Reported", *(("Closed",) if closed else ()), "Line",
                                                     "Department", "Status", "Region", "Reserve")]))
    body = html.Tbody([html.Tr([
        html.Td(html.A(r["claim_number"], href=f"/claims/{r['claim_number']}")),
        html.Td(str(r["report_date"] or "")),
        *((html.Td(str(r.get("closed_date") or "")),) if closed else ()),
        html.Td((r["line_of_business"] or "").replace("_", " ").title()), html.Td(r["department"] or "—"),
        html.Td(r["status"].replace("_", " ").capitalize()), html.Td(r["region"] or ""),
        html.Td(fmt(r["reserve"], "money", currency)),
    ]) for r in rows])
    return dbc.Table([head, body], size="sm", hover=True, className="mb-0")
