"""Dashboard figures with no claims for the filters say so, in the middle and without
axes: bare axes from 0 to 1.2 or a flat line at zero looked like data."""
from __future__ import annotations

import datetime as dt

from components.kpis import NO_CLAIMS, category_figure, department_figure, received_closed_figure
from services.aggregates import BreakdownRow


def _row(key, received):
    return BreakdownRow(key, key.title(), "#0072B2", received, 0, 0.0, 0.0, None, None, 0)


def _says_no_claims(fig) -> bool:
    texts = [a.text for a in fig.layout.annotations]
    return (texts == [NO_CLAIMS] and fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
            and fig.layout.annotations[0].x == 0.5 and fig.layout.annotations[0].y == 0.5
            and all(t.visible is False for t in fig.data))


def test_bar_figures_without_claims_say_so():
    assert _says_no_claims(category_figure([], "Claims received by region", "Claims"))
    assert _says_no_claims(category_figure([_row("auto", 0)], "Claims received by line", "Claims",
                                           selected="auto"))
    assert _says_no_claims(department_figure([], selected="PROPERTY"))


def test_bar_figures_with_claims_keep_their_axes_range_and_highlight():
    fig = category_figure([_row("auto", 30), _row("property", 10)], "Claims received by line", "Claims",
                          selected="auto")
    assert not fig.layout.annotations and fig.layout.xaxis.visible is not False
    assert tuple(fig.layout.xaxis.range) == (0, 36.0)
    assert fig.layout.title.text.startswith("Auto: 75% of claims received by line")
    assert not department_figure([_row("AUTO_PD", 5)]).layout.annotations


def test_trend_without_claims_says_so_instead_of_a_flat_zero_line():
    periods = [dt.date(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(4)]
    empty = {"grain": "week", "periods": periods, "days": [7] * 4, "received": [0] * 4, "closed": [0] * 4}
    assert _says_no_claims(received_closed_figure(empty))
    assert received_closed_figure({"grain": "day", "periods": [], "received": [], "closed": []}).layout.annotations
    some = dict(empty, received=[0, 3, 0, 0])
    fig = received_closed_figure(some)
    assert not fig.layout.annotations and fig.layout.yaxis.visible is not False
