"""Weeks cut by the chosen period are counted for what they hold and drawn as such,
so a two-day first week does not read as a collapse in claims."""
from __future__ import annotations

import datetime as dt

from components.kpis import received_closed_figure
from components.operations import flow_figure
from services.aggregates import Filters, bucket_days

SAT, MON = dt.date(2025, 11, 29), dt.date(2025, 11, 24)


def test_bucket_days_counts_the_days_of_each_week_inside_the_period():
    f = Filters(SAT, dt.date(2026, 1, 7))  # Saturday to a Wednesday
    weeks = [MON + dt.timedelta(weeks=i) for i in range(7)]
    assert bucket_days(weeks, f, weekly=True) == [2, 7, 7, 7, 7, 7, 3]
    assert bucket_days([SAT, SAT + dt.timedelta(days=1)], f, weekly=False) == [1, 1]
    whole = Filters(dt.date(2026, 1, 5), dt.date(2026, 1, 18))  # Monday to Sunday
    assert bucket_days([dt.date(2026, 1, 5), dt.date(2026, 1, 12)], whole, weekly=True) == [7, 7]


def _series(days):
    periods = [MON + dt.timedelta(weeks=i) for i in range(len(days))]
    return {"grain": "week", "periods": periods, "days": days, "received": [50, 200, 60],
            "closed": [40, 190, 55]}


def test_trend_marks_partial_weeks_open_and_says_so_on_hover_and_in_the_legend():
    fig = received_closed_figure(_series([2, 7, 3]))
    received, closed = fig.data[0], fig.data[1]
    for trace in (received, closed):
        assert list(trace.marker.symbol) == ["circle-open", "circle", "circle-open"]
        assert "only 2 of its 7 days" in trace.text[0] and trace.text[1] == "" and "only 3" in trace.text[2]
    assert [t.name for t in fig.data] == ["Received", "Closed", "Partial week"]
    assert list(fig.data[0].customdata) == [p.isoformat() for p in _series([2, 7, 3])["periods"]]

    whole = received_closed_figure(_series([7, 7, 7]))
    assert [t.name for t in whole.data] == ["Received", "Closed"]
    assert set(whole.data[0].marker.symbol) == {"circle"}


def test_daily_trend_has_no_partial_marks():
    fig = received_closed_figure({"grain": "day", "periods": [SAT], "days": [1], "received": [3], "closed": [1]})
    assert len(fig.data) == 2 and list(fig.data[0].marker.symbol) == ["circle"]


def test_operations_flow_marks_only_the_partial_weeks():
    flow = {**_series([2, 7, 7]), "periods": [p.isoformat() for p in _series([2, 7, 7])["periods"]]}
    fig = flow_figure(flow)
    assert fig.data[0].mode == "lines+markers" and list(fig.data[0].marker.size)[1:] == [0, 0]
    assert fig.data[-1].name == "Partial week"
    plain = flow_figure({**flow, "days": [7, 7, 7]})
    assert plain.data[0].mode == "lines" and len(plain.data) == 2


def test_days_and_weeks_without_claims_are_zeros_not_gaps():
    from services.aggregates import buckets, zero_filled

    f = Filters(dt.date(2026, 10, 30), dt.date(2026, 11, 3))
    periods, received, closed = zero_filled([(dt.date(2026, 10, 31), 4, 1), (dt.date(2026, 11, 3), 2, 0)], f, False)
    assert periods == [dt.date(2026, 10, 30) + dt.timedelta(days=i) for i in range(5)]
    assert received == [0, 4, 0, 0, 2] and closed == [0, 1, 0, 0, 0]
    weeks = buckets(Filters(SAT, dt.date(2025, 12, 15)), weekly=True)
    assert weeks == [MON, dt.date(2025, 12, 1), dt.date(2025, 12, 8), dt.date(2025, 12, 15)]
    assert all(w.weekday() == 0 for w in weeks)
