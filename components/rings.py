"""The Rings page: the list of rings, one ring's network, members and links.
Pure functions of services.fraud_rings values and a currency code."""
from __future__ import annotations

import math
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components.charts import FONT
from components.common import dept_badge
from services.currency import money

STATUS_WORDS = {"new": "New", "assigned": "Assigned", "in_review": "In review",
                "awaiting_info": "Awaiting information", "closed": "Closed"}
LINK_COLOR = "#6c757d"
FRAUD_COLOR = "#dc3545"  # Bootstrap's danger red, as the "found fraudulent" badge; no department uses it


def ring_href(key: str) -> str:
    return "/rings?" + urlencode({"ring": key})


def _dates(first, last) -> str:
    if not first:
        return "—"
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} – {last:%Y-%m-%d}"


def rings_table(rings: list, code: str) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(h) for h in (
        "Ring", "Claims", "Open", "Claimed", "Found fraudulent", "Departments", "Linked by", "Reported")]))
    rows = [html.Tr([
        html.Td(html.A(r.key, href=ring_href(r.key), className="claim-link text-nowrap")),
        html.Td(r.size, className="text-end"),
        html.Td(r.open_claims, className="text-end"),
        html.Td(money(r.claimed, code), className="text-end text-nowrap"),
        html.Td(r.confirmed or "—", className="text-end"),
        html.Td(html.Div([dept_badge(name, color) for name, color in r.departments],
                         className="d-flex flex-wrap gap-1")),
        html.Td(r.link_summary, className="small"),
        html.Td(_dates(r.first_report, r.last_report), className="small text-nowrap"),
    ]) for r in rings]
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, className="mb-0 align-middle",
                     id="rings-table")


def _outward(x: float, y: float) -> str:
    # Labels point away from the circle's centre, so neighbours' labels do not collide.
    return ("top " if y > 0.3 else "bottom " if y < -0.3 else "middle ") + ("right" if x >= 0 else "left")


def ring_network(view) -> go.Figure:
    """Claims on a circle, each shared identifier near the middle of the claims it ties."""
    n = len(view.claims)
    # Half a step off the vertical, so no claim sits exactly at the top with its label centred.
    pos = {c.claim_number: (math.cos(2 * math.pi * (i + 0.5) / n + math.pi / 2),
                            math.sin(2 * math.pi * (i + 0.5) / n + math.pi / 2)) for i, c in enumerate(view.claims)}
    fig = go.Figure()
    edge_x, edge_y, id_x, id_y, id_text = [], [], [], [], []
    for k, link in enumerate(view.links):
        points = [pos[m] for m in link.claim_numbers]
        # Pulled a little toward the centre, and apart, so identifiers of the same claims do not overlap.
        cx = sum(p[0] for p in points) / len(points) * 0.8 + 0.06 * math.cos(k)
        cy = sum(p[1] for p in points) / len(points) * 0.8 + 0.06 * math.sin(k)
        for px, py in points:
            edge_x += [cx, px, None]
            edge_y += [cy, py, None]
        id_x.append(cx)
        id_y.append(cy)
        id_text.append(f"{link.label} {link.value}<br>{len(link.claim_numbers)} claims")
    fig.add_trace(go.Scatter(x=edge_x, y=edge_y, mode="lines", line=dict(color="#ced4da", width=1),
                             hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=id_x, y=id_y, mode="markers", showlegend=False,
                             marker=dict(symbol="diamond", size=11, color=LINK_COLOR),
                             hovertext=id_text, hoverinfo="text"))
    claims = view.claims
    fig.add_trace(go.Scatter(
        x=[pos[c.claim_number][0] for c in claims], y=[pos[c.claim_number][1] for c in claims],
        # The number's last part as the label (the whole one on hover): whole numbers ran off a phone's width.
        mode="markers+text", showlegend=False, text=[c.claim_number.rsplit("-", 1)[-1] for c in claims],
        textposition=[_outward(*pos[c.claim_number]) for c in claims], textfont=dict(size=11),
        marker=dict(size=18, color=[c.color or "#adb5bd" for c in claims],
                    line=dict(width=[4 if c.fraud_label else 1 for c in claims],
                              color=[FRAUD_COLOR if c.fraud_label else "#ffffff" for c in claims])),
        hovertext=[f"{c.claim_number}<br>{c.department or 'No department'} · {STATUS_WORDS.get(c.status, c.status)}"
                   + ("<br>found fraudulent" if c.fraud_label else "") for c in claims],
        hoverinfo="text"))
    fig.update_layout(font=FONT, height=460, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white",
                      paper_bgcolor="white", showlegend=False,
                      xaxis=dict(visible=False, range=[-1.9, 1.9]),  # room for the side labels on a phone
                      yaxis=dict(visible=False, range=[-1.3, 1.35], scaleanchor="x"))
    return fig


def ring_members(view, code: str) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(h) for h in ("Claim", "Department", "Status", "Reported", "Claimed",
                                                     "Finding")]))
    rows = [html.Tr([
        html.Td(html.A(c.claim_number, href=f"/claims/{c.claim_number}", className="claim-link")),
        html.Td(dept_badge(c.department, c.color) if c.department else "—"),
        html.Td(STATUS_WORDS.get(c.status, c.status)),
        html.Td(f"{c.report_date:%Y-%m-%d}" if c.report_date else "—", className="text-nowrap"),
        html.Td(money(c.claimed_amount, code), className="text-end text-nowrap"),
        html.Td(dbc.Badge("found fraudulent", color="danger") if c.fraud_label else ""),
    ]) for c in view.claims]
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, size="sm", className="mb-0",
                     id="ring-members")


def ring_links(view) -> html.Ul:
    return html.Ul([html.Li([
        html.Span(k.label, className="fw-semibold"), " ", html.Span(k.value, className="font-monospace small"),
        html.Div(", ".join(k.claim_numbers), className="small text-muted"),
    ], className="mb-2") for k in view.links], className="list-unstyled mb-0", id="ring-links")


def ring_detail(view, code: str) -> html.Div:
    return html.Div([
        dbc.Row([
            dbc.Col(dbc.Card(dbc.CardBody([
                html.H5("How the claims are tied", className="card-title"),
                html.P("Circles are claims (labelled with the end of their number), coloured by department, "
                       "with a red ring when found fraudulent; diamonds are the identifiers their parties share. "
                       "Hover for details.",
                       className="small text-muted mb-1"),
                dcc.Graph(figure=ring_network(view), config={"displayModeBar": False}, id="ring-network"),
            ]), className="shadow-sm"), lg=7, className="mb-4"),
            dbc.Col(dbc.Card(dbc.CardBody([
                html.H5("Shared identifiers", className="card-title"),
                ring_links(view),
            ]), className="shadow-sm"), lg=5, className="mb-4"),
        ]),
        dbc.Card(dbc.CardBody([html.H5("Claims", className="card-title"), ring_members(view, code)]),
                 className="shadow-sm mb-4"),
    ])
