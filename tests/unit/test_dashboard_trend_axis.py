"""The dashboard's trend over a short period reads in days, and a KPI change too small
for a whole percent does not print as '-0%'."""
from __future__ import annotations

import datetime as dt

from components.kpis import _delta, received_closed_figure

DEC7 = dt.date(2026, 12, 7)


def _series(periods, grain="day"):
    n = len(periods)
    return {"grain": grain, "periods": periods, "days": [1 if grain == "day" else 7] * n,
            "received": [30] * n, "closed": [34] * n}


def test_one_day_gets_a_day_wide_axis_and_a_visible_point():
    fig = received_closed_figure(_series([DEC7]))
    axis = fig.layout.xaxis
    # Plotly's automatic range for one date ran from 23:59:59.999 to 00:00:00.0005.
    assert axis.type == "date" and tuple(axis.range) == (DEC7 - dt.timedelta(days=1), DEC7 + dt.timedelta(days=1))
    assert axis.dtick == 86_400_000 and "%H" not in axis.tickformat
    assert min(fig.data[0].marker.size) >= 9


def test_a_few_days_tick_once_a_day_and_long_periods_are_left_to_plotly():
    days = [DEC7 - dt.timedelta(days=i) for i in range(3, -1, -1)]
    fig = received_closed_figure(_series(days))
    assert fig.layout.xaxis.dtick == 86_400_000 and fig.layout.xaxis.range is None
    weeks = received_closed_figure(_series([DEC7 - dt.timedelta(weeks=1), DEC7], grain="week"))
    assert weeks.layout.xaxis.dtick == 7 * 86_400_000
    long = received_closed_figure(_series([DEC7 - dt.timedelta(days=i) for i in range(90, -1, -1)]))
    assert long.layout.xaxis.dtick is None


def test_a_change_under_half_a_percent_is_not_minus_zero():
    assert "-0%" not in _delta(1866, 1867, "count", False).children[0]
    assert "-0.1%" in _delta(1866, 1867, "count", False).children[0]
    assert "+3%" in _delta(103, 100, "count", None).children[0]
    assert "±0%" in _delta(1_000_000, 1_000_001, "count", None).children[0]


def test_a_rate_change_that_rounds_to_zero_is_neutral():
    still = _delta(0.9912, 0.99124, "pct", True)
    assert still.children[0] == "■ ±0.0 pts " and "text-muted" in still.className
    moved = _delta(0.9912, 0.9922, "pct", True)
    assert moved.children[0] == "▼ -0.1 pts " and "text-danger" in moved.className


def test_a_one_day_period_is_described_as_one_day():
    from services.aggregates import Filters
    from services.dashboard import describe_filters

    opts = {"all_departments": []}
    assert describe_filters(Filters(DEC7, DEC7), opts)[0][1] == "2026-12-07 to 2026-12-07 (1 day)"
    assert describe_filters(Filters(DEC7 - dt.timedelta(days=1), DEC7), opts)[0][1].endswith("(2 days)")
