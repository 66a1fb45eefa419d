"""Figures from data (never sessions): one colour per department everywhere."""
from __future__ import annotations

import plotly.graph_objects as go

FONT = dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=13, color="#212529")
POSITIVE = "#0072B2"
NEGATIVE = "#D55E00"


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=20, t=40, b=40), font=FONT,
                      plot_bgcolor="white", paper_bgcolor="white", **kw)
    return fig


def probability_bars(probabilities: dict[str, float], names: dict[str, str], colors: dict[str, str],
                     threshold: float | None = None) -> go.Figure:
    """Horizontal bars of P(department), highest on top."""
    items = sorted(probabilities.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(
        x=[p * 100 for _, p in items], y=[names.get(c, c) for c, _ in items], orientation="h",
        marker_color=[colors.get(c, "#6c757d") for c, _ in items],
        text=[f"{p:.1%}" for _, p in items], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1f}%<extra></extra>",
    ))
    if threshold is not None:
        fig.add_vline(x=threshold * 100, line_dash="dot", line_color="#6c757d",
                      annotation_text=f"triage threshold {threshold:.0%}", annotation_position="top")
    fig.update_xaxes(title_text="Probability (%)", range=[0, 110], gridcolor="#eee", ticksuffix="%")
    return _layout(fig, 40 + 34 * len(items) + 60, title=dict(text="Probability by department", x=0, font_size=15))


def shap_waterfall(base: float, contributions: list[tuple[str, float]], target_name: str) -> go.Figure:
    """Waterfall from the model's base score to this claim's score for one department,
    one step per driver (largest effect first); log-odds units."""
    labels = ["Average claim"] + [label for label, _ in contributions] + ["This claim"]
    values = [base] + [v for _, v in contributions] + [0]
    measures = ["absolute"] + ["relative"] * len(contributions) + ["total"]
    fig = go.Figure(go.Waterfall(
        orientation="h", y=labels, x=values, measure=measures,
        increasing=dict(marker_color=POSITIVE), decreasing=dict(marker_color=NEGATIVE),
        totals=dict(marker_color="#495057"),
        text=[f"{base:+.2f}"] + [f"{v:+.2f}" for _, v in contributions] + [""],
        textposition="outside", cliponaxis=False, connector=dict(line=dict(color="#adb5bd", width=1)),
        hovertemplate="%{y}: %{x:+.2f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text=f"Score toward {target_name} (log-odds)", gridcolor="#eee", zerolinecolor="#adb5bd")
    return _layout(fig, 80 + 36 * len(labels), title=dict(text=f"Why {target_name}: SHAP drivers", x=0, font_size=15))
