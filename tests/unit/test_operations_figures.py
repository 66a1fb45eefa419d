"""Operations figures keep their text readable on a half-width card (1280 px screen):
department names beside the reassignment flows are not cut at the card's edge, and a
legend does not run over the chart title."""
from __future__ import annotations

from components.operations import LABEL_CHAR_PX, flow_by_department_figure, sankey_figure


def _dept(code, name, color="#0072B2"):
    return {"code": code, "name": name, "color": color}


APD, LIAB, GLASS = (_dept("AUTO_PD", "Auto Physical Damage"), _dept("LIABILITY", "Liability / Bodily Injury"),
                    _dept("AUTO_GLASS", "Auto Glass"))


def test_sankey_reserves_side_margins_for_the_longest_department_label():
    fig = sankey_figure({"flows": [{"from": APD, "to": GLASS, "moves": 113},
                                   {"from": GLASS, "to": LIAB, "moves": 54}]})
    margin = fig.layout.margin
    # The labels sit outside the flows (anchored at the plot area's edges), so the
    # margins in pixels must hold "Auto Physical Damage 113" on the left and
    # "Liability / Bodily Injury 54" on the right, whatever the card's width.
    assert margin.l >= len("Auto Physical Damage 113") * LABEL_CHAR_PX
    assert margin.r >= len("Liability / Bodily Injury 54") * LABEL_CHAR_PX
    left = [a for a in fig.layout.annotations if a.xanchor == "right"]
    right = [a for a in fig.layout.annotations if a.xanchor == "left"]
    assert {a.x for a in left} == {0.0} and {a.x for a in right} == {1.0}
    assert fig.data[0].domain.x == (0.0, 1.0)
    # a short label does not waste the card on an empty margin
    short = sankey_figure({"flows": [{"from": GLASS, "to": _dept("SIU", "SIU"), "moves": 2}]})
    assert short.layout.margin.r < 100 < margin.l


def test_flow_by_department_legend_sits_under_the_title_not_beside_it():
    fig = flow_by_department_figure({"by_department": [{"name": "Property", "received": 10, "closed": 8}]})
    legend = fig.layout.legend
    assert (legend.x, legend.xanchor, legend.yanchor) == (0, "left", "bottom")
    assert fig.layout.margin.t >= 80 and fig.layout.title.yref == "container"


def test_inflow_outflow_over_one_day_shows_the_day_not_milliseconds():
    import datetime as dt

    from components.operations import flow_figure

    day = dt.date(2026, 12, 7)
    fig = flow_figure({"grain": "day", "periods": [day], "days": [1], "received": [30], "closed": [34]})
    # Drawn as lines only, one day was an empty chart over '23:59:59.999 … 00:00:00.0005'.
    assert all("markers" in t.mode and min(t.marker.size) >= 9 for t in fig.data)
    assert [t.name for t in fig.data] == ["Received", "Closed"]  # no "Partial week" entry
    assert fig.layout.xaxis.dtick == 86_400_000 and fig.layout.xaxis.range[0] == day - dt.timedelta(days=1)
    # as the page's cached data has them: ISO strings (a date sum on a string was a 500)
    cached = flow_figure({"grain": "day", "periods": ["2026-12-07"], "days": [1], "received": [30], "closed": [34]})
    assert cached.layout.xaxis.range[1] == day + dt.timedelta(days=1)


def test_flow_by_department_names_read_left_of_horizontal_bars_in_the_queue_order():
    """Names turned under upright bars were cut on a phone ("Auto Physi…")."""
    fig = flow_by_department_figure({"by_department": [
        {"name": "Auto Physical Damage", "received": 5, "closed": 4}, {"name": "Triage", "received": 0, "closed": 0},
        {"name": "Special Investigations", "received": 1, "closed": 2}]})
    assert all(t.orientation == "h" for t in fig.data)
    # top to bottom as listed (Plotly draws the first category at the bottom); empty rows left out
    assert list(fig.data[0].y) == ["Special Investigations", "Auto Physical Damage"]
    closed, received = fig.data
    assert (closed.name, list(closed.x), received.name, list(received.x)) == ("Closed", [2, 4], "Received", [1, 5])


def test_a_figure_built_in_one_go_is_the_one_the_step_by_step_updates_built():
    """Figures hand Plotly their whole layout once (each update_layout / update_axes call
    cost ~4 ms): the page's style, then each layout laid over it as update_layout does
    (nested settings merged, not replaced), then the empty-state note."""
    import plotly.graph_objects as go

    from components.charts import FONT
    from components.operations import EMPTY_TEXT, _figure

    first = dict(barmode="stack", legend=dict(orientation="h", y=-0.22, title=dict(text="Age")),
                 xaxis=dict(title=dict(text="Open claims"), rangemode="tozero"))
    second = dict(margin=dict(b=110), title=dict(y=0.97, yref="container"))
    note = dict(text="a name", x=0, y=0.5, xref="paper", yref="paper", showarrow=False)
    for empty in (False, True):
        fig = go.Figure([go.Bar(x=[1], y=["a"], orientation="h")])
        fig.add_annotation(note)
        fig.update_layout(first)
        fig.update_layout(title=dict(text="Title", x=0, font_size=15), height=300, font=FONT,
                          margin=dict(l=10, r=30, t=50, b=40), plot_bgcolor="white", paper_bgcolor="white")
        fig.update_xaxes(gridcolor="#eee")
        fig.update_yaxes(gridcolor="#eee")
        fig.update_layout(second)
        if empty:
            fig.add_annotation(text=EMPTY_TEXT, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                               font=dict(color="#6c757d", size=14))
            fig.update_xaxes(visible=False)
            fig.update_yaxes(visible=False)
        built = _figure([go.Bar(x=[1], y=["a"], orientation="h")], "Title", 300, first, second,
                        annotations=(note,), empty=empty)
        assert built.to_dict() == fig.to_dict()
        assert built.layout.margin.l == 10 and built.layout.margin.b == 110  # merged, not replaced
