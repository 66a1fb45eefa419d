"""Usage analytics pieces from plain data: summary cards, funnel, time to
decision, click heatmap, satisfaction, page views, and clear empty states."""
from __future__ import annotations

import datetime as dt

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components.charts import FONT, fitted_title

GRAPH = {"displayModeBar": False}
ROLE_COLORS = {"adjuster": "#009E73", "manager": "#0072B2", "admin": "#CC79A7", "viewer": "#E69F00"}
ROLE_LABELS = {"adjuster": "Adjusters", "manager": "Managers", "admin": "Admins", "viewer": "Viewers"}
FUNNEL_COLOR = "#2f4156"
AGREEMENT = "#0072B2"
RATING = "#D55E00"


def _style(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    shown = sum(1 for t in fig.data if t.showlegend is not False)
    fitted, top = fitted_title(title, legend=shown if len(fig.data) > 1 else 0)
    fig.update_layout(title=fitted, height=height + top - 50, font=FONT,
                      margin=dict(l=10, r=20, t=top, b=40), plot_bgcolor="white", paper_bgcolor="white",
                      legend=dict(orientation="h", y=1.02, x=0, xanchor="left", yanchor="bottom"))
    fig.update_xaxes(gridcolor="#eee")
    fig.update_yaxes(gridcolor="#eee")
    return fig


def graph(fig: go.Figure, graph_id: str | None = None) -> dcc.Graph:
    return dcc.Graph(figure=fig, config=GRAPH, **({"id": graph_id} if graph_id else {}))


def empty(title: str | None, text: str) -> html.Div:
    """What a panel shows when the period has nothing for it: a title and a sentence, not blank axes.
    No title where the card already has its own heading (the click heatmap's, beside its page picker)."""
    heading = [html.H6(title, className="fw-semibold mb-2")] if title else []
    return html.Div(heading + [html.Div([html.Div("∅", className="empty-icon"), html.P(text, className="mb-0")],
                                        className="empty-state")], className="analytics-empty")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def summary_cards(s: dict) -> dbc.Row:
    rating = "—" if s["avg_rating"] is None else f"{s['avg_rating']:.1f} / 5"
    items = (("Page views", f"{s['page_views']:,}", "usage-page-views"),
             ("Visits (journeys)", f"{s['journeys']:,}", "usage-journeys"),
             ("Active people", f"{s['users']:,}", "usage-users"),
             ("Decisions recorded", f"{s['decisions']:,}", "usage-decisions"),
             ("Clicks sampled", f"{s['clicks']:,}", "usage-clicks"),
             ("Average rating", rating + (f" ({s['ratings']:,})" if s["ratings"] else ""), "usage-rating"))
    return dbc.Row([dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, className="text-muted small text-uppercase"),
        html.Div(value, className="fs-4 fw-semibold", id=key)], className="py-2"), className="shadow-sm h-100"),
        xs=6, md=4, xl=2, className="mb-3") for label, value, key in items])


def funnel_figure(f: dict) -> go.Figure:
    counts, conv = f["total"], f["conversion"]
    fig = go.Figure(go.Funnel(
        y=f["steps"], x=counts, marker_color=FUNNEL_COLOR,
        text=[f"{c:,} visit{'s' if c != 1 else ''} · {p:.0%}" if p is not None else f"{c:,}"
              for c, p in zip(counts, conv)],
        textinfo="text", textposition="inside", insidetextfont=dict(color="white"),
        hovertemplate="%{y}: %{x:,} visits<extra></extra>", connector=dict(fillcolor="#e9ecef"),
    ))
    fig.update_xaxes(title_text="Visits (journeys)")
    return _style(fig, "Funnel: queue → claim → decision (share of visits that viewed a queue)", 320)


def funnel_table(f: dict) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th("Role")] + [html.Th(s, className="text-end") for s in f["steps"]]
                              + [html.Th("Queue → decision", className="text-end")]))
    body = []
    for role, counts in sorted(f["by_role"].items()):
        last = counts[2] / counts[0] if counts[0] else None
        body.append(html.Tr([html.Td(ROLE_LABELS.get(role, role))] +
                            [html.Td(f"{c:,}", className="text-end") for c in counts] +
                            [html.Td("—" if last is None else f"{last:.0%}", className="text-end fw-semibold")]))
    return dbc.Table([head, html.Tbody(body)], size="sm", hover=True, className="mb-0 small", id="usage-funnel-table")


def time_to_decision_figure(rows: list[dict]) -> go.Figure:
    rows = sorted(rows, key=lambda r: r["median_s"], reverse=True)[-20:]
    # Seconds while every median is short, minutes otherwise: the axis stays readable.
    unit, scale = ("seconds", 1) if max(r["median_s"] for r in rows) < 120 else ("minutes", 60)
    fig = go.Figure(go.Bar(
        y=[r["name"] for r in rows], x=[r["median_s"] / scale for r in rows], orientation="h",
        marker_color=[ROLE_COLORS.get(r["role"], "#6c757d") for r in rows],
        text=[f"{duration(r['median_s'])} · {r['decisions']:,} decided" for r in rows],
        textposition="outside", cliponaxis=False, customdata=[[r["decisions"], r["mean_s"] / scale] for r in rows],
        hovertemplate=f"%{{y}}: median %{{x:.1f}} {unit}, mean %{{customdata[1]:.1f}} {unit} over "
                      "%{customdata[0]:,} claims<extra></extra>",
    ))
    fig.update_xaxes(title_text=f"Median {unit} from opening a claim to a decision", rangemode="tozero")
    # One or two people would otherwise get bars as thick as the card is tall.
    fig.update_traces(width=min(0.6, 0.2 * len(rows)))
    fig = _style(fig, "Time to decision per person", max(300, 110 + 34 * len(rows)))
    fig.update_layout(margin=dict(l=10, r=120, t=50, b=40))
    return fig


def heatmap_figure(points: list[tuple[float, float]], page: str) -> go.Figure:
    xs, ys = [x * 100 for x, _ in points], [y * 100 for _, y in points]
    fig = go.Figure(go.Histogram2d(
        x=xs, y=ys, xbins=dict(start=0, end=100, size=2.5), ybins=dict(start=0, end=100, size=2.5),
        # White where nobody clicked, so the page reads as a page with hot spots on it.
        colorscale=[[0, "#ffffff"], [0.05, "#fff3e0"], [0.3, "#fdbb84"], [0.6, "#ef6548"], [1, "#990000"]],
        zsmooth="best", colorbar=dict(title="Clicks"),
        hovertemplate="%{x}% across, %{y}% down: %{z} clicks<extra></extra>",
    ))
    fig.update_xaxes(title_text="Across the page (% of width)", range=[0, 100], ticksuffix="%", showgrid=False,
                     showline=True, linecolor="#ced4da", mirror=True)
    fig.update_yaxes(title_text="Down the page (% of height)", range=[100, 0], ticksuffix="%", showgrid=False,
                     showline=True, linecolor="#ced4da", mirror=True)
    n = len(points)
    return _style(fig, f"Where people click on {page} ({n:,} sampled click{'' if n == 1 else 's'})", 520)


def satisfaction_figure(weeks: list[dict]) -> go.Figure:
    x = [w["week"] for w in weeks]
    fig = go.Figure([
        go.Scatter(x=x, y=[None if w["agreement"] is None else w["agreement"] * 100 for w in weeks],
                   name="Adjuster agreement with the router (%)", mode="lines+markers", connectgaps=True,
                   line=dict(color=AGREEMENT, width=2), customdata=[w["feedback"] for w in weeks],
                   hovertemplate="week of %{x|%Y-%m-%d}: %{y:.1f}% of %{customdata:,} verdicts agree<extra></extra>"),
        go.Scatter(x=x, y=[w["avg_rating"] for w in weeks], name="Average rating (1–5)", yaxis="y2",
                   mode="lines+markers", connectgaps=True, line=dict(color=RATING, width=2, dash="dot"),
                   marker=dict(size=9, symbol="diamond"), customdata=[w["ratings"] for w in weeks],
                   hovertemplate="week of %{x|%Y-%m-%d}: %{y:.2f} from %{customdata:,} ratings<extra></extra>"),
    ])
    fig.update_xaxes(title_text="Week (starting Monday)", type="date", tickformat="%d %b %Y", dtick=7 * 86_400_000,
                     tick0=x[0] if x else None)
    if len(x) == 1:  # one week alone would get an axis in milliseconds around it
        fig.update_xaxes(range=[x[0] - dt.timedelta(days=4), x[0] + dt.timedelta(days=4)])
    fig.update_layout(yaxis=dict(title="Agreement (%)", range=[0, 105], ticksuffix="%"),
                      yaxis2=dict(title="Average rating (1–5)", range=[0.8, 5.2], overlaying="y", side="right",
                                  showgrid=False, dtick=1))
    fig = _style(fig, "Satisfaction per week: agreement and rating", 400)
    # The legend goes on a line of its own under the title: below the plot it ran over the
    # axis title once Plotly turned the week labels (six weeks or more on a half-width card).
    fig.update_layout(margin=dict(l=10, r=60, b=40), legend=dict(orientation="h", y=1.02, x=0, xanchor="left",
                                                                yanchor="bottom"))
    return fig


def page_views_figure(rows: list[dict]) -> go.Figure:
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["page"]] = totals.get(r["page"], 0) + r["views"]
    pages = sorted(totals, key=totals.get)[-15:]
    fig = go.Figure()
    for role in ROLE_COLORS:
        by_page = {r["page"]: r["views"] for r in rows if r["role"] == role}
        if not by_page:
            continue
        fig.add_bar(name=ROLE_LABELS[role], y=pages, x=[by_page.get(p, 0) for p in pages], orientation="h",
                    marker_color=ROLE_COLORS[role], hovertemplate=f"%{{y}}: %{{x:,}} views by {role}s<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="Page views", rangemode="tozero")
    if max(totals.values(), default=0) <= 10:
        # Whole views only: with a handful of views Plotly ticked 0, 0.2, 0.4 … as if a view could be split.
        fig.update_xaxes(tick0=0, dtick=1)
    return _style(fig, "Page views by page and role", max(300, 110 + 30 * len(pages)))


def journeys_panel(j: dict, time_on_page: dict[str, float]) -> html.Div:
    stats = html.Div([
        html.Div([html.Div(f"{j['journeys']:,}", className="stat-value"), html.Div("visits", className="stat-label")]),
        html.Div([html.Div(f"{j['median_pages']:g}", className="stat-value"),
                  html.Div("median pages per visit", className="stat-label")]),
        html.Div([html.Div(duration(j["median_minutes"] * 60), className="stat-value"),
                  html.Div("median visit length", className="stat-label")]),
    ], className="d-flex gap-5 mb-3")
    rows = [html.Tr([html.Td(p["path"], className="journey-path"), html.Td(f"{p['journeys']:,}", className="text-end"),
                     html.Td(f"{p['share']:.0%}", className="text-end")]) for p in j["paths"]]
    table = dbc.Table([html.Thead(html.Tr([html.Th("Most common visits (first pages)"),
                                           html.Th("Visits", className="text-end"),
                                           html.Th("Share", className="text-end")])), html.Tbody(rows)],
                      size="sm", hover=True, className="small mb-2", id="usage-journeys-table")
    note = None
    if time_on_page:
        top = sorted(time_on_page.items(), key=lambda kv: -kv[1])[:5]
        note = html.P("Median time on page: " + " · ".join(f"{p} {duration(s)}" for p, s in top),
                      className="small text-muted mb-0")
    return html.Div([html.H6("Journeys", className="fw-semibold mb-3"), stats, table, note])
