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
