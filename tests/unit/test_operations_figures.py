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
    assert [t.name for t in fig.data] == ["Received (inflow)", "Closed (outflow)"]  # no "Partial week" entry
    assert fig.layout.xaxis.dtick == 86_400_000 and fig.layout.xaxis.range[0] == day - dt.timedelta(days=1)
    # as the page's cached data has them: ISO strings (a date sum on a string was a 500)
    cached = flow_figure({"grain": "day", "periods": ["2026-12-07"], "days": [1], "received": [30], "closed": [34]})
    assert cached.layout.xaxis.range[1] == day + dt.timedelta(days=1)


def test_the_last_department_name_under_the_bars_has_room_on_the_right():
    fig = flow_by_department_figure({"by_department": [{"name": "Special Investigations", "received": 1,
                                                        "closed": 1}]})
    assert fig.layout.margin.r >= 90
