"""Workload figures and cards (data in, figure or components out)."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components.charts import FONT

OVER = "#D55E00"
UNDER = "#0072B2"
CAPACITY = "#adb5bd"
# Room right of the longest bar for its outside label ("52 / 30 over"): plotly's
# automargin leaves bar text out, so without it the label runs off the figure.
LABEL_ROOM = 1.25
# How services.workload counts an adjuster who is on several teams; shown wherever department capacity is.
SHARED_CAPACITY_NOTE = ("An adjuster in several departments is on each of those teams, with their capacity split "
                        "equally among them, so department capacities add up to the total.")


def _layout(fig: go.Figure, height: int, title: str, **kw) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=30, t=44, b=40), font=FONT, plot_bgcolor="white",
                      paper_bgcolor="white", title=dict(text=title, x=0, font_size=15), **kw)
    return fig


def adjuster_bars(loads: list) -> go.Figure:
    """Open claims against capacity per adjuster; those over capacity in orange."""
    items = list(reversed(loads))  # fullest on top
    names = [a.name for a in items]
    fig = go.Figure([
        go.Bar(name="Capacity", y=names, x=[a.capacity for a in items], orientation="h", marker_color=CAPACITY,
               opacity=0.45, hovertemplate="%{y}: capacity %{x}<extra></extra>"),
        go.Bar(name="Open claims", y=names, x=[a.open_claims for a in items], orientation="h",
               marker_color=[OVER if a.over_capacity else UNDER for a in items],
               text=[f"{a.open_claims} / {a.capacity}" + (" over" if a.over_capacity else "") for a in items],
               textposition="outside", cliponaxis=False,
               hovertemplate="%{y}: %{x} open claims<extra></extra>"),
    ])
    fig.update_layout(barmode="overlay", bargap=0.35)
    longest = max([a.capacity for a in items] + [a.open_claims for a in items] + [1])
    fig.update_xaxes(title_text="Open claims (count)", gridcolor="#eee", range=[0, longest * LABEL_ROOM])
    return _layout(fig, max(320, 90 + 30 * len(items)), "Open claims vs capacity per adjuster",
                   legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))


def age_bars(departments: list, buckets: tuple[str, ...]) -> go.Figure:
    """Open claims per age bucket, stacked by department in the department's colour."""
    fig = go.Figure()
    for d in departments:
        if not d.open_claims:
            continue
        fig.add_bar(name=d.name, x=list(buckets), y=[d.ages.get(b, 0) for b in buckets], marker_color=d.color,
                    hovertemplate=f"{d.name}: %{{y:,}} open claims (%{{x}})<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="Age since report (days)")
    fig.update_yaxes(title_text="Open claims (count)", gridcolor="#eee")
    return _layout(fig, 380, "Age of open claims", legend=dict(orientation="h", y=-0.25, x=0))


def department_card(d) -> dbc.Card:
    use = (f"{d.open_claims - d.unassigned:,} assigned / {d.capacity:,} capacity" if d.adjusters
           else "no team yet")
    team = f"{d.adjusters} on the team" + (f" ({d.shared} shared)" if d.shared else "")
    warn = (dbc.Badge(f"{d.over_capacity} over capacity", color="danger", className="ms-2")
            if d.over_capacity else None)
    return dbc.Card(dbc.CardBody([
        html.Div([html.Span(className="dept-dot", style={"backgroundColor": d.color}),
                  html.Span(d.name, className="fw-semibold")], className="mb-2"),
        html.Div(f"{d.open_claims:,}", className="stat-value", id=f"workload-open-{d.code}"),
        html.Div("open claims", className="stat-label mb-2"),
        html.Div([f"{d.unassigned:,} unassigned · {team}", warn], className="small text-muted"),
        html.Div(use, className="small text-muted", title=SHARED_CAPACITY_NOTE if d.shared else None),
        html.Div([f"Service level {d.sla_days} days · ",
                  # the queue opens with its "Past service level" switch on
                  dcc.Link(f"{d.past_sla:,} past it", id=f"workload-past-sla-{d.code}",
                           href=f"/queues?department={d.code}&overdue=1",
                           className="text-danger fw-semibold" if d.past_sla else "text-muted")],
                 className="small text-muted", title="Open claims reported longer ago than the department's "
                 "service level (days from report to closing)"),
    ]), className="shadow-sm h-100 workload-card", style={"borderTop": f"4px solid {d.color}"})


def adjuster_table(loads: list) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(h) for h in ("Adjuster", "Departments", "Open", "Capacity", "Use")]))
    body = html.Tbody([
        # The board opens with the adjuster's open claims listed, to move some of them on.
        html.Tr([html.Td(dcc.Link(a.name, href=f"/reassign?adjuster={a.id}", title="Rebalance: open their claims "
                                  "on the Reassign board"), className="text-nowrap"),
                 html.Td(", ".join(a.department_names) or "—", className="small"),
                 html.Td(f"{a.open_claims:,}"), html.Td(f"{a.capacity:,}"),
                 html.Td(dbc.Badge(f"{a.use:.0%}", color="danger" if a.over_capacity else
                                   ("warning" if a.use >= 0.85 else "success"),
                                   text_color="dark" if not a.over_capacity and a.use >= 0.85 else None))],
                className="table-danger" if a.over_capacity else None)
        for a in loads
    ])
    return dbc.Table([head, body], hover=True, size="sm", responsive=True, className="mb-0 align-middle")
