"""Executive dashboard pieces: KPI cards and figures from plain data."""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import html

from components.charts import FONT, fitted_title
from services import currency as money
from services.aggregates import CYCLE_CAP
from services.alerts import MIN_RATE_SAMPLE

RECEIVED = "#0072B2"
CLOSED = "#009E73"


class Card(NamedTuple):
    key: str
    label: str  # short: one line on a card a sixth of a 1280 px screen wide
    kind: str
    better: bool | None  # is a rise good news? None: neither
    help: str  # the definition, in the label's tooltip
    base: tuple[str, str] | None = None  # a rate's denominator: (figure key, what it counts)
    unlike: str | None = None  # why a comparison with the previous period would mislead
    aside: tuple[str, str, str] | None = None  # a second figure under the change: (figure, count, words)


CARDS = (
    Card("received", "Claims received", "count", None, "Claims reported in the period (by report date)."),
    Card("backlog", "Open backlog", "count", False,
         "Claims open at the end of the period: received by its last day and not closed by then."),
    Card("cycle_median", "Median cycle time", "days", False,
         "Half of the claims closed in the period took at most this many days from report to closing."),
    Card("cycle_p90", "P90 cycle time", "days", False,
         "90th-percentile cycle time: 9 in 10 claims closed in the period took at most this many days "
         "from report to closing."),
    Card("sla_breaches", "SLA breaches", "count", False,
         "Claims closed in the period later than their department's service level (days from report to "
         "closing; each department sets its own). Open claims already past their level are not counted here: "
         "managers see those on Workload and Operations."),
    Card("routing_accuracy", "Routing accuracy", "pct", True,
         "Closed claims whose latest routing decision named their final department, of the closed claims "
         "SCOPE routed (a claim sent to triage counts as missed). The managers' Operations page scores the first "
         "decision's predicted department instead ('Prediction accuracy'), so its figure differs.",
         ("closed_routed", "closed claims"),
         aside=("routing_accuracy_without_siu_later", "routed_siu_later", "claims later sent to SIU")),
    Card("reassignment_rate", "Reassignment rate", "pct", False,
         "Manual reassignment rate: routed claims a person moved to another department in the period "
         "(on the day of the first move), of the claims routed in the period. No figure where nothing was "
         "routed, e.g. before go-live.", ("routed", "routed claims")),
    Card("agreement_rate", "Adjuster agreement", "pct", True,
         "Adjusters' verdicts on routing decisions that agreed with the router (latest verdict per person).",
         ("feedback_total", "verdicts")),
    Card("auto_routed_share", "Auto-routed", "pct", True,
         "Routed claims sent straight to a department (confidence at or above the threshold), not to triage.",
         ("routed", "routed claims")),
    Card("fraud_flagged", "Fraud flagged", "count", None,
         "Claims received in the period suspected of fraud, whatever came of it: a fraud alert (even if "
         "dismissed later), the SIU queue or an SIU case, or found fraudulent when closed. Confirmed fraud is "
         "in the Special Investigations strip."),
    Card("reserve", "Total reserve", "money", None,
         "Reserves set on the claims received in the period, open or closed (what they were expected to cost, "
         "not what is still outstanding)."),
    Card("paid", "Total paid", "money", None,
         "Paid so far on the claims received in the period. Recent claims have had little time to be paid, "
         "so there is no comparison with the previous period.",
         unlike="Claims received earlier have had longer to be paid: a drop against the previous period "
                "would only show that this period is younger."),
)


def fmt(value, kind: str, currency: str | None = None) -> str:
    """A KPI value as a card shows it; money needs the deployment's currency code."""
    if value is None:
        return "—"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "days":
        # The histogram holds whole days up to its cap: at the cap the true figure is longer.
        return f"{value:,.0f}+ d" if value >= CYCLE_CAP else f"{value:,.0f} d"
    if kind == "money":
        if currency is None:  # fail loudly rather than show some other currency's symbol
            raise ValueError("fmt: a money value needs its currency code")
        return money.money_short(value, currency)
    return f"{value:,.0f}"


NO_COMPARISON = "no comparison"
COMPARABLE_SHARE = 0.25  # a rate's previous period needs at least this share of the current one's claims


def change_text(current: float, previous: float, kind: str) -> tuple[float, str]:
    """The change a card shows without its arrow ("+4%", "-0.8 pts", "±0%"), and the difference
    it is of (0 where the change rounds away). Both values must be there."""
    diff = current - previous
    if kind == "pct":
        if round(diff * 100, 1) == 0:
            diff = 0  # "▼ -0.0 pts" in red for a change that rounds away says more than there is
        text = f"{diff * 100:+.1f} pts" if diff else "±0.0 pts"
    elif previous:
        share = diff / abs(previous)
        # A change under half a percent printed as "-0%" (1,866 against 1,867): one decimal then.
        text = f"{share:+.0%}" if abs(share) >= 0.005 else f"{share:+.1%}" if abs(share) >= 0.0005 else "±0%"
    else:
        text = "new" if diff else "±0"
    return diff, text


def arrow(diff: float) -> str:
    return "▲" if diff > 0 else ("▼" if diff < 0 else "■")


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


def _instead(card: Card, current: dict, previous: dict | None) -> tuple[str, str, str] | None:
    """(words, tooltip, class) shown in place of the change, or None (see thin_base)."""
    if card.unlike and current.get(card.key) is not None:
        return "still being paid", card.unlike, "small text-muted fst-italic kpi-delta"
    if not card.base or current.get(card.key) is None:
        return None
    n = current.get(card.base[0])
    if n is not None and n < MIN_RATE_SAMPLE:
        return (f"only {n:,} {card.base[1]}", f"Fewer than {MIN_RATE_SAMPLE} {card.base[1]} in the period: too few to "
                "read the rate or compare it; pick a longer period.", "small text-muted fst-italic kpi-delta")
    before = (previous or {}).get(card.base[0])
    # Before go-live a year's view compared 10,314 routed claims with 20 ("+6.0 pts" in red):
    # a previous period with too few, or far fewer than now, is no comparison.
    if (before is not None and (previous or {}).get(card.key) is not None
            and before < max(MIN_RATE_SAMPLE, COMPARABLE_SHARE * (n or 0))):
        return (NO_COMPARISON, f"The previous period had only {before:,} {card.base[1]} (against {n or 0:,} now): "
                "too few to compare with.", "text-muted small kpi-delta")
    return None


def thin_base(card: Card, current: dict, previous: dict | None = None) -> html.Span | None:
    """In place of the change: for a rate with fewer than MIN_RATE_SAMPLE claims behind it,
    "only 6 routed claims" (6 moves of 1 claim routed on a Monday read as 600%); when only
    the previous period's rate is that thin (before go-live), no comparison; for a figure
    whose periods are not alike (money still being paid), why there is none."""
    instead = _instead(card, current, previous)
    if instead is None:
        return None
    words, title, classes = instead
    return html.Span(words, className=classes, title=title)


def change_words(card: Card, current: dict, previous: dict) -> tuple[str, float | None]:
    """A card's change line as plain text, without "vs prev." (the weekly summary email's):
    "▲ +4%", "▼ -0.8 pts", "no comparison", "only 6 routed claims", "still being paid";
    and the difference behind it (None when the card compares nothing)."""
    instead = _instead(card, current, previous)
    if instead is not None:
        return instead[0], None
    now, before = current.get(card.key), previous.get(card.key)
    if now is None or before is None:
        return NO_COMPARISON, None
    diff, text = change_text(now, before, card.kind)
    return f"{arrow(diff)} {text}", diff


def _thin_now(card: Card, current: dict) -> bool:
    n = current.get(card.base[0]) if card.base else None
    return n is not None and current.get(card.key) is not None and n < MIN_RATE_SAMPLE


def aside(card: Card, current: dict, currency: str) -> html.Div | None:
    """The card's second figure, e.g. routing accuracy without the claims referred to SIU after
    routing ("92.9% without 41 claims later sent to SIU"): only where it differs and the rate is readable."""
    if card.aside is None or _thin_now(card, current) or current.get(card.key) is None:
        return None
    key, count, words = card.aside
    n, value = current.get(count) or 0, current.get(key)
    left = (current.get(card.base[0]) or 0) - n if card.base else MIN_RATE_SAMPLE
    if not n or value is None or left < MIN_RATE_SAMPLE:  # the second rate must be readable too
        return None
    return html.Div(f"{fmt(value, card.kind, currency)} without {n:,} {words}", id=f"kpi-aside-{card.key}",
                    className="small text-muted lh-sm mt-1",
                    title=f"{n:,} closed claims were routed to another department (not triage) and ended in "
                          "Special Investigations: referred after routing, when a fraud signal came up while they "
                          "were worked. The rate above counts them as misroutes; this figure leaves them out.")


def kpi_cards(current: dict, previous: dict, currency: str) -> dbc.Row:
    cols = []
    for card in CARDS:
        label_id = f"kpi-label-{card.key}"
        cols.append(dbc.Col(dbc.Card(dbc.CardBody([
            html.Div(card.label, id=label_id, tabIndex=0, className="kpi-label text-muted small text-truncate",
                     **{"aria-label": f"{card.label}: {card.help}"}),
            dbc.Tooltip(card.help, target=label_id, placement="top"),
            html.Div(fmt(current.get(card.key), card.kind, currency),
                     className="fs-4 fw-semibold" + (" text-muted" if _thin_now(card, current) else ""),
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
