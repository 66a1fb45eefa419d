"""Operations page figures and cards, from the plain data of services.operations."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import html

from components.charts import FONT
from components.kpis import CLOSED, RECEIVED, date_ticks, fmt, partial_legend, partial_weeks

# Sequential, colour-blind safe: young claims light, old claims dark.
AGE_COLORS = ("#c6dbef", "#6baed6", "#2171b5", "#08306b")
ACCURACY = "#0072B2"
CONFIDENCE = "#212529"
EMPTY_TEXT = "No data for these filters"


def _merge(base: dict, extra: dict) -> dict:
    """``extra`` laid over ``base``; nested settings merge key by key, as update_layout merges them."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# A legend gets a line of its own under the title: beside it (top right), the two overlapped
# on a half-width card at 1280 px and on every phone ("Capacity use by department" ran under
# "Team capacity").
LEGEND_UNDER_TITLE = dict(orientation="h", y=1.02, x=0, xanchor="left", yanchor="bottom")
ROOM_FOR_LEGEND = dict(margin=dict(t=80), title=dict(y=0.97, yref="container", yanchor="top"))


def _figure(data, title: str, height: int, *layouts: dict, annotations: tuple = (), empty: bool = False) -> go.Figure:
    """A figure in the page's style, built in one go: the style, then ``layouts`` in order,
    then the empty-state note when there is nothing to show. Handing Plotly the whole
    layout once is ~10x cheaper than update_layout / update_xaxes calls (~4 ms each,
    most of the time a cold Operations page spent on its eight figures)."""
    layout = dict(title=dict(text=title, x=0, font=dict(size=15)), height=height, font=FONT,
                  margin=dict(l=10, r=30, t=50, b=40), plot_bgcolor="white", paper_bgcolor="white",
                  xaxis=dict(gridcolor="#eee"), yaxis=dict(gridcolor="#eee"))
    for extra in layouts:
        layout = _merge(layout, extra)
    notes = list(annotations)
    if empty:
        notes.append(dict(text=EMPTY_TEXT, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                          font=dict(color="#6c757d", size=14)))
        layout = _merge(layout, dict(xaxis=dict(visible=False), yaxis=dict(visible=False)))
    if notes:
        layout["annotations"] = notes
    return go.Figure(data, layout)


def summary_cards(data: dict) -> dbc.Row:
    w, r, m, fb = data["workload"], data["routing"], data["moves"], data["feedback"]
    open_claims = sum(d["open"] for d in w["departments"])
    assigned = sum(d["assigned"] for d in w["departments"])
    past_sla = sum(d.get("past_sla", 0) for d in w["departments"])
    capacity = sum(d["capacity"] for d in w["departments"])
    over = sum(1 for a in w["adjusters"] if a["over"])
    received = sum(x["received"] for x in data["flow"]["by_department"])
    closed = sum(x["closed"] for x in data["flow"]["by_department"])
    cards = (
        ("open", "Open claims (now)", fmt(open_claims, "count"),
         f"{open_claims - assigned:,} unassigned · {past_sla:,} past SLA"),
        # Department capacities add up to the distinct team's (services.workload splits a shared adjuster's).
        ("capacity", "Capacity use (now)", fmt(assigned / capacity, "pct") if capacity else "—",
         f"{over} adjuster{'s' if over != 1 else ''} over capacity"),
        ("netflow", "Received − closed", f"{received - closed:+,}", f"{received:,} in, {closed:,} out"),
        ("accuracy", "Prediction accuracy", fmt(r["accuracy"], "pct"),
         f"router's first prediction, {r['total']:,} closed claims"),
        ("moves", "Moved by hand", fmt(m["total"], "count"), "department changes"),
        ("agreement", "Adjuster agreement", fmt(fb["agreement"], "pct"), f"{fb['total']:,} verdicts"),
    )
    return dbc.Row([dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, className="text-muted small text-uppercase"),
        html.Div(value, className="fs-4 fw-semibold", id=f"ops-kpi-{key}"),
        html.Div(note, className="small text-muted"),
    ], className="py-2"), className="shadow-sm h-100"), xs=6, md=4, xl=2, className="mb-3")
        for key, label, value, note in cards])


def age_figure(workload: dict) -> go.Figure:
    """Open claims per department, stacked by age since report."""
    rows = [d for d in workload["departments"] if d["open"]][::-1]
    bars = [go.Bar(name=bucket, y=[d["name"] for d in rows], x=[d["ages"][i] for d in rows], orientation="h",
                   marker_color=AGE_COLORS[i % len(AGE_COLORS)],
                   hovertemplate=f"%{{y}}: %{{x:,}} open claims aged {bucket}<extra></extra>")
            for i, bucket in enumerate(workload["buckets"])]
    return _figure(bars, "Open claims by department and age", max(360, 150 + 34 * len(rows)),
                   dict(barmode="stack", legend=dict(orientation="h", y=-0.22, x=0, yanchor="top",
                                                     title=dict(text="Age since report"), traceorder="normal"),
                        xaxis=dict(title=dict(text="Open claims (count)"), rangemode="tozero")),
                   dict(margin=dict(b=110)), empty=not rows)


def capacity_figure(workload: dict) -> go.Figure:
    """Assigned open claims against the team's capacity, per department."""
    rows = [d for d in workload["departments"] if d["capacity"] or d["assigned"]][::-1]
    shared = [f" ({d['shared']} shared adjuster{'s' if d['shared'] != 1 else ''}, capacity split)"
              if d.get("shared") else "" for d in rows]
    bars = [
        go.Bar(name="Team capacity", y=[d["name"] for d in rows], x=[d["capacity"] for d in rows],
               orientation="h", marker_color="#adb5bd", opacity=0.45, text=shared, textposition="none",
               hovertemplate="%{y}: capacity %{x:,} claims%{text}<extra></extra>"),
        go.Bar(name="Assigned open claims", y=[d["name"] for d in rows], x=[d["assigned"] for d in rows],
               orientation="h", marker_color=[d["color"] for d in rows],
               text=[f"{d['assigned'] / d['capacity']:.0%}" if d["capacity"] else
                     ("no capacity" if d["adjusters"] else "no team") for d in rows],
               textposition="outside", cliponaxis=False,
               hovertemplate="%{y}: %{x:,} assigned<extra></extra>"),
    ]
    # Room for the outside labels right of the longest bar (automargin does not count bar text).
    longest = max([d["capacity"] for d in rows] + [d["assigned"] for d in rows] + [1])
    return _figure(bars, "Capacity use by department", max(320, 110 + 34 * len(rows)),
                   dict(barmode="overlay", bargap=0.35,
                        legend=LEGEND_UNDER_TITLE,
                        xaxis=dict(title=dict(text="Claims (count)"), range=[0, longest * 1.18])),
                   ROOM_FOR_LEGEND, empty=not rows)


def flow_figure(flow: dict) -> go.Figure:
    unit = flow["grain"]
    symbols, sizes, notes = partial_weeks(flow)
    # Markers only where a week is cut by the period, so a short first or last week reads as such,
    # or for a lone day or week, which has no line to show it.
    lone = len(flow["periods"]) == 1
    mode = "lines+markers" if any(notes) or lone else "lines"
    marker_sizes = [9] if lone else [s if n else 0 for s, n in zip(sizes, notes)]
    lines = [
        go.Scatter(x=flow["periods"], y=flow["received"], name="Received", mode=mode,
                   line=dict(color=RECEIVED, width=2), text=notes,
                   marker=dict(symbol=symbols, size=marker_sizes),
                   hovertemplate="%{x}: %{y:,} received%{text}<extra></extra>"),
        go.Scatter(x=flow["periods"], y=flow["closed"], name="Closed", mode=mode,
                   line=dict(color=CLOSED, width=2), text=notes,
                   marker=dict(symbol=symbols, size=marker_sizes),
                   hovertemplate="%{x}: %{y:,} closed%{text}<extra></extra>"),
    ]
    if any(notes):
        lines.append(partial_legend())
    fig = _figure(lines, f"Inflow vs outflow per {unit}", 380,
                  dict(xaxis=dict(title=dict(text="Report / closing date")),
                       yaxis=dict(title=dict(text=f"Claims per {unit}"), rangemode="tozero"),
                       legend=LEGEND_UNDER_TITLE),
                  # three entries take three rows on a phone
                  ROOM_FOR_LEGEND, dict(margin=dict(t=100)) if any(notes) else {}, empty=not flow["periods"])
    date_ticks(fig, flow["periods"], unit)
    return fig


def flow_by_department_figure(flow: dict) -> go.Figure:
    # Horizontal, names left of the bars as on the page's other department charts: names turned
    # under upright bars were cut on a phone ("Auto Physi…") and needed a wide right margin.
    rows = [r for r in flow["by_department"] if r["received"] or r["closed"]][::-1]
    names = [r["name"] for r in rows]
    # Closed first: a horizontal group draws its first bar lowest, so Received reads on top,
    # and the reversed legend names them in that order.
    bars = [
        go.Bar(name="Closed", y=names, x=[r["closed"] for r in rows], orientation="h", marker_color=CLOSED,
               hovertemplate="%{y}: %{x:,} closed<extra></extra>"),
        go.Bar(name="Received", y=names, x=[r["received"] for r in rows], orientation="h", marker_color=RECEIVED,
               hovertemplate="%{y}: %{x:,} received<extra></extra>"),
    ]
    return _figure(bars, "Inflow vs outflow by department", max(380, 130 + 44 * len(rows)),
                   dict(barmode="group", legend={**LEGEND_UNDER_TITLE, "traceorder": "reversed"},
                        xaxis=dict(title=dict(text="Claims in the period (count)"), rangemode="tozero")),
                   ROOM_FOR_LEGEND, empty=not rows)

def confusion_figure(routing: dict) -> go.Figure:
    """Rows: final department; columns: the router's first prediction. Cells show row shares."""
    names = routing["names"]
    rows, cols, matrix = routing["rows"], routing["columns"], routing["matrix"]
    shares = [[(v / sum(r) * 100 if sum(r) else 0) for v in r] for r in matrix]
    text = [[f"{s:.0f}%" if v else "" for s, v in zip(sr, r)] for sr, r in zip(shares, matrix)]
    heatmap = go.Heatmap(
        z=shares, x=[names.get(c, c) for c in cols], y=[names.get(c, c) for c in rows], text=text,
        texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=100, customdata=matrix,
        colorbar=dict(title="% of row", ticksuffix="%"),
        hovertemplate="final %{y}, routed %{x}: %{customdata:,} claims (%{z:.1f}% of row)<extra></extra>",
    )
    return _figure([heatmap], "Routed vs final department (closed claims)", 440,
                   dict(xaxis=dict(title=dict(text="Routed to (first decision)"), tickangle=-25, showgrid=False),
                        yaxis=dict(title=dict(text="Final department"), autorange="reversed", showgrid=False)),
                   empty=not matrix)


SANKEY_HEIGHT, SANKEY_MARGIN, SANKEY_PAD = 440, dict(t=50, b=30), 16
# Department names sit outside the flows, left of the departments claims left and right
# of those they went to (Plotly draws node labels inside, over the flows, where they were
# hard to read). They go in the figure's side margins, sized in pixels from the longest
# label: as a share of the card's width (the flows used to take the middle 44%) they were
# cut at the card's edge on a half-width card ("uto Physical Damage 113" at 1280 px).
SANKEY_DOMAIN = (0.0, 1.0)
LABEL_CHAR_PX, LABEL_GAP_PX = 7.2, 16  # 12 px text: a generous average glyph width, plus the gap to the node


def _label_margin(texts: list[str]) -> int:
    return int(max((len(t) for t in texts), default=0) * LABEL_CHAR_PX) + LABEL_GAP_PX


def _column_centres(values: list[float], plot_height: float, scale: float) -> list[float]:
    """Node centres (0 = top, 1 = bottom) stacked from the top as Plotly sizes them:
    ``scale`` px per move, ``SANKEY_PAD`` px between nodes."""
    centres, top = [], 0.0
    for v in values:
        h = v * scale
        centres.append((top + h / 2) / plot_height)
        top += h + SANKEY_PAD
    return centres


def sankey_figure(moves: dict) -> go.Figure:
    """Manual department changes: left the department a claim left, right where it went."""
    flows = moves["flows"]
    left = list(dict.fromkeys(f["from"]["code"] for f in flows))
    right = list(dict.fromkeys(f["to"]["code"] for f in flows))
    info = {f[side]["code"]: f[side] for f in flows for side in ("from", "to")}
    labels = [info[c]["name"] for c in left] + [info[c]["name"] for c in right]
    colors = [info[c]["color"] for c in left] + [info[c]["color"] for c in right]
    out = [sum(f["moves"] for f in flows if f["from"]["code"] == c) for c in left]
    into = [sum(f["moves"] for f in flows if f["to"]["code"] == c) for c in right]

    def rgba(hex_color: str, alpha: float) -> str:
        h = hex_color.lstrip("#")
        return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"

    # Fixed node positions, so the names placed beside them line up: Plotly scales
    # every column by the fullest one (most nodes), as d3-sankey does.
    plot_height = SANKEY_HEIGHT - SANKEY_MARGIN["t"] - SANKEY_MARGIN["b"]
    total = sum(out) or 1
    scale = (plot_height - (max(len(left), len(right), 1) - 1) * SANKEY_PAD) / total
    ys = _column_centres(out, plot_height, scale) + _column_centres(into, plot_height, scale)
    # 0 would mean "no position" to Plotly, so the columns sit a hair inside the edges.
    xs = [0.001] * len(left) + [0.999] * len(right)
    sankey = go.Sankey(
        arrangement="fixed", domain=dict(x=list(SANKEY_DOMAIN), y=[0, 1]),
        node=dict(label=[""] * len(labels), customdata=labels, x=xs, y=ys, color=colors, pad=SANKEY_PAD,
                  thickness=14, line=dict(color="white", width=0.5),
                  hovertemplate="%{customdata}: %{value:,} moves<extra></extra>"),
        link=dict(source=[left.index(f["from"]["code"]) for f in flows],
                  target=[len(left) + right.index(f["to"]["code"]) for f in flows],
                  value=[f["moves"] for f in flows], color=[rgba(f["from"]["color"], 0.35) for f in flows],
                  customdata=[f"{f['from']['name']} → {f['to']['name']}" for f in flows],
                  hovertemplate="%{customdata}: %{value:,} moves<extra></extra>"),
    )
    sides = ((labels[:len(left)], ys[:len(left)], out, SANKEY_DOMAIN[0], "right"),
             (labels[len(left):], ys[len(left):], into, SANKEY_DOMAIN[1], "left"))
    names_beside = [dict(text=f"{name} <span style='color:#6c757d'>{n:,}</span>", x=x, y=1 - y,
                         xref="paper", yref="paper", xanchor=anchor, yanchor="middle", showarrow=False,
                         xshift=-4 if anchor == "right" else 4, font=dict(size=12))
                    for names, centres, values, x, anchor in sides for name, y, n in zip(names, centres, values)]
    widths = [_label_margin([f"{name} {n:,}" for name, n in zip(names, values)]) for names, _, values, _, _ in sides]
    return _figure([sankey], "Reassignment flows: moved from (left) → to (right)", SANKEY_HEIGHT,
                   dict(margin=dict(SANKEY_MARGIN, l=widths[0], r=widths[1])), annotations=names_beside,
                   empty=not flows)


def calibration_figure(routing: dict) -> go.Figure:
    """Observed accuracy against the router's mean confidence per confidence band.
    The claim counts go under the band names and the accuracy inside the bar's foot,
    so no label sits where a mean-confidence diamond is drawn (near the bar's top
    when the router is well calibrated)."""
    bands = [b for b in routing["bands"] if b["claims"]]
    labels = [b["label"] for b in bands]
    ticks = [f"{b['label']}<br><span style='font-size:11px;color:#6c757d'>n={b['claims']:,}</span>" for b in bands]
    traces = [
        go.Bar(name="Observed accuracy", x=labels, y=[b["accuracy"] * 100 for b in bands], marker_color=ACCURACY,
               # a bar too short to hold its label (e.g. 0%) shows it just above itself
               text=[f"{b['accuracy']:.0%}" for b in bands], insidetextanchor="start",
               textposition=["inside" if b["accuracy"] >= 0.15 else "outside" for b in bands],
               insidetextfont=dict(color="white"), outsidetextfont=dict(color="#212529"), cliponaxis=False,
               customdata=[b["claims"] for b in bands],
               hovertemplate="confidence %{x}: %{y:.1f}% right of %{customdata:,} claims<extra></extra>"),
        go.Scatter(name="Mean confidence", x=labels, y=[b["mean_confidence"] * 100 for b in bands],
                   mode="markers+lines", marker=dict(symbol="diamond", size=10, color=CONFIDENCE),
                   line=dict(color=CONFIDENCE, dash="dot", width=1),
                   hovertemplate="confidence %{x}: mean %{y:.1f}%<extra></extra>"),
    ]
    return _figure(traces, "Calibration: accuracy by confidence band", 400,
                   dict(yaxis=dict(title=dict(text="Share of closed claims (%)"), range=[0, 105], ticksuffix="%"),
                        xaxis=dict(title=dict(text="Router confidence band (first decision)"), tickangle=0,
                                   tickvals=labels, ticktext=ticks),
                        legend=LEGEND_UNDER_TITLE),
                   ROOM_FOR_LEGEND, dict(margin=dict(b=70)),
                   empty=not bands)


def reasons_figure(feedback: dict) -> go.Figure:
    rows = feedback["reasons"][::-1]
    bar = go.Bar(
        y=[r["label"] for r in rows], x=[r["verdicts"] for r in rows], orientation="h", marker_color="#D55E00",
        text=[f"{r['verdicts']:,}" for r in rows], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:,} disagreements<extra></extra>",
    )
    return _figure([bar], "Why adjusters disagreed with the router", max(300, 110 + 36 * len(rows)),
                   dict(xaxis=dict(title=dict(text="Disagreeing verdicts (count)"), rangemode="tozero")),
                   empty=not rows)


def reasons_table(feedback: dict) -> html.Div:
    if not feedback["reasons"]:
        return html.P("No disagreements in this period.", className="text-muted mb-0")
    # The count right-aligned with room after it: its header ran into "Departments suggested".
    head = html.Thead(html.Tr([html.Th("Reason"), html.Th("Disagreements", className="text-end pe-4"),
                               html.Th("Departments suggested")]))
    body = html.Tbody([html.Tr([
        html.Td(r["label"]), html.Td(f"{r['verdicts']:,}", className="text-end pe-4"),
        html.Td(", ".join(f"{s['name']} ({s['verdicts']:,})" for s in r["suggested"][:3]) or "—",
                className="small"),
    ]) for r in feedback["reasons"]])
    # responsive: on a phone the table scrolls sideways inside its card instead of widening the page.
    return dbc.Table([head, body], size="sm", hover=True, responsive=True, className="mb-0", id="ops-reasons-table")


def calibration_table(routing: dict) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(h) for h in ("Confidence", "Claims", "Mean confidence", "Accuracy")]))
    body = html.Tbody([html.Tr([
        html.Td(b["label"]), html.Td(f"{b['claims']:,}"), html.Td(fmt(b["mean_confidence"], "pct")),
        html.Td(fmt(b["accuracy"], "pct")),
    ]) for b in routing["bands"]])
    # responsive: on a phone the table scrolls sideways inside its card instead of widening the page.
    return dbc.Table([head, body], size="sm", hover=True, responsive=True, className="mb-0", id="ops-calibration-table")
