"""Figures from data (never sessions): one colour per department everywhere."""
from __future__ import annotations

import math
import re
import textwrap

import plotly.graph_objects as go

FONT = dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=13, color="#212529")
POSITIVE = "#0072B2"
NEGATIVE = "#D55E00"
# Side-by-side panels share one height so the cards line up.
PANEL_HEIGHT = 420


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=20, t=40, b=40), font=FONT,
                      plot_bgcolor="white", paper_bgcolor="white", **kw)
    return fig


def floor_pct(p: float, digits: int = 1) -> str:
    """A probability as a percentage, rounded down: 0.49985 reads "49.9%", never "50.0%",
    so a claim just under the triage threshold does not look as if it met it."""
    scale = 10 ** (digits + 2)
    return f"{math.floor(p * scale + 1e-9) / 10 ** digits:.{digits}f}%"


def probability_bars(probabilities: dict[str, float], names: dict[str, str], colors: dict[str, str],
                     threshold: float | None = None) -> go.Figure:
    """Horizontal bars of P(department), highest on top."""
    items = sorted(probabilities.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(
        x=[p * 100 for _, p in items], y=[names.get(c, c) for c, _ in items], orientation="h",
        marker_color=[colors.get(c, "#6c757d") for c, _ in items],
        text=[floor_pct(p) for _, p in items], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1f}%<extra></extra>",
    ))
    if threshold is not None:
        fig.add_vline(x=threshold * 100, line_dash="dot", line_color="#6c757d",
                      annotation_text=f"triage threshold {threshold:.0%}", annotation_position="top")
    fig.update_xaxes(title_text="Probability (%)", range=[0, 110], gridcolor="#eee", ticksuffix="%")
    fig = _layout(fig, max(PANEL_HEIGHT, 100 + 34 * len(items)),
                  title=dict(text="Probability by department", x=0, font_size=15))
    fig.update_layout(margin=dict(l=10, r=50, t=40, b=40))
    return fig


def shap_waterfall(base: float, contributions: list[tuple[str, float]]) -> go.Figure:
    """Waterfall from the model's base score to this claim's score for one department,
    one step per driver (largest effect first); log-odds units. Untitled: the page titles
    it in HTML, which wraps ("What pushed it toward Liability / Bodily Injury" ran off a
    phone's screen as a Plotly title)."""
    total = base + sum(v for _, v in contributions)
    labels = ["Average claim"] + [label for label, _ in contributions] + ["This claim"]
    values = [base] + [v for _, v in contributions] + [0]
    measures = ["absolute"] + ["relative"] * len(contributions) + ["total"]
    fig = go.Figure(go.Waterfall(
        orientation="h", y=labels, x=values, measure=measures,
        increasing=dict(marker_color=POSITIVE), decreasing=dict(marker_color=NEGATIVE),
        totals=dict(marker_color="#495057"),
        text=[f"{base:+.2f}"] + [f"{v:+.2f}" for _, v in contributions] + [f"{total:+.2f}"],
        textposition="outside", cliponaxis=False, connector=dict(line=dict(color="#adb5bd", width=1)),
        hovertemplate="%{y}: %{x:+.2f}<extra></extra>",
    ))
    # A gap between the driver names and the plot: a value written left of a bar that ends at
    # the plot's edge ran into its name ("Average claim-0.63").
    fig.update_yaxes(autorange="reversed", ticklabelstandoff=10)
    # A bar that goes left writes its value left of its end: leave room for it there, or it
    # lands on the driver names (the axis labels).
    ends = [0.0, base]
    for _, v in contributions:
        ends.append(ends[-1] + v)
    lo, hi = min(ends), max(ends)
    span = (hi - lo) or 1.0
    left = 0.35 * span if base < 0 or any(v < 0 for _, v in contributions) else 0.0
    # Plain words for claims people; the unit (log-odds) is in the docstring, not on screen.
    # (The title names the department: with it here too, long names ran off the card.)
    fig.update_xaxes(title_text="Model score", gridcolor="#eee", zerolinecolor="#adb5bd",
                     range=[lo - left, hi + 0.04 * span])
    fig = _layout(fig, max(PANEL_HEIGHT, 80 + 34 * len(labels)) - 30)
    fig.update_layout(margin=dict(l=10, r=60, t=10, b=40))
    return fig


def per_class_recall(per_class: dict, names: dict[str, str], colors: dict[str, str]) -> go.Figure:
    """Holdout recall and precision per department."""
    codes = sorted(per_class, key=lambda c: per_class[c].get("support", 0), reverse=True)
    labels = [names.get(c, c) for c in codes]
    fig = go.Figure([
        go.Bar(name="Recall", x=labels, y=[per_class[c]["recall"] * 100 for c in codes],
               marker_color=[colors.get(c, "#6c757d") for c in codes],
               hovertemplate="%{x}: recall %{y:.1f}%<extra></extra>"),
        go.Scatter(name="Precision", x=labels, y=[per_class[c]["precision"] * 100 for c in codes], mode="markers",
                   marker=dict(symbol="diamond", size=11, color="#212529"),
                   hovertemplate="%{x}: precision %{y:.1f}%<extra></extra>"),
    ])
    fig.update_yaxes(title_text="Holdout %", range=[0, 105], gridcolor="#eee", ticksuffix="%")
    fig = _layout(fig, 360, title=dict(text="Recall and precision by department", x=0, font_size=15),
                  legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    return fig


def confusion_heatmap(confusion: dict, names: dict[str, str]) -> go.Figure:
    """Rows: final department; columns: predicted. Shares of each row, counts on hover."""
    labels = confusion.get("labels") or []
    matrix = confusion.get("matrix") or []
    shares = [[(v / sum(row) * 100 if sum(row) else 0) for v in row] for row in matrix]
    text = [[f"{v:.0f}%" if v >= 0.5 else "" for v in row] for row in shares]
    pretty = [names.get(c, c) for c in labels]
    fig = go.Figure(go.Heatmap(
        z=shares, x=pretty, y=pretty, text=text, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=100,
        customdata=matrix, colorbar=dict(title="% of row", ticksuffix="%"),
        hovertemplate="final %{y} → predicted %{x}: %{customdata} claims (%{z:.1f}%)<extra></extra>",
    ))
    fig.update_xaxes(title_text="Predicted department", tickangle=-30)
    fig.update_yaxes(title_text="Final department", autorange="reversed")
    return _layout(fig, 460, title=dict(text="Confusion matrix on the holdout", x=0, font_size=15))


def open_claims_by_queue(queues: list) -> go.Figure:
    items = sorted(queues, key=lambda q: q.open_claims)
    fig = go.Figure(go.Bar(
        x=[q.open_claims for q in items], y=[q.name for q in items], orientation="h",
        marker_color=[q.color for q in items], text=[f"{q.open_claims:,}" for q in items],
        textposition="outside", cliponaxis=False, hovertemplate="%{y}: %{x:,} open claims<extra></extra>",
    ))
    fig.update_xaxes(title_text="Open claims", gridcolor="#eee")
    fig = _layout(fig, 340, title=dict(text="Open claims by queue", x=0, font_size=15))
    fig.update_layout(margin=dict(l=10, r=50, t=40, b=40))
    return fig


def confidence_histogram(bands: list[dict], names: dict[str, str], colors: dict[str, str],
                         threshold: float | None = None) -> go.Figure:
    """Open claims by routing confidence band, stacked by the queue they are in."""
    fig = go.Figure()
    for code in sorted({b["department"] for b in bands}):
        rows = [b for b in bands if b["department"] == code]
        fig.add_bar(name=names.get(code, code), x=[(b["low"] + b["high"]) / 2 * 100 for b in rows],
                    y=[b["claims"] for b in rows], width=9.5, marker_color=colors.get(code, "#6c757d"),
                    customdata=[f"{b['low'] * 100:.0f}–{b['high'] * 100:.0f}%" for b in rows],
                    hovertemplate=f"{names.get(code, code)}: %{{y:,}} claims routed with "
                                  f"%{{customdata}} confidence<extra></extra>")
    if threshold is not None:
        fig.add_vline(x=threshold * 100, line_dash="dot", line_color="#6c757d",
                      annotation_text="triage threshold", annotation_position="top left")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="Routing confidence (%)", range=[-3, 101], ticksuffix="%", gridcolor="#eee")
    # standoff: the y axis's "0" sat on the x axis's "0%"
    fig.update_yaxes(title_text="Open claims", gridcolor="#eee", ticklabelstandoff=8)
    return _layout(fig, 340, title=dict(text="How sure the router was", x=0, font_size=15),
                   legend=dict(orientation="h", y=-0.3, x=0))


TITLE_WIDTH = 40  # characters of a 15 px title that fit a 390 px phone's card


def fitted_title(text: str, *, legend: bool | int = False) -> tuple[dict, int]:
    """A Plotly title that fits a phone, and the top margin it needs. Plotly never wraps a
    title, so "Special Investigations: 1% of all claims received (click a bar f" ran off a
    390 px card: the text wraps at word boundaries, a trailing "(click …)" hint goes on its
    own smaller line, and a legend gets a row of its own under the title (beside a long
    title it overlapped it)."""
    main, hint = text, None
    if text.endswith(")") and " (click " in text:
        main, hint = text[:-1].rsplit(" (click ", 1)
        hint = "Click " + hint
    lines = textwrap.wrap(main, TITLE_WIDTH) or [""]
    shown = "<br>".join(lines)
    if hint:
        shown += f"<br><span style='font-size:12px;color:#6c757d'>{hint}</span>"
    rows = len(lines) * 19 + (16 if hint else 0)
    title = dict(text=shown, x=0, xanchor="left", font_size=15, yref="container", y=1, yanchor="top",
                 pad=dict(t=18, l=0))
    # ``legend``: its number of entries. Plotly wraps a legend to the plot's width, which on a
    # phone (long labels left of the plot) leaves one entry a row: room for each, not one row.
    entries = int(legend)
    return title, rows + 30 + (24 + 18 * max(0, entries - 1) if entries else 0)


def plain_title(text: str) -> str:
    """A fitted title back to one plain line, for paper: no "Click …" hint, no breaks."""
    return re.sub(r"<br><span[^>]*>Click [^<]*</span>", "", text or "").replace("<br>", " ")
